import Kernels
import XCTest

final class Conv3x3Tests: XCTestCase {
    /// Plain loops in Double over zero-padded taps: the oracle.
    static func reference(_ x: [Float], _ w: [Float], _ b: [Float], _ g: Window, _ n: Int, _ clamp: Clamp) -> [Float] {
        var out: [Float] = []
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                for co in 0..<n {
                    var a = Double(b[co])
                    for ky in 0..<3 {
                        for kx in 0..<3 {
                            let iy = oy * g.stride - g.padTop + ky, ix = ox * g.stride - g.padLeft + kx
                            guard iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth else { continue }
                            for ci in 0..<3 { a += Double(x[(iy * g.inWidth + ix) * 3 + ci]) * Double(w[((ky * 3 + kx) * 3 + ci) * n + co]) }
                        }
                    }
                    out.append(min(max(Float(a), clamp.lo), clamp.hi))
                }
            }
        }
        return out
    }

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
                        conv3x3Channels3(x, weights: w, bias: b, o.baseAddress!, window: g, outChannels: n, clamp: clamp, rows: 0..<g.outHeight)
                    }
                    let expected = Self.reference(x, w, b, g, n, clamp)
                    let worst = zip(out, expected).map { abs($0 - $1) }.max() ?? .nan
                    XCTAssertLessThan(worst, 1e-5, "\(n) channels, size \(size), stride \(stride), \(clamp)")
                }
            }
        }
    }

    func testRowsInPiecesEqualOnePassBitForBit() {
        let g = Window.keras(height: 37, width: 37, stride: 2)
        let n = 32
        let x = DepthwiseTests.values(37 * 37 * 3, seed: 11), w = DepthwiseTests.values(27 * n, seed: 12), b = DepthwiseTests.values(n, seed: 13)
        var whole = [Float](repeating: .nan, count: g.outHeight * g.outWidth * n)
        whole.withUnsafeMutableBufferPointer { conv3x3Channels3(x, weights: w, bias: b, $0.baseAddress!, window: g, outChannels: n, clamp: .relu6, rows: 0..<g.outHeight) }
        var pieces = [Float](repeating: .nan, count: whole.count)
        pieces.withUnsafeMutableBufferPointer { o in
            for r in stride(from: 0, to: g.outHeight, by: 5) {
                let rows = r..<min(g.outHeight, r + 5)
                conv3x3Channels3(x, weights: w, bias: b, o.baseAddress! + r * g.outWidth * n, window: g, outChannels: n, clamp: .relu6, rows: rows)
            }
        }
        XCTAssertEqual(pieces, whole)
    }
}
