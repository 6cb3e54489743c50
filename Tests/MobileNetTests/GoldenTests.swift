import MobileNet
import XCTest

/// Swift embeddings against Keras's own (fixtures/make_fixtures.py) for every weights layout and both sizes.
final class GoldenTests: XCTestCase {
    static let layouts = ["tiny_a035_keras2.h5", "tiny_a035_keras3.h5", "tiny_a035_whole_model.h5"]

    func check(layout: String, size: Int) throws {
        let net = try MobileNetV2(weightsAt: fixtures.appendingPathComponent("weights/\(layout)").path, inputSize: size)
        XCTAssertEqual(net.alpha, 0.35)
        XCTAssertEqual(net.dim, 1280)
        let inputs = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_\(size)_inputs.f32"))
        let expected = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_\(size)_embeddings.f32"))
        let count = inputs.count / (size * size * 3)
        XCTAssertEqual(expected.count, count * 1280)
        var out = [Float](repeating: .nan, count: count * net.dim)
        inputs.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: count, into: $0.baseAddress!) } }
        assertClose(out, expected, rtol: 1e-4, atol: 1e-5, "\(layout) at \(size)x\(size), \(count) images")
        print("golden \(layout) \(size)x\(size): max abs diff \(maxAbsDiff(out[...], expected[...]))")
    }

    func testKerasApplicationsLayoutMatchesKerasAt96() throws { try check(layout: Self.layouts[0], size: 96) }
    func testKeras3LayoutMatchesKerasAt96() throws { try check(layout: Self.layouts[1], size: 96) }
    func testNestedWholeModelMatchesKerasAt96() throws { try check(layout: Self.layouts[2], size: 96) }
    func testKerasApplicationsLayoutMatchesKerasAtOddSize65() throws { try check(layout: Self.layouts[0], size: 65) }
    func testKeras3LayoutMatchesKerasAtOddSize65() throws { try check(layout: Self.layouts[1], size: 65) }
    func testNestedWholeModelMatchesKerasAtOddSize65() throws { try check(layout: Self.layouts[2], size: 65) }

    func testEmbeddingOfOneImageMatchesEmbed() throws {
        let net = try MobileNetV2(weightsAt: fixtures.appendingPathComponent("weights/tiny_a035_keras3.h5").path, inputSize: 96)
        let image = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_96_inputs.f32"))
        let expected = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_96_embeddings.f32"))
        assertClose(net.embedding(image), expected, "embedding(_:) at 96")
    }
}
