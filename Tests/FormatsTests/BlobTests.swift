import XCTest

@testable import Formats

final class BlobTests: XCTestCase {
    func testVectorBlobIsLittleEndianFloat32WithoutHeader() {
        // IEEE-754 float32 of 1, -2 and 0.1, least significant byte first, written out by hand.
        let bytes = VectorBlob.bytes([1, -2, 0.1])
        XCTAssertEqual(bytes, [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0xCD, 0xCC, 0xCC, 0x3D])
        XCTAssertEqual(bytes.withUnsafeBytes { VectorBlob.floats($0) }, [1, -2, 0.1])
        VectorBlob.withBytes([1, -2, 0.1]) { XCTAssertEqual(Array($0), bytes) }
    }

    func testVectorBlobDecodesAtAnyAlignment() {
        let values: [Float] = [3.5, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude, 42]
        for offset in 0..<4 {
            let padded = [UInt8](repeating: 0xAB, count: offset) + VectorBlob.bytes(values)
            let decoded = padded.withUnsafeBytes { VectorBlob.floats(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            XCTAssertEqual(decoded.map(\.bitPattern), values.map(\.bitPattern), "offset \(offset)")
            let viewed = padded.withUnsafeBytes { raw in
                let v = Vector(UnsafeRawBufferPointer(rebasing: raw[offset...]))
                return (0..<v.count).map { v[$0] }
            }
            XCTAssertEqual(viewed.map(\.bitPattern), values.map(\.bitPattern), "offset \(offset)")
        }
        XCTAssertTrue(VectorBlob.isWhole(byteCount: 5120))
        XCTAssertFalse(VectorBlob.isWhole(byteCount: 5121))
    }

    func testMapBlobIsLittleEndianFloat16RoundedToNearestEven() {
        // float16 bit patterns: 1 = 0x3C00, -2 = 0xC000, 0.1 rounds to 0x2E66, 65504 = 0x7BFF (the largest).
        let values: [Float] = [1, -2, 0.1, 65504]
        let bytes = values.withUnsafeBufferPointer { MapBlob.bytes($0.baseAddress!, count: 4) }
        XCTAssertEqual(bytes, [0x00, 0x3C, 0x00, 0xC0, 0x66, 0x2E, 0xFF, 0x7B])
        XCTAssertEqual(bytes.withUnsafeBytes { MapBlob.floats($0) }, [1, -2, 0.0999755859375, 65504])
        // 1 + 2^-11 lies halfway between 1 and the next float16 (1 + 2^-10): ties go to the even one, 1.
        let tie: [Float] = [1 + 0x1p-11, 1 + 3 * 0x1p-11]
        let rounded = tie.withUnsafeBufferPointer { MapBlob.bytes($0.baseAddress!, count: 2) }.withUnsafeBytes {
            MapBlob.floats($0)
        }
        XCTAssertEqual(rounded, [1, 1 + 2 * 0x1p-10])
        XCTAssertEqual(MapBlob.byteCount(MapShape(height: 7, width: 7, channels: 320)), 31_360)
    }

    func testMapBlobFitsOnlyFiniteFloat16Values() {
        for (values, fits) in [([1, -65504], true), ([65520], false), ([.infinity], false), ([.nan], false)]
            as [([Float], Bool)]
        {
            XCTAssertEqual(
                values.withUnsafeBufferPointer { MapBlob.fits($0.baseAddress!, count: $0.count) }, fits, "\(values)")
        }
    }
}
