import Foundation
import XCTest

@testable import MobileNet

/// The real pretrained weights in ../shared, in all three layouts, against Keras's embeddings of
/// the same 16 preprocessed photos (../shared/reference/README.md).
final class SharedParityTests: XCTestCase {
    func check(_ name: String) throws {
        let weights = shared.appendingPathComponent("weights/\(name)")
        let inputsURL = shared.appendingPathComponent("reference/inputs_16.f32")
        guard FileManager.default.fileExists(atPath: weights.path),
            FileManager.default.fileExists(atPath: inputsURL.path)
        else {
            throw XCTSkip(
                "../shared not found: \(weights.path) or \(inputsURL.path) missing, skipping real-weights parity")
        }
        let net = try MobileNetV2(weightsAt: weights.path)
        XCTAssertEqual(net.alpha, 1.0)
        XCTAssertEqual(net.dim, 1280)
        let inputs = try readF32(inputsURL)
        let expected = try readF32(shared.appendingPathComponent("reference/embeddings_16.f32"))
        XCTAssertEqual(inputs.count, 16 * 224 * 224 * 3)
        var out = [Float](repeating: .nan, count: 16 * 1280)
        inputs.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: 16, into: $0.baseAddress!) }
        }
        var worst: Float = 0
        var minCos = 1.0
        for i in 0..<16 {
            let a = out[(i * 1280)..<((i + 1) * 1280)]
            let e = expected[(i * 1280)..<((i + 1) * 1280)]
            worst = max(worst, maxAbsDiff(a, e))
            minCos = min(minCos, cosine(a, e))
        }
        print("parity \(name): max |tlearn - Keras| = \(worst), min cosine = \(minCos)")
        XCTAssertLessThanOrEqual(worst, 1e-3, "\(name): max abs diff")
        XCTAssertGreaterThanOrEqual(minCos, 0.99999, "\(name): min cosine")
    }

    func testKeras2DownloadLayoutMatchesKeras() throws { try check("mnv2_no_top_keras2.h5") }
    func testKeras3LayoutMatchesKeras() throws { try check("mnv2_no_top_keras3.h5") }
    func testNestedDogBreedModelMatchesKeras() throws { try check("dog_breed_mobilenetv2.h5") }
}
