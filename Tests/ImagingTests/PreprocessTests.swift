import Foundation
import XCTest

@testable import Imaging

final class PreprocessTests: XCTestCase {
    func testPreprocessIsResizeThenXOver127Point5MinusOne() throws {
        let s = Fixtures.index.resize_source
        let source = RGBImage(width: s.width, height: s.height, pixels: try Fixtures.bytes(s.file))
        let golden = try Fixtures.bytes(Fixtures.index.resize.first { $0.width == 112 && $0.height == 112 }!.golden)
        var out = [Float](repeating: .nan, count: 112 * 112 * 3)
        out.withUnsafeMutableBufferPointer { preprocess(source, size: 112, into: $0.baseAddress!) }
        for i in 0..<out.count {
            let expected = Float(golden[i]) / Float(127.5) - Float(1)
            guard out[i] == expected else { return XCTFail("element \(i): \(out[i]) != \(expected)") }
        }
        XCTAssertEqual(unitScale[0], -1)
        XCTAssertEqual(unitScale[255], 1)
    }

    /// The unflipped path scales 16 bytes per vector; every byte value must give the table's float
    /// bit for bit, including the scalar tail (3 * 11 * 11 = 363 bytes is not a multiple of 16).
    func testVectorScalingGivesTheTableValueForEveryByte() {
        let pixels = (0..<(11 * 11 * 3)).map { UInt8(($0 * 7) % 256) }
        var out = [Float](repeating: .nan, count: pixels.count)
        out.withUnsafeMutableBufferPointer {
            preprocess(RGBImage(width: 11, height: 11, pixels: pixels), size: 11, into: $0.baseAddress!)
        }
        XCTAssertEqual(Set(pixels).count, 256)
        for (i, p) in pixels.enumerated() {
            XCTAssertEqual(out[i].bitPattern, unitScale[Int(p)].bitPattern, "byte \(p) at \(i)")
        }
    }

    func testFlipMirrorsEachRowOfTheResizedImage() throws {
        let source = RGBImage(width: 5, height: 3, pixels: (0..<45).map { UInt8($0 * 5) })
        var plain = [Float](repeating: 0, count: 4 * 4 * 3)
        var flipped = plain
        plain.withUnsafeMutableBufferPointer { preprocess(source, size: 4, into: $0.baseAddress!) }
        flipped.withUnsafeMutableBufferPointer { preprocess(source, size: 4, flip: true, into: $0.baseAddress!) }
        for y in 0..<4 {
            for x in 0..<4 {
                for c in 0..<3 {
                    XCTAssertEqual(flipped[(y * 4 + x) * 3 + c], plain[(y * 4 + 3 - x) * 3 + c], "y \(y) x \(x) c \(c)")
                }
            }
        }
        XCTAssertNotEqual(plain, flipped)
    }

    /// Keras's own float32 values: reference/inputs_16.f32 holds `x / 127.5 - 1` of uint8 pixels (from
    /// OpenCV's resize, so only the scaling is comparable); every value must be one of our table's.
    func testScalingTableHoldsKerasFloat32Values() throws {
        let url = Fixtures.shared.appendingPathComponent("reference/inputs_16.f32")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw XCTSkip("../shared not found: \(url.path) is missing")
        }
        let data = try Data(contentsOf: url)
        let values = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self).prefix(224 * 224 * 3 * 2)) }
        var seen = Set<Int>()
        for v in values {
            let byte = Int(((v + 1) * 127.5).rounded())
            XCTAssertEqual(unitScale[byte], v, "Keras value \(v) for byte \(byte)")
            seen.insert(byte)
        }
        XCTAssertGreaterThan(seen.count, 200)
    }
}

final class PreprocessingIdentifierTests: XCTestCase {
    func testIdentifierIsStableAndDCTScalingGetsItsOwnKey() {
        XCTAssertEqual(Preprocessing.identifier, "pillow-bilinear;x/127.5-1")
        XCTAssertEqual(Preprocessing.identifier(minSide: nil), Preprocessing.identifier)
        XCTAssertEqual(Preprocessing.identifier(minSide: 224), "pillow-bilinear;x/127.5-1;dct-scale-min224")
    }
}
