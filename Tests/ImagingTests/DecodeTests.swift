import XCTest
@testable import Imaging

final class DecodeTests: XCTestCase {
    func testEveryFixtureDecodesToPillowsPixels() throws {
        let decoder = ImageDecoder()
        for c in Fixtures.index.decode {
            let decoded = try decoder.decodeFile(at: Fixtures.path(c.file))
            XCTAssertEqual(decoded.image.width, c.width, c.file)
            XCTAssertEqual(decoded.image.height, c.height, c.file)
            XCTAssertEqual(decoded.originalWidth, c.width, c.file)
            XCTAssertEqual(decoded.originalHeight, c.height, c.file)
            if let golden = c.golden {
                let expected = try Fixtures.bytes(golden)
                let diff = maxAbsDiff(decoded.image.pixels, expected)
                XCTAssertEqual(decoded.image.pixels.count, expected.count, c.file)
                XCTAssertEqual(diff, 0, "\(c.file): max abs diff \(diff) vs Pillow")
            }
        }
    }
}
