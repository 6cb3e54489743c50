import XCTest

@testable import Imaging

final class OrientationTests: XCTestCase {
    /// A JPEG header holding one APP1 Exif segment with `tiff` as its TIFF block.
    private func jpeg(tiff: [UInt8]) -> [UInt8] {
        let body = Array("Exif".utf8) + [0, 0] + tiff
        let length = body.count + 2
        return [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + body + [0xFF, 0xD9]
    }

    private func tiff(orientation: UInt16, bigEndian: Bool, type: UInt16 = 3) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] {
            bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)]
        }
        func u32(_ v: UInt32) -> [UInt8] {
            bigEndian ? u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) : u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16))
        }
        let header: [UInt8] = bigEndian ? [0x4D, 0x4D, 0, 42] : [0x49, 0x49, 42, 0]
        return header + u32(8) + u16(2) + u16(0x010F) + u16(2) + u32(4) + u32(0)  // Make, ignored
            + u16(0x0112) + u16(type) + u32(1) + u16(orientation) + u16(0) + u32(0)
    }

    private func orientation(_ bytes: [UInt8]) -> Orientation {
        bytes.withUnsafeBufferPointer { Orientation.fromJPEG($0) }
    }

    func testOrientationIsReadInBothByteOrders() {
        for value in 1...8 {
            for be in [false, true] {
                XCTAssertEqual(
                    orientation(jpeg(tiff: tiff(orientation: UInt16(value), bigEndian: be))).rawValue, value,
                    "value \(value) big-endian \(be)")
            }
        }
    }

    func testMalformedOrMissingExifMeansUpright() {
        XCTAssertEqual(orientation(jpeg(tiff: tiff(orientation: 9, bigEndian: false))), .up)
        XCTAssertEqual(orientation(jpeg(tiff: tiff(orientation: 6, bigEndian: true, type: 4))), .up)
        XCTAssertEqual(orientation(jpeg(tiff: Array(tiff(orientation: 6, bigEndian: false).prefix(15)))), .up)
        XCTAssertEqual(orientation(jpeg(tiff: [0x49, 0x49, 42, 0, 0xFF, 0xFF, 0xFF, 0x7F])), .up)
        XCTAssertEqual(orientation([0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 0x45]), .up)
        XCTAssertEqual(orientation([0xFF, 0xD8]), .up)
    }

    func testTransformsMatchTheirDefinitions() {
        // 3x2 image whose pixel (x, y) holds (x, y, 0).
        let image = RGBImage(
            width: 3, height: 2, pixels: (0..<2).flatMap { y in (0..<3).flatMap { x in [UInt8(x), UInt8(y), 0] } })
        func at(_ i: RGBImage, _ x: Int, _ y: Int) -> [UInt8] {
            Array(i.pixels[(y * i.width + x) * 3..<(y * i.width + x) * 3 + 2])
        }
        let right = Orientation.right.apply(to: image)  // rotate 90 degrees clockwise
        XCTAssertEqual([right.width, right.height], [2, 3])
        XCTAssertEqual(at(right, 0, 0), [0, 1])  // bottom-left comes to the top-left
        XCTAssertEqual(at(right, 1, 0), [0, 0])
        let left = Orientation.left.apply(to: image)  // rotate 90 degrees counter-clockwise
        XCTAssertEqual(at(left, 0, 0), [2, 0])  // top-right comes to the top-left
        XCTAssertEqual(at(Orientation.down.apply(to: image), 0, 0), [2, 1])
        XCTAssertEqual(at(Orientation.mirrored.apply(to: image), 0, 1), [2, 1])
        XCTAssertEqual(at(Orientation.downMirrored.apply(to: image), 2, 0), [2, 1])
        XCTAssertEqual(at(Orientation.leftMirrored.apply(to: image), 1, 2), [2, 1])  // transpose
        XCTAssertEqual(at(Orientation.rightMirrored.apply(to: image), 0, 0), [2, 1])  // transverse
        XCTAssertEqual(Orientation.up.apply(to: image), image)
    }
}
