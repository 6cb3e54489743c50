import XCTest

@testable import Head

final class TrainingTests: XCTestCase {
    let data = Synthetic(dim: 24, perClass: [60, 45, 70], spread: 1.5).trainingData

    func testSameSeedGivesBitIdenticalHeadAndCurves() throws {
        for optimizer in OptimizerKind.allCases {
            var config = TrainingConfig()
            config.optimizer = optimizer
            config.epochs = 4
            config.batchSize = 7
            config.l2 = 1e-3
            config.labelSmoothing = 0.1
            config.classWeight = .balanced
            if optimizer == .sgd {
                config.momentum = 0.9
                config.nesterov = true
                config.learningRate = 0.01
            }
            let a = try trainAndEvaluate(data, config: config)[0]
            let b = try trainAndEvaluate(data, config: config)[0]
            XCTAssertEqual(a.model.parameters, b.model.parameters, "\(optimizer)")
            XCTAssertEqual(a.checkpoint.history, b.checkpoint.history, "\(optimizer)")
            XCTAssertEqual(a.test, b.test, "\(optimizer)")
            config.seed = 1
            let c = try trainAndEvaluate(data, config: config)[0]
            XCTAssertNotEqual(
                a.model.parameters, c.model.parameters, "another seed must give another head (\(optimizer))")
        }
    }

    func testEpochCheckpointsEqualSeparateRuns() throws {
        // Overlapping classes, so the val loss really turns up (at epoch 12 here) between checkpoints.
        let data = Synthetic(dim: 24, perClass: [60, 45, 70], spread: 5).trainingData
        for patience in [nil, 1] as [Int?] {
            var config = TrainingConfig()
            config.learningRate = 0.01
            config.batchSize = 16
            config.earlyStopping = patience
            let together = try train(data, config: config, epochCounts: [2, 5, 9, 40])
            XCTAssertEqual(together.map(\.epochs), [2, 5, 9, 40])
            if patience != nil {
                XCTAssertNotNil(together.last!.stoppedEpoch, "early stopping should trigger within 40 epochs")
            }
            for cp in together {
                config.epochs = cp.epochs
                let alone = try train(data, config: config)[0]
                XCTAssertEqual(
                    cp.model.parameters, alone.model.parameters,
                    "epochs \(cp.epochs), patience \(String(describing: patience))")
                XCTAssertEqual(
                    cp.history, alone.history, "epochs \(cp.epochs), patience \(String(describing: patience))")
                XCTAssertEqual(cp.weightsEpoch, alone.weightsEpoch)
                XCTAssertEqual(cp.stoppedEpoch, alone.stoppedEpoch)
            }
        }
    }

    func testEarlyStoppingKeepsTheBestValidationEpoch() throws {
        var config = TrainingConfig()
        config.learningRate = 0.5  // large steps: val loss goes up and down
        config.epochs = 30
        config.earlyStopping = 2
        let cp = try train(data, config: config)[0]
        let losses = cp.history.map { $0.valLoss! }
        let bestEpoch = losses.indices.min { losses[$0] < losses[$1] }! + 1
        XCTAssertEqual(cp.weightsEpoch, bestEpoch)
        let stopped = try XCTUnwrap(cp.stoppedEpoch, "val loss never rose twice in a row in 30 epochs at lr 0.5")
        XCTAssertEqual(stopped, cp.history.count)
        XCTAssertEqual(stopped - bestEpoch, 2, "stops after exactly `patience` epochs without improvement")
        // The kept head really is the best epoch's: its val loss is the recorded minimum.
        XCTAssertEqual(cp.model.evaluate(data.val).loss!, losses[bestEpoch - 1], accuracy: 1e-12)
    }

    func testLinearlySeparableProblemReaches100Percent() throws {
        let easy = Synthetic(dim: 16, perClass: [50, 50, 50, 50], spread: 0.2, seed: 7).trainingData
        var config = TrainingConfig()
        config.epochs = 20
        config.learningRate = 0.01
        let run = try trainAndEvaluate(easy, config: config)[0]
        XCTAssertEqual(run.checkpoint.history.last!.trainAccuracy, 1)
        XCTAssertEqual(run.val!.accuracy, 1)
        XCTAssertEqual(run.test!.accuracy, 1)
        XCTAssertEqual(run.test!.confusion, [[5, 0, 0, 0], [0, 5, 0, 0], [0, 0, 5, 0], [0, 0, 0, 5]])
        XCTAssertLessThan(run.checkpoint.history.last!.trainLoss, run.checkpoint.history.first!.trainLoss)
    }

    func testInitialisationIsGlorotUniform() {
        var rng = SplitMix64(seed: 3)
        let w = glorotUniform(fanIn: 1280, fanOut: 5, using: &rng)
        let limit = (6.0 / 1285.0).squareRoot()
        XCTAssertLessThanOrEqual(w.map { abs(Double($0)) }.max()!, limit)
        let variance = w.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(w.count)
        XCTAssertEqual(variance, limit * limit / 3, accuracy: 0.05 * limit * limit / 3)  // U(-a, a) has variance a^2/3
    }

    func testEarlyStoppingWithoutValidationIsRefused() {
        var d = data
        d = TrainingData(
            classes: d.classes, dim: d.dim, train: d.train, val: LabeledMatrix(x: [], labels: [], width: d.dim),
            test: d.test)
        var config = TrainingConfig()
        config.earlyStopping = 3
        XCTAssertThrowsError(try train(d, config: config)) { error in
            XCTAssertEqual("\(error)", "--early-stopping needs validation rows, and the val split is empty")
        }
    }

    func testBadSettingsAreRefusedWithOneLine() {
        var config = TrainingConfig()
        config.learningRate = -1
        XCTAssertThrowsError(try config.validate()) {
            XCTAssertEqual("\($0)", "learning rate must be a positive number, got -1.0")
        }
        config = TrainingConfig()
        config.momentum = 0.9
        XCTAssertThrowsError(try config.validate()) {
            XCTAssertEqual("\($0)", "--momentum applies to sgd only (adam has beta1 0.9)")
        }
        config = TrainingConfig()
        config.labelSmoothing = 1
        XCTAssertThrowsError(try config.validate())
    }

    func testMetricsMatchSklearnDefinitions() {
        // y_true = [0,0,1,1,2], y_pred = [0,1,1,1,0]: sklearn precision [0.5, 0.667, 0], recall [0.5, 1, 0].
        let m = SplitMetrics(
            labels: [0, 0, 1, 1, 2], predicted: [0, 1, 1, 1, 0], classes: ["a", "b", "c"], loss: nil)
        XCTAssertEqual(m.accuracy, 0.6)
        XCTAssertEqual(m.perClass.map(\.precision), [0.5, 2.0 / 3, 0])
        XCTAssertEqual(m.perClass.map(\.recall), [0.5, 1, 0])
        XCTAssertEqual(m.perClass[1].f1, 0.8, accuracy: 1e-12)
        XCTAssertEqual(m.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 0]])
    }
}

final class ReportTests: XCTestCase {
    func testHyperparametersPrintAsTyped() {
        XCTAssertEqual(
            [0, 1e-3, 3e-4, 2.5e-4, 0.1, 0.9, 1, 32, 1e-7].map(compact),
            ["0", "1e-3", "3e-4", "2.5e-4", "0.1", "0.9", "1", "32", "1e-7"])
        XCTAssertEqual(fixed(0.87426, 4), "0.8743")
        XCTAssertEqual(fixed(nil), "-")
    }
}
