import XCTest

@testable import MobileNet

/// The extraction cache stores embeddings computed in whatever batch an image happened to be in:
/// they must not depend on it, bit for bit, nor on the thread count or the run.
final class BatchInvarianceTests: XCTestCase {
    func testEmbeddingIsBitIdenticalAloneInABatchOf32AndAcrossRuns() throws {
        let size = 65
        let net = try MobileNetV2(
            weightsAt: fixtures.appendingPathComponent("weights/tiny_a035_keras3.h5").path, inputSize: size)
        let pair = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_65_inputs.f32"))
        let n = size * size * 3
        let count = 32
        // 32 distinct images: the two golden inputs, then mixes of them.
        var batch = [Float](repeating: 0, count: count * n)
        for i in 0..<count {
            let t = Float(i) / Float(count)
            for j in 0..<n { batch[i * n + j] = (1 - t) * pair[j] + t * pair[n + j] }
        }
        func run(_ images: ArraySlice<Float>, threads: Int) -> [Float] {
            net.threads = threads
            let k = images.count / n
            var out = [Float](repeating: .nan, count: k * net.dim)
            Array(images).withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: k, into: $0.baseAddress!) }
            }
            return out
        }
        let batched = run(batch[...], threads: 2)
        XCTAssertEqual(run(batch[...], threads: 2), batched, "second run of the same batch differs")
        XCTAssertEqual(run(batch[...], threads: 1), batched, "one thread differs from two")
        XCTAssertEqual(
            run(batch[(5 * n)..<(12 * n)], threads: 3), Array(batched[(5 * net.dim)..<(12 * net.dim)]),
            "batch of 7 differs")
        for i in [0, 1, 17, 31] {
            let alone = run(batch[(i * n)..<((i + 1) * n)], threads: 2)
            XCTAssertEqual(
                alone, Array(batched[(i * net.dim)..<((i + 1) * net.dim)]),
                "image \(i) alone differs from its batch of 32")
        }
    }
}
