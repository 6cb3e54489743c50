import XCTest

@testable import Imaging

final class JPEGStructureTests: XCTestCase {
    private func reaches(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBufferPointer { JPEGStructure.reachesEOI($0) } }

    func testCompleteFileReachesEOIAndCutFilesDoNot() throws {
        let jpeg = try Fixtures.bytes("rgb_192x128.jpg")
        XCTAssertTrue(reaches(jpeg))
        XCTAssertTrue(reaches(jpeg + [0, 0, 0x12, 0xFF]), "bytes after EOI are allowed")
        for cut in [3, 20, 100, jpeg.count / 2, jpeg.count - 1] {
            XCTAssertFalse(reaches(Array(jpeg.prefix(cut))), "cut at \(cut) of \(jpeg.count)")
        }
    }

    func testProgressiveFileWithManyScansReachesEOI() throws {
        XCTAssertTrue(reaches(try Fixtures.bytes("progressive_96x72.jpg")))
    }
}
