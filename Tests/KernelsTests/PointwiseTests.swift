import Kernels
import XCTest

/// GEMM-backed 1x1 convolution (bias, residual, clamp fused) against a naive Double loop.
final class PointwiseTests: XCTestCase {
    func check(pixels: Int, k: Int, n: Int, clamp: Clamp, residual: Bool, file: StaticString = #filePath, line: UInt = #line) {
        let input = DepthwiseTests.values(pixels * k, seed: 3), weights = DepthwiseTests.values(k * n, seed: 5)
        let bias = DepthwiseTests.values(n, seed: 9), res = DepthwiseTests.values(pixels * n, seed: 13)
        let expected = pointwiseReference(input, weights: weights, bias: bias, pixels: pixels, inChannels: k, outChannels: n,
                                          clamp: clamp, residual: residual ? res : nil)
        let x = AlignedBuffer(input), w = AlignedBuffer(weights), b = AlignedBuffer(bias), r = AlignedBuffer(res)
        let y = AlignedBuffer(count: pixels * n)
        pointwise(x.pointer, weights: w.pointer, bias: b.pointer, y.pointer, pixels: pixels, inChannels: k, outChannels: n,
                  clamp: clamp, residual: residual ? UnsafePointer(r.pointer) : nil)
        let params = "pixels \(pixels), k \(k), n \(n), clamp \(clamp.lo)...\(clamp.hi), residual \(residual)"
        for i in 0..<expected.count where !(abs(y.pointer[i] - expected[i]) <= 1e-4 + 1e-5 * abs(expected[i])) {
            return XCTFail("\(params): output (\(i / n), \(i % n)) is \(y.pointer[i]), expected \(expected[i])", file: file, line: line)
        }
    }

    func testPointwiseWithChannelTailsMatchesReference() {
        for (k, n) in [(1, 1), (7, 9), (8, 8), (9, 42), (42, 7), (24, 144)] {
            check(pixels: 13, k: k, n: n, clamp: .relu6, residual: false)
            check(pixels: 13, k: k, n: n, clamp: .linear, residual: true)
        }
    }

    func testGlobalAveragePoolIsTheMeanPerChannel() {
        for c in [1, 7, 8, 9, 42] {
            let x = DepthwiseTests.values(10 * c, seed: 21)
            var out = [Float](repeating: 0, count: c)
            x.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { globalAveragePool(p.baseAddress!, pixels: 10, channels: c, into: $0.baseAddress!) } }
            for ch in 0..<c {
                let mean = (0..<10).reduce(0.0) { $0 + Double(x[$1 * c + ch]) } / 10
                XCTAssertEqual(Double(out[ch]), mean, accuracy: 1e-6, "channels \(c), channel \(ch)")
            }
        }
    }

    func testIm2colWith3ChannelsMatchesNaivePatchesOnOddAndEvenSizes() {
        for (size, stride) in [(7, 2), (8, 2), (9, 1), (32, 2)] {
            let g = Window.keras(height: size, width: size, stride: stride)
            let x = DepthwiseTests.values(size * size * 3, seed: 17)
            var expected: [Float] = []
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    for ky in 0..<3 {
                        for kx in 0..<3 {
                            let iy = oy * stride - g.padTop + ky, ix = ox * stride - g.padLeft + kx
                            let inside = iy >= 0 && iy < size && ix >= 0 && ix < size
                            for ch in 0..<3 { expected.append(inside ? x[(iy * size + ix) * 3 + ch] : 0) }
                        }
                    }
                }
            }
            var cols = [Float](repeating: .nan, count: expected.count)
            x.withUnsafeBufferPointer { p in cols.withUnsafeMutableBufferPointer { im2col3x3(p.baseAddress!, window: g, channels: 3, into: $0.baseAddress!) } }
            XCTAssertEqual(cols, expected, "size \(size), stride \(stride), \(g)")
        }
    }

    func testIm2colZeroPadsAndOrdersTapsLikeAKerasKernel() {
        let g = Window.keras(height: 3, width: 3, stride: 2)  // odd: pads (1, 1); out 2x2
        let x = (0..<(9 * 2)).map(Float.init)               // (3, 3, 2)
        var cols = [Float](repeating: -1, count: 4 * 18)
        x.withUnsafeBufferPointer { p in cols.withUnsafeMutableBufferPointer { im2col3x3(p.baseAddress!, window: g, channels: 2, into: $0.baseAddress!) } }
        // Output (0, 0) centres on input (0, 0): taps (ky, kx) = (1, 1) is pixel 0, (2, 2) is pixel 4.
        XCTAssertEqual(Array(cols[0..<18]), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 6, 7, 8, 9])
    }
}
