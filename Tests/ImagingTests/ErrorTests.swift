import Foundation
import XCTest

@testable import Imaging

final class ErrorTests: XCTestCase {
    func testEveryBadFileGivesItsReasonCodeAndNamesTheFile() {
        let decoder = ImageDecoder()
        let codes = Set(Fixtures.index.errors.map(\.code))
        XCTAssertEqual(codes, ["empty", "not_image", "truncated", "corrupt", "unsupported"])
        for c in Fixtures.index.errors {
            let path = Fixtures.path(c.file)
            for minSide in [nil, 224] {
                XCTAssertThrowsError(try decoder.decodeFile(at: path, minSide: minSide), c.file) { error in
                    guard let error = error as? ImagingError else { return XCTFail("\(c.file): \(error)") }
                    XCTAssertEqual(error.code, c.code, "\(c.file): \(error)")
                    XCTAssertTrue(
                        error.description.contains(path), "\(c.file): message does not name the file: \(error)")
                    XCTAssertFalse(error.description.contains("\n"), "\(c.file): message is not one line: \(error)")
                }
            }
        }
    }

    func testMissingFileAndDirectoryAreUnreadable() throws {
        let missing = Fixtures.path("no-such-file.jpg")
        XCTAssertThrowsError(try decodeImage(at: missing)) { error in
            XCTAssertEqual((error as? ImagingError)?.code, "unreadable")
            XCTAssertEqual("\(error)", "cannot read \(missing): No such file or directory")
        }
        XCTAssertThrowsError(try decodeImage(at: Fixtures.images.path)) { error in
            XCTAssertEqual((error as? ImagingError)?.code, "unreadable")
            XCTAssertTrue("\(error)".contains("is a directory"), "\(error)")
        }
    }

    func testFormatComesFromTheBytesNotTheName() {
        let decoder = ImageDecoder()
        let gif = Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0]
        XCTAssertThrowsError(try decoder.decode(gif, path: "x.png")) { error in
            XCTAssertEqual(error as? ImagingError, .notImage(path: "x.png", firstBytes: Array(gif.prefix(8))))
            XCTAssertEqual("\(error)", "cannot decode x.png: not a JPEG or PNG file: starts with 0x47 0x49 0x46 0x38")
        }
        // SOI alone, or a PNG signature cut short, is not enough to be called an image format.
        XCTAssertEqual((try? decoder.decode([0xFF, 0xD8], path: "a")).map { _ in "ok" }, nil)
        XCTAssertThrowsError(try decoder.decode([0x89, 0x50, 0x4E, 0x47], path: "a")) { error in
            XCTAssertEqual((error as? ImagingError)?.code, "not_image")
        }
    }

    func testReasonCodesAreStable() {
        let p = "f"
        let all: [ImagingError] = [
            .empty(path: p), .unreadable(path: p, reason: ""), .notImage(path: p, firstBytes: []),
            .truncated(path: p, reason: ""), .corrupt(path: p, reason: ""), .unsupported(path: p, reason: ""),
        ]
        XCTAssertEqual(all.map(\.code), ["empty", "unreadable", "not_image", "truncated", "corrupt", "unsupported"])
    }

    func testHugeHeadersAreRefusedBeforeAllocating() throws {
        let path = Fixtures.path("huge_65000x65000.jpg")
        XCTAssertThrowsError(try decodeImage(at: path, minSide: 224)) { error in
            XCTAssertEqual((error as? ImagingError)?.code, "unsupported")
            XCTAssertTrue("\(error)".contains("65000x65000"), "\(error)")
        }
    }
}
