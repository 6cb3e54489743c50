import Foundation
import XCTest

@testable import Head

/// tlearn's training against Keras 3 itself: fixtures/head/keras_reference.json holds a tiny
/// problem fitted by Keras (scripts/keras_head_reference.py) from given weights, 2 epochs of
/// batch 5 without shuffling, for Adam, SGD, SGD with Nesterov momentum, and Adam with l2, label
/// smoothing and balanced class weights.
final class KerasParityTests: XCTestCase {
    struct Reference: Decodable {
        struct Run: Decodable {
            let name: String, optimizer: String, lr: Double
            let momentum: Double?, nesterov: Bool?, l2: Double?
            // swift-format-ignore: AlwaysUseLowerCamelCase
            // The fixture's JSON keys.
            let label_smoothing: Double?, class_weight: String?
            let w: [Float], b: [Float], loss: [Double]
        }
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // The fixture's JSON keys.
        let x: [Float], labels: [Int32], dim: Int, classes: Int, batch_size: Int, epochs: Int
        let w0: [Float], b0: [Float], runs: [Run]
    }

    func testTrainingMatchesKerasStepForStep() throws {
        let url = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/head/keras_reference.json")
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
        let names = (0..<ref.classes).map { "c\($0)" }
        let rows = LabeledMatrix(x: ref.x, labels: ref.labels, width: ref.dim)
        let empty = LabeledMatrix(x: [], labels: [], width: ref.dim)
        let data = TrainingData(classes: names, dim: ref.dim, train: rows, val: empty, test: empty)
        XCTAssertEqual(ref.runs.count, 4)
        for run in ref.runs {
            var config = TrainingConfig()
            config.optimizer = OptimizerKind(rawValue: run.optimizer)!
            config.learningRate = run.lr
            config.momentum = run.momentum ?? 0
            config.nesterov = run.nesterov ?? false
            config.l2 = run.l2 ?? 0
            config.labelSmoothing = run.label_smoothing ?? 0
            config.classWeight = run.class_weight == "balanced" ? .balanced : .none
            config.batchSize = ref.batch_size
            config.epochs = ref.epochs
            let cp = try Head.train(
                data, config: config, epochCounts: nil, initialParameters: ref.w0 + ref.b0, shuffle: false)[0]
            // Float32 on both sides, but TensorFlow sums in other orders: 1e-5 is a few ulps of
            // these O(1) weights after 10 steps, while any formula difference (bias correction,
            // epsilon placement, the l2 factor, the weighting divisor) moves them by 1e-3 or more.
            for (i, (mine, keras)) in zip(cp.model.parameters, run.w + run.b).enumerated() {
                XCTAssertEqual(mine, keras, accuracy: 1e-5, "\(run.name): parameter \(i)")
            }
            for (e, (mine, keras)) in zip(cp.history.map(\.trainLoss), run.loss).enumerated() {
                XCTAssertEqual(mine, keras, accuracy: 1e-5 * max(1, abs(keras)), "\(run.name): epoch \(e + 1) loss")
            }
        }
    }
}
