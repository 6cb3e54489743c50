import XCTest

@testable import MobileNet

/// The strip-tiled, BLAS-backed forward pass against the whole-map plain-loop `forwardReference`,
/// and the reference itself against Keras's goldens: three ways to the same embedding.
final class ReferenceForwardTests: XCTestCase {
    func testStripTiledForwardMatchesTheWholeMapReference() throws {
        let path = fixtures.appendingPathComponent("weights/tiny_a035_keras3.h5").path
        for size in [96, 65] {
            let inputs = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_\(size)_inputs.f32"))
            let keras = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_\(size)_embeddings.f32"))
            let weights = try KerasWeights(path: path)
            let n = size * size * 3
            for stripFloats in [MobileNetV2.stripFloats, 2000] {
                let net = MobileNetV2(weights: weights, inputSize: size, stripFloats: stripFloats)
                for i in 0..<(inputs.count / n) {
                    let image = Array(inputs[(i * n)..<((i + 1) * n)])
                    let reference = MobileNetV2.forwardReference(image, weights: weights, inputSize: size)
                    XCTAssertEqual(
                        reference.maps.count,
                        ((size + 31) / 32) * ((size + 31) / 32) * net.architecture.blocks.last!.outChannels)
                    assertClose(
                        net.embedding(image), reference.embedding, rtol: 1e-4, atol: 1e-5,
                        "image \(i) at \(size)x\(size), strips of \(stripFloats) floats vs the reference")
                    assertClose(
                        reference.embedding, Array(keras[(i * 1280)..<((i + 1) * 1280)]), rtol: 1e-4, atol: 1e-5,
                        "reference vs Keras, image \(i) at \(size)x\(size)")
                }
            }
        }
    }
}
