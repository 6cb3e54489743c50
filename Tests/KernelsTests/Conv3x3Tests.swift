import XCTest

@testable import Kernels

final class Conv3x3Tests: XCTestCase {
    func testMatchesPlainLoopsForEveryStemWidthAndOddAndEvenSizes() {
        // 16, 24, 32, 40, 48: the stems of alpha 0.35-0.5, 0.75, 1.0, 1.3, 1.4; 8 for the tail path alone.
        for n in [8, 16, 24, 32, 40, 48] {
            for (size, stride) in [(224, 2), (65, 2), (9, 2), (10, 1), (3, 2)] {
                let g = Window.keras(height: size, width: size, stride: stride)
                let x = DepthwiseTests.values(size * size * 3, seed: 3)
                let w = DepthwiseTests.values(27 * n, seed: 5)
                let b = DepthwiseTests.values(n, seed: 7)
                for clamp in [Clamp.relu6, .linear] {
                    var out = [Float](repeating: .nan, count: g.outHeight * g.outWidth * n)
                    out.withUnsafeMutableBufferPointer { o in
                        conv3x3Channels3(
                            x, weights: w, bias: b, o.baseAddress!, window: g, outChannels: n, clamp: clamp,
                            rows: 0..<g.outHeight)
                    }
                    let expected = conv3x3Reference(x, weights: w, bias: b, window: g, outChannels: n, clamp: clamp)
                    let worst = zip(out, expected).map { abs($0 - $1) }.max() ?? .nan
                    XCTAssertLessThan(worst, 1e-5, "\(n) channels, size \(size), stride \(stride), \(clamp)")
                }
            }
        }
    }

    func testRowsInPiecesEqualOnePassBitForBit() {
        let g = Window.keras(height: 37, width: 37, stride: 2)
        let n = 32
        let x = DepthwiseTests.values(37 * 37 * 3, seed: 11)
        let w = DepthwiseTests.values(27 * n, seed: 12)
        let b = DepthwiseTests.values(n, seed: 13)
        var whole = [Float](repeating: .nan, count: g.outHeight * g.outWidth * n)
        whole.withUnsafeMutableBufferPointer {
            conv3x3Channels3(
                x, weights: w, bias: b, $0.baseAddress!, window: g, outChannels: n, clamp: .relu6, rows: 0..<g.outHeight
            )
        }
        var pieces = [Float](repeating: .nan, count: whole.count)
        pieces.withUnsafeMutableBufferPointer { o in
            for r in stride(from: 0, to: g.outHeight, by: 5) {
                let rows = r..<min(g.outHeight, r + 5)
                conv3x3Channels3(
                    x, weights: w, bias: b, o.baseAddress! + r * g.outWidth * n, window: g, outChannels: n,
                    clamp: .relu6, rows: rows)
            }
        }
        XCTAssertEqual(pieces, whole)
    }
}
