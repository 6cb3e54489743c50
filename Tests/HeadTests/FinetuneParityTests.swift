import Foundation
import XCTest

@testable import Formats
@testable import Head

/// The finetune kind against Keras 3 itself: fixtures/head/keras_finetune_reference.json holds 24
/// maps of 2x2x6 fitted by Keras (scripts/keras_head_reference.py) from given weights: Conv2D(8, 1)
/// with bias + ReLU(6) + GlobalAveragePooling2D + Dense(3), 2 epochs of batch 5 without shuffling,
/// for Adam, SGD, SGD with Nesterov momentum, and Adam with l2, label smoothing and class weights.
final class FinetuneParityTests: XCTestCase {
    struct Reference: Decodable {
        struct Run: Decodable {
            let name: String, optimizer: String, lr: Double
            let momentum: Double?, nesterov: Bool?, l2: Double?
            // swift-format-ignore: AlwaysUseLowerCamelCase
            // The fixture's JSON keys.
            let label_smoothing: Double?, class_weight: String?
            let k: [Float], kb: [Float], w: [Float], b: [Float], loss: [Double]
        }
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // The fixture's JSON keys.
        let x: [Float], labels: [Int32], map: [Int], dim: Int, classes: Int, batch_size: Int, epochs: Int
        let k0: [Float], kb0: [Float], w0: [Float], b0: [Float], runs: [Run]
    }

    func reference() throws -> Reference {
        let url = URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/head/keras_finetune_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testFinetuneTrainingMatchesKerasStepForStep() throws {
        let ref = try reference()
        let map = MapShape(height: ref.map[0], width: ref.map[1], channels: ref.map[2])
        let rows = LabeledMatrix(x: ref.x, labels: ref.labels, width: map.count)
        let data = TrainingData(
            classes: (0..<ref.classes).map { "c\($0)" }, dim: ref.dim, map: map, top: ref.k0 + ref.kb0,
            train: rows, val: .empty(width: map.count), test: .empty(width: map.count))
        XCTAssertEqual(ref.runs.count, 4)
        for run in ref.runs {
            var config = TrainingConfig()
            config.model = .finetune
            config.optimizer = OptimizerKind(rawValue: run.optimizer)!
            config.learningRate = run.lr
            config.momentum = run.momentum ?? 0
            config.nesterov = run.nesterov ?? false
            config.l2 = run.l2 ?? 0
            config.labelSmoothing = run.label_smoothing ?? 0
            config.classWeight = run.class_weight == "balanced" ? .balanced : .none
            config.batchSize = ref.batch_size
            config.epochs = ref.epochs
            for threads in [1, 2] {
                let cp = try Head.train(
                    data, config: config, epochCounts: nil, initialParameters: ref.k0 + ref.kb0 + ref.w0 + ref.b0,
                    shuffle: false, threads: threads)[0]
                XCTAssertEqual(cp.model.kind, .finetune)
                // Float32 on both sides, summed in other orders by TensorFlow; a formula slip (the pooling's
                // 1/P, ReLU6's gradient at the clamp, l2 on the wrong layer) moves the weights by far more.
                for (i, (mine, keras)) in zip(cp.model.parameters, run.k + run.kb + run.w + run.b).enumerated() {
                    XCTAssertEqual(mine, keras, accuracy: 1e-5, "\(run.name), \(threads) threads: parameter \(i)")
                }
                for (e, (mine, keras)) in zip(cp.history.map(\.trainLoss), run.loss).enumerated() {
                    XCTAssertEqual(mine, keras, accuracy: 1e-4 * max(1, abs(keras)), "\(run.name): epoch \(e + 1) loss")
                }
            }
        }
    }

    /// The same training with one thread and with three: the chunked Conv_1 gradient is summed in a
    /// fixed order, so the weights are the same bits (a sweep's one-thread jobs equal a train-head).
    func testThreadCountDoesNotChangeTheBits() throws {
        let ref = try reference()
        let map = MapShape(height: ref.map[0], width: ref.map[1], channels: ref.map[2])
        let rows = LabeledMatrix(x: ref.x, labels: ref.labels, width: map.count)
        let data = TrainingData(
            classes: ["a", "b", "c"], dim: ref.dim, map: map, top: ref.k0 + ref.kb0,
            train: rows, val: rows, test: .empty(width: map.count))
        var config = TrainingConfig()
        config.model = .finetune
        config.batchSize = 20
        config.epochs = 3
        config.dropout = 0.3
        config.learningRate = 0.01
        let one = try train(data, config: config, threads: 1)[0]
        let three = try train(data, config: config, threads: 3)[0]
        XCTAssertEqual(one.model.parameters, three.model.parameters)
        XCTAssertEqual(one.history, three.history)
        config.dropout = 0
        let noDropout = try train(data, config: config, threads: 1)[0]
        XCTAssertNotEqual(noDropout.model.parameters, one.model.parameters, "dropout must change the training")
    }
}
