import XCTest

@testable import MobileNet

/// Swift embeddings against Keras's own (fixtures/make_fixtures.py) for every weights layout and both sizes.
final class GoldenTests: XCTestCase {
    static let layouts = [
        "tiny_a035_keras2.h5", "tiny_a035_keras3.h5", "tiny_a035_whole_model.h5", "tiny_a035_native.weights.h5",
    ]

    func check(layout: String, size: Int) throws {
        let net = try MobileNetV2(weightsAt: fixtures.appendingPathComponent("weights/\(layout)").path, inputSize: size)
        XCTAssertEqual(net.alpha, 0.35)
        XCTAssertEqual(net.dim, 1280)
        let inputs = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_\(size)_inputs.f32"))
        let expected = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_\(size)_embeddings.f32"))
        let count = inputs.count / (size * size * 3)
        XCTAssertEqual(expected.count, count * 1280)
        var out = [Float](repeating: .nan, count: count * net.dim)
        inputs.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: count, into: $0.baseAddress!) }
        }
        assertClose(out, expected, rtol: 1e-4, atol: 1e-5, "\(layout) at \(size)x\(size), \(count) images")
        print("golden \(layout) \(size)x\(size): max abs diff \(maxAbsDiff(out[...], expected[...]))")
    }

    func testKerasApplicationsLayoutMatchesKerasAt96() throws { try check(layout: Self.layouts[0], size: 96) }
    func testKeras3LayoutMatchesKerasAt96() throws { try check(layout: Self.layouts[1], size: 96) }
    func testNestedWholeModelMatchesKerasAt96() throws { try check(layout: Self.layouts[2], size: 96) }
    func testKeras3NativeWeightsFileMatchesKerasAt96() throws { try check(layout: Self.layouts[3], size: 96) }
    func testKeras3NativeWeightsFileMatchesKerasAtOddSize65() throws { try check(layout: Self.layouts[3], size: 65) }
    func testKerasApplicationsLayoutMatchesKerasAtOddSize65() throws { try check(layout: Self.layouts[0], size: 65) }
    func testKeras3LayoutMatchesKerasAtOddSize65() throws { try check(layout: Self.layouts[1], size: 65) }
    func testNestedWholeModelMatchesKerasAtOddSize65() throws { try check(layout: Self.layouts[2], size: 65) }

    /// One or a few output rows per strip: every block then carries rows from strip to strip in its
    /// expanded buffer, which the default strips do only at 224 and above.
    func testNarrowStripsStillMatchKeras() throws {
        let path = fixtures.appendingPathComponent("weights/tiny_a035_keras3.h5").path
        for size in [96, 65] {
            let inputs = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_\(size)_inputs.f32"))
            let expected = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_\(size)_embeddings.f32"))
            let count = inputs.count / (size * size * 3)
            for stripFloats in [1, 2000] {
                let net = MobileNetV2(weights: try KerasWeights(path: path), inputSize: size, stripFloats: stripFloats)
                var out = [Float](repeating: .nan, count: count * net.dim)
                inputs.withUnsafeBufferPointer { x in
                    out.withUnsafeMutableBufferPointer {
                        net.embed(x.baseAddress!, count: count, into: $0.baseAddress!)
                    }
                }
                assertClose(out, expected, rtol: 1e-4, atol: 1e-5, "strips of \(stripFloats) floats at \(size)x\(size)")
            }
        }
    }

    func testEmbeddingOfOneImageMatchesEmbed() throws {
        let net = try MobileNetV2(
            weightsAt: fixtures.appendingPathComponent("weights/tiny_a035_keras3.h5").path, inputSize: 96)
        let image = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_96_inputs.f32"))
        let expected = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_96_embeddings.f32"))
        assertClose(net.embedding(image), expected, "embedding(_:) at 96")
    }
}

/// Keras's positional order (layer_names, then weight_names) alone, names ignored: how files whose
/// layer names predate today's Keras are read. Forced here on files that do have the names.
final class PositionalMatchingTests: XCTestCase {
    func check(_ layout: String) throws {
        let path = fixtures.appendingPathComponent("weights/\(layout)").path
        let net = MobileNetV2(weights: try KerasWeights(path: path, matching: .positions), inputSize: 96)
        let image = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_96_inputs.f32"))
        let expected = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_96_embeddings.f32"))
        assertClose(net.embedding(image), expected, "\(layout) matched by position")
    }

    func testKerasApplicationsLayoutByPositionMatchesKeras() throws { try check("tiny_a035_keras2.h5") }
    func testKeras3LayoutByPositionMatchesKeras() throws { try check("tiny_a035_keras3.h5") }

    /// A nested sub-model lists its weights trainable-first: by position the moving statistics land
    /// on the wrong arrays, which the shape check must catch rather than load garbage.
    func testNestedModelByPositionIsRejectedByTheShapeCheck() throws {
        let path = fixtures.appendingPathComponent("weights/tiny_a035_whole_model.h5").path
        XCTAssertThrowsError(try KerasWeights(path: path, matching: .positions)) { error in
            guard case WeightsError.shape = error else { return XCTFail("\(error) is not a shape error") }
        }
    }
}
