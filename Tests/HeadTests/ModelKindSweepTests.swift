import Foundation
import Synchronization
import XCTest

@testable import Formats
@testable import Head

/// Sweeps over both model kinds, refits and test-time flips, on synthetic vectors and maps.
final class ModelKindSweepTests: XCTestCase {
    /// Vectors, and maps whose pooled Conv_1 output is informative too: each row's map is its vector's
    /// first `channels` values spread over the pixels with noise.
    func inputs(refit: Bool = true) -> SweepInputs {
        let s = Synthetic(dim: 8, perClass: [30, 30, 30], spread: 0.8)
        let vectors = s.trainingData
        let map = MapShape(height: 2, width: 2, channels: 8)
        var rng = SplitMix64(seed: 4)
        func maps(_ m: LabeledMatrix) -> LabeledMatrix {
            var x: [Float] = []
            for r in 0..<m.rows {
                for _ in 0..<map.pixels { for c in 0..<8 { x.append(m.x[r * 8 + c] + 0.1 * (rng.unitFloat() - 0.5)) } }
            }
            return LabeledMatrix(x: x, labels: m.labels, width: map.count)
        }
        var top = [Float](repeating: 0, count: 8 * 8 + 8)
        for i in 0..<8 { top[i * 8 + i] = 1 }  // identity Conv_1, bias 3: ReLU6 keeps most of the signal
        for i in 0..<8 { top[64 + i] = 3 }
        let mapData = TrainingData(
            classes: vectors.classes, dim: 8, map: map, top: top, train: maps(vectors.train), val: maps(vectors.val),
            test: maps(vectors.test))
        func merged(_ d: TrainingData) -> TrainingData {
            let train = LabeledMatrix(x: d.train.x + d.val.x, labels: d.train.labels + d.val.labels, width: d.width)
            return TrainingData(
                classes: d.classes, dim: d.dim, map: d.map, top: d.top, train: train, val: .empty(width: d.width),
                test: d.test)
        }
        return SweepInputs(
            data: [.softmax: vectors, .finetune: mapData],
            refit: refit ? [.softmax: merged(vectors), .finetune: merged(mapData)] : [:])
    }

    func testOneSweepRanksBothKindsAndRefitsTheWinner() throws {
        let grids = [
            SweepGrid(models: [.softmax], learningRates: [1e-3, 1e-2], epochs: [3, 6]),
            SweepGrid(models: [.finetune], learningRates: [1e-3], epochs: [4], dropouts: [0, 0.2]),
        ]
        let saved = Mutex<[Int64: RunResult]>([:])
        let outcome = try runSweep(
            inputs(), grids: grids, base: TrainingConfig(), jobs: 2, refit: true,
            save: { run in
                saved.withLock {
                    $0[Int64($0.count + 1)] = run
                    return Int64($0.count)
                }
            })
        XCTAssertEqual(outcome.points.count, 6)
        XCTAssertEqual(Set(outcome.points.map(\.config.model)), [.softmax, .finetune])
        XCTAssertTrue(outcome.points.allSatisfy { $0.test == nil }, "with a refit, test is kept for the final run only")
        let refit = try XCTUnwrap(outcome.refit)
        XCTAssertTrue(refit.isRefit)
        XCTAssertEqual(refit.config.model, outcome.best.config.model)
        XCTAssertEqual(refit.config.learningRate, outcome.best.config.learningRate)
        XCTAssertEqual(refit.config.epochs, outcome.best.weightsEpoch)
        XCTAssertNil(refit.val)
        XCTAssertEqual(refit.test?.count, 9)
        // Each finetune point equals the same config trained alone.
        for run in saved.withLock({ Array($0.values) }) where run.config.model == .finetune {
            let alone = try trainAndEvaluate(inputs().data[.finetune]!, config: run.config, evaluateTest: false)[0]
            XCTAssertEqual(run.model.parameters, alone.model.parameters)
        }
    }

    func testTestTimeFlipsAverageTheTwoViewsProbabilities() throws {
        var rng = SplitMix64(seed: 8)
        let model = try StoredModel(
            kind: .softmax, classes: ["a", "b", "c"], dim: 4, parameters: (0..<15).map { _ in rng.unitFloat() - 0.5 })
        let x = (0..<20).map { _ in 4 * rng.unitFloat() }
        let f = (0..<20).map { _ in 4 * rng.unitFloat() }
        let labels: [Int32] = [0, 1, 2, 0, 1]
        let m = LabeledMatrix(x: x, labels: labels, width: 4)
        let flipped = LabeledMatrix(x: f, labels: labels, width: 4)
        let p = model.flipAveragedProbabilities(m, flipped: flipped)
        let a = model.probabilities(x)
        let b = model.probabilities(f)
        for i in p.indices { XCTAssertEqual(p[i], (a[i] + b[i]) / 2, accuracy: 1e-15) }
        let metrics = model.evaluate(m, flipped: flipped)
        let expectedLoss = labels.enumerated().reduce(0.0) { $0 - log(p[$1.offset * 3 + Int($1.element)]) } / 5
        XCTAssertEqual(metrics.loss!, expectedLoss, accuracy: 1e-12)
        XCTAssertEqual(metrics.confusion.joined().reduce(0, +), 5)
        let predicted = (0..<5).map { r in argmax(p[(r * 3)..<(r * 3 + 3)]) }
        XCTAssertEqual(metrics.accuracy, Double(zip(predicted, labels).filter { Int32($0) == $1 }.count) / 5)
    }

    func testConfigsOfEarlierRunsStillDecode() throws {
        let old =
            #"{"batch_size":32,"class_weight":"none","epochs":5,"l2":0,"label_smoothing":0,"lr":0.001,"model":"softmax","momentum":0,"nesterov":false,"optimizer":"adam","seed":0,"train_views":["orig"]}"#
        let c = try JSONDecoder().decode(TrainingConfig.self, from: Data(old.utf8))
        XCTAssertEqual(c.model, .softmax)
        XCTAssertEqual(c.dropout, 0)
        XCTAssertEqual(c.epochs, 5)
        let grid = try JSONDecoder().decode(
            SweepGrid.self,
            from: Data(
                #"{"lr":[0.001],"epochs":[5],"batch_size":[32],"l2":[0],"label_smoothing":[0],"optimizer":["adam"]}"#
                    .utf8))
        XCTAssertEqual(grid.models, [.softmax])
        XCTAssertEqual(grid.dropouts, [0])
    }
}
