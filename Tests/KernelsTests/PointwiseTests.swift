import XCTest

@testable import Kernels

/// GEMM-backed 1x1 convolution (bias, residual, clamp fused) against a naive Double loop.
final class PointwiseTests: XCTestCase {
    func check(
        pixels: Int, k: Int, n: Int, clamp: Clamp, residual: Bool, file: StaticString = #filePath, line: UInt = #line
    ) {
        let input = DepthwiseTests.values(pixels * k, seed: 3)
        let weights = DepthwiseTests.values(k * n, seed: 5)
        let bias = DepthwiseTests.values(n, seed: 9)
        let res = DepthwiseTests.values(pixels * n, seed: 13)
        let expected = pointwiseReference(
            input, weights: weights, bias: bias, pixels: pixels, inChannels: k, outChannels: n,
            clamp: clamp, residual: residual ? res : nil)
        let x = AlignedBuffer(input)
        let w = AlignedBuffer(weights)
        let b = AlignedBuffer(bias)
        let r = AlignedBuffer(res)
        let y = AlignedBuffer(count: pixels * n)
        pointwise(
            x.pointer, weights: w.pointer, bias: b.pointer, y.pointer, pixels: pixels, inChannels: k, outChannels: n,
            clamp: clamp, residual: residual ? UnsafePointer(r.pointer) : nil)
        let params = "pixels \(pixels), k \(k), n \(n), clamp \(clamp.lo)...\(clamp.hi), residual \(residual)"
        for i in 0..<expected.count where !(abs(y.pointer[i] - expected[i]) <= 1e-4 + 1e-5 * abs(expected[i])) {
            return XCTFail(
                "\(params): output (\(i / n), \(i % n)) is \(y.pointer[i]), expected \(expected[i])", file: file,
                line: line)
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
            x.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer {
                    globalAveragePool(p.baseAddress!, pixels: 10, channels: c, into: $0.baseAddress!)
                }
            }
            for ch in 0..<c {
                let mean = (0..<10).reduce(0.0) { $0 + Double(x[$1 * c + ch]) } / 10
                XCTAssertEqual(Double(out[ch]), mean, accuracy: 1e-6, "channels \(c), channel \(ch)")
            }
        }
    }
}
