import XCTest
@testable import Imaging

final class ErrorTests: XCTestCase {
    func testEveryBadFileGivesItsReasonCodeAndNamesTheFile() {
        let decoder = ImageDecoder()
        for c in Fixtures.index.errors {
            let path = Fixtures.path(c.file)
            XCTAssertThrowsError(try decoder.decodeFile(at: path, minSide: 224), c.file) { error in
                guard let error = error as? ImagingError else { return XCTFail("\(c.file): \(error)") }
                print(c.file, "->", error)
                XCTAssertEqual(error.code, c.code, "\(c.file): \(error)")
                XCTAssertTrue(error.description.contains(path), "\(c.file): message does not name the file: \(error)")
            }
        }
    }
}
