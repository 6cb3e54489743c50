import XCTest

@testable import Kernels

/// The SIMD depthwise kernel against `depthwiseReference` with channel counts that exercise the
/// 8-wide main loop and every tail (1, 7, 8, 9, 42), strides 1 and 2, odd and even sizes.
final class DepthwiseTests: XCTestCase {
    /// Deterministic values in [-1, 1) from an integer hash, so failures reproduce.
    static func values(_ count: Int, seed: UInt32) -> [Float] {
        (0..<count).map { i in
            var h = UInt32(truncatingIfNeeded: i) &* 2_654_435_761 &+ seed &* 40503
            h ^= h >> 15
            h = h &* 2_246_822_519
            h ^= h >> 13
            return Float(h % 2048) / 1024 - 1
        }
    }

    func check(
        channels c: Int, height: Int, width: Int, stride: Int, clamp: Clamp = .relu6,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let window =
            stride == 1
            ? Window.keras(height: height, width: width, stride: 1)
            : Window.keras(height: height, width: width, stride: 2)
        let input = Self.values(height * width * c, seed: UInt32(c * 31 + height))
        let kernel = Self.values(9 * c, seed: 7).map { $0 * 2 }
        let bias = Self.values(c, seed: 11)
        let expected = depthwiseReference(input, kernel: kernel, bias: bias, window: window, channels: c, clamp: clamp)
        let packed = packDepthwise3x3(kernel: kernel, bias: bias, channels: c)
        let x = AlignedBuffer(input)
        let y = AlignedBuffer(count: window.outHeight * window.outWidth * c + 8)
        // A canary after the output: the kernel must not write past outHeight * outWidth * c.
        for i in 0..<8 { y.pointer[window.outHeight * window.outWidth * c + i] = 12345 }
        if stride == 1 {
            depthwise3x3Stride1(x.pointer, packed: packed.pointer, y.pointer, window: window, channels: c, clamp: clamp)
        } else {
            depthwise3x3Stride2(x.pointer, packed: packed.pointer, y.pointer, window: window, channels: c, clamp: clamp)
        }
        let params = "channels \(c), \(height)x\(width), stride \(stride), clamp \(clamp.lo)...\(clamp.hi), \(window)"
        for i in 0..<expected.count where !(abs(y.pointer[i] - expected[i]) <= 1e-5 + 1e-5 * abs(expected[i])) {
            let pixel = i / c
            return XCTFail(
                "\(params): output (\(pixel / window.outWidth), \(pixel % window.outWidth), ch \(i % c)) is \(y.pointer[i]), expected \(expected[i])",
                file: file, line: line)
        }
        for i in 0..<8 {
            XCTAssertEqual(
                y.pointer[window.outHeight * window.outWidth * c + i], 12345, "\(params): wrote past the output",
                file: file, line: line)
        }
    }

    func testDepthwiseStride1With1ChannelMatchesReference() {
        for s in [1, 2, 3, 7, 8] { check(channels: 1, height: s, width: s + 1, stride: 1) }
    }
    func testDepthwiseStride1With7ChannelsMatchesReference() { check(channels: 7, height: 9, width: 9, stride: 1) }
    func testDepthwiseStride1With8ChannelsMatchesReference() { check(channels: 8, height: 12, width: 13, stride: 1) }
    func testDepthwiseStride1With9ChannelsMatchesReference() { check(channels: 9, height: 10, width: 7, stride: 1) }
    func testDepthwiseStride1With42ChannelsMatchesReference() { check(channels: 42, height: 14, width: 14, stride: 1) }
    func testDepthwiseStride2With1ChannelMatchesReference() {
        for s in [1, 2, 3, 4, 9] { check(channels: 1, height: s, width: s, stride: 2) }
    }
    func testDepthwiseStride2With7ChannelsMatchesReference() { check(channels: 7, height: 11, width: 11, stride: 2) }
    func testDepthwiseStride2With8ChannelsMatchesReference() { check(channels: 8, height: 16, width: 17, stride: 2) }
    func testDepthwiseStride2With9ChannelsMatchesReference() { check(channels: 9, height: 13, width: 12, stride: 2) }
    func testDepthwiseStride2With42ChannelsMatchesReference() { check(channels: 42, height: 15, width: 15, stride: 2) }
    /// MobileNetV2's expanded widths take specialised copies of the kernel (channel count as a constant).
    func testDepthwiseAtMobileNetChannelCountsMatchesReference() {
        for (c, stride) in [
            (32, 1), (96, 2), (144, 1), (144, 2), (192, 1), (192, 2), (384, 1), (576, 1), (576, 2), (960, 1),
        ] {
            check(channels: c, height: 7, width: 9, stride: stride)
        }
    }
    func testDepthwiseLinearClampKeepsNegativesAndLargeValues() {
        check(channels: 24, height: 9, width: 10, stride: 1, clamp: .linear)
        check(channels: 24, height: 9, width: 10, stride: 2, clamp: .linear)
    }

    func testDepthwiseInRowStripsIsBitIdenticalToTheWholeMap() {
        for (s, size, c) in [(1, 13, 24), (2, 14, 16), (2, 15, 9), (1, 11, 96), (2, 12, 144)] {
            let g = Window.keras(height: size, width: size, stride: s)
            let x = AlignedBuffer(Self.values(size * size * c, seed: 5))
            let packed = packDepthwise3x3(
                kernel: Self.values(9 * c, seed: 6), bias: Self.values(c, seed: 8), channels: c)
            let whole = AlignedBuffer(count: g.outHeight * g.outWidth * c)
            let strips = AlignedBuffer(count: g.outHeight * g.outWidth * c)
            func run(_ out: AlignedBuffer, _ rows: Range<Int>?) {
                if s == 1 {
                    depthwise3x3Stride1(
                        x.pointer, packed: packed.pointer, out.pointer, window: g, channels: c, clamp: .relu6,
                        rows: rows)
                } else {
                    depthwise3x3Stride2(
                        x.pointer, packed: packed.pointer, out.pointer, window: g, channels: c, clamp: .relu6,
                        rows: rows)
                }
            }
            run(whole, nil)
            for start in stride(from: 0, to: g.outHeight, by: 3) { run(strips, start..<min(g.outHeight, start + 3)) }
            XCTAssertEqual(strips.array, whole.array, "stride \(s), \(size)x\(size), \(c) channels, strips of 3 rows")
        }
    }

    func testKerasStride2GeometryPadsOnlyBottomRightOnEvenSizesAndBothSidesOnOdd() {
        XCTAssertEqual(
            Window.keras(height: 224, width: 224, stride: 2),
            Window(inHeight: 224, inWidth: 224, stride: 2, padTop: 0, padLeft: 0, outHeight: 112, outWidth: 112))
        XCTAssertEqual(
            Window.keras(height: 7, width: 65, stride: 2),
            Window(inHeight: 7, inWidth: 65, stride: 2, padTop: 1, padLeft: 1, outHeight: 4, outWidth: 33))
    }
}
