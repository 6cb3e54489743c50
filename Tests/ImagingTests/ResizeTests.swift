import XCTest

@testable import Imaging

final class ResizeTests: XCTestCase {
    func testResizeMatchesPillowBilinearBitForBit() throws {
        let s = Fixtures.index.resize_source
        let source = RGBImage(width: s.width, height: s.height, pixels: try Fixtures.bytes(s.file))
        XCTAssertGreaterThan(Fixtures.index.resize.count, 10)
        for c in Fixtures.index.resize {
            let out = resizeBilinear(source, width: c.width, height: c.height)
            let expected = try Fixtures.bytes(c.golden)
            XCTAssertEqual(out.width, c.width)
            XCTAssertEqual(out.height, c.height)
            XCTAssertEqual(out.pixels.count, expected.count, "\(s.width)x\(s.height) -> \(c.width)x\(c.height)")
            let diff = maxAbsDiff(out.pixels, expected)
            let mismatches = zip(out.pixels, expected).filter { $0 != $1 }.count
            XCTAssertEqual(
                mismatches, 0,
                "\(s.width)x\(s.height) -> \(c.width)x\(c.height): \(mismatches) bytes differ from Pillow, max abs diff \(diff)"
            )
        }
    }

    func testOnePixelImageUpscalesToConstantLikePillow() {
        let t = Fixtures.index.resize_tiny
        let out = resizeBilinear(RGBImage(width: 1, height: 1, pixels: t.pixel), width: 3, height: 2)
        XCTAssertEqual(out.pixels, t.to_3x2)
    }

    func testSameSizeResizeReturnsTheImageUnchanged() {
        let image = RGBImage(width: 2, height: 2, pixels: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        XCTAssertEqual(resizeBilinear(image, width: 2, height: 2), image)
    }

    func testWeightsOfEachOutputSampleSumToOneInFixedPoint() {
        // Rounding each weight separately can miss 2^22 by a few units, never more than taps/2.
        for (inSize, outSize) in [(500, 224), (224, 224), (97, 224), (1, 7), (4000, 3)] {
            let w = ResampleWeights(inSize: inSize, outSize: outSize)
            for i in 0..<outSize {
                let sum = (0..<w.count[i]).reduce(0) { $0 + Int(w.weights[i * w.taps + $1]) }
                XCTAssertLessThanOrEqual(abs(sum - (1 << 22)), w.taps, "\(inSize)->\(outSize) sample \(i)")
                XCTAssertGreaterThanOrEqual(w.first[i], 0)
                XCTAssertLessThanOrEqual(w.first[i] + w.count[i], inSize)
            }
        }
    }
}
