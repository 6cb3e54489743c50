import Synchronization
import XCTest

@testable import Head

final class SweepTests: XCTestCase {
    let data = Synthetic(dim: 12, perClass: [40, 30, 35], spread: 1.2).trainingData

    func testSweepEpochsAxisEqualsSeparateRuns() throws {
        let grid = SweepGrid(
            optimizers: [.adam, .sgd], learningRates: [1e-2, 1e-1], epochs: [1, 3, 6], batchSizes: [8, 32])
        let saved = Mutex<[Int64: RunResult]>([:])
        let outcome = try runSweep(
            SweepInputs(data: [.softmax: data]), grids: [grid], base: TrainingConfig(), jobs: 2, refit: false,
            select: .accuracy,
            save: { run in
                saved.withLock {
                    $0[Int64($0.count + 1)] = run
                    return Int64($0.count)
                }
            })
        XCTAssertEqual(outcome.points.count, grid.count)
        XCTAssertEqual(outcome.points.count, 24)
        let runs = saved.withLock { $0 }
        for point in outcome.points {
            let run = try XCTUnwrap(runs[point.runID])
            XCTAssertEqual(run.config, point.config)
            let alone = try trainAndEvaluate(data, config: run.config)[0]
            XCTAssertEqual(run.model.parameters, alone.model.parameters, "\(run.config)")
            XCTAssertEqual(run.checkpoint.history, alone.checkpoint.history, "\(run.config)")
            XCTAssertEqual(run.val, alone.val)
            XCTAssertEqual(point.val, alone.val)
        }
        let best = outcome.best
        for r in outcome.points {
            XCTAssertLessThanOrEqual(r.val!.accuracy, best.val!.accuracy)
        }
        XCTAssertEqual(outcome.baselines.map(\.config.model), [.nearestCentroid, .knn])
    }

    func testOneClassIsReportedAsSuchNotAsAnEmptyValSplit() {
        let one = Synthetic(dim: 4, perClass: [3]).trainingData  // too few images for a val split
        XCTAssertThrowsError(try runSweep(one, grid: SweepGrid(), base: TrainingConfig(), jobs: 1)) { error in
            XCTAssertTrue("\(error)".contains("at least 2 classes, found 1"), "\(error)")
        }
    }

    func testCrossValidationFoldsAreStratifiedAndDisjoint() throws {
        let s = Synthetic(dim: 4, perClass: [20, 13])
        let db = try s.write(to: temporaryDatabasePath())
        let set = try EmbeddingSet.load(from: db)
        let folds = try set.crossValidationFolds(3, trainViews: [.orig], seed: 0)
        let trainVal = s.splits.filter { $0 != .test }.count
        var seen = Set<Int>()
        for f in folds {
            XCTAssertEqual(f.train.rows + f.val.rows, trainVal)
            XCTAssertTrue(seen.isDisjoint(with: f.val.sourceRows))
            seen.formUnion(f.val.sourceRows)
            let counts = (0..<2).map { k in f.val.labels.filter { $0 == Int32(k) }.count }
            XCTAssertLessThanOrEqual(abs(counts[0] - 18 / 3), 1)
        }
        XCTAssertEqual(seen.count, trainVal)
        XCTAssertEqual(
            try set.crossValidationFolds(3, trainViews: [.orig], seed: 0).map(\.val.sourceRows),
            folds.map(\.val.sourceRows))
    }

    func testEmptyGridAxisIsRefused() {
        XCTAssertThrowsError(try runSweep(data, grid: SweepGrid(learningRates: []), base: TrainingConfig(), jobs: 1)) {
            XCTAssertEqual("\($0)", "the sweep grid is empty: --lr has no values")
        }
    }

    func testBaselinesSolveAnEasyProblem() {
        let easy = Synthetic(dim: 16, perClass: [30, 30, 30], spread: 0.2, seed: 5).trainingData
        XCTAssertEqual(nearestCentroidBaseline(easy).test?.accuracy, 1)
        XCTAssertEqual(knnBaseline(easy).test?.accuracy, 1)
    }
}

final class FlippedViewTests: XCTestCase {
    func testFlippedVectorsTrainAndStayInTheirImagesFold() throws {
        let s = Synthetic(dim: 6, perClass: [15, 15])
        let db = try s.write(to: temporaryDatabasePath(), hflip: true)
        let set = try EmbeddingSet.load(from: db)
        let folds = try set.crossValidationFolds(3, trainViews: [.orig, .hflip], seed: 4)
        for f in folds {
            let valImages = Set(f.val.sourceRows.map { set.imageIDs[$0] })
            let trainImages = Set(f.train.sourceRows.map { set.imageIDs[$0] })
            XCTAssertTrue(
                valImages.isDisjoint(with: trainImages), "an image's flipped vector must not train while it validates")
            XCTAssertEqual(f.train.rows, 2 * trainImages.count, "orig and hflip rows of every training image")
        }
        var config = TrainingConfig()
        config.trainViews = [.orig, .hflip]
        config.epochs = 3
        let data = try set.trainingData(trainViews: config.trainViews)
        let run = try trainAndEvaluate(data, config: config)[0]
        XCTAssertEqual(run.val?.count, s.splits.filter { $0 == .val }.count, "val uses the original view only")
    }
}

/// An interrupted sweep keeps its finished points; run again, it trains only the missing ones.
final class SweepResumeTests: XCTestCase {
    func testRerunTrainsOnlyWhatAnInterruptedSweepLacks() throws {
        let data = Synthetic(dim: 12, perClass: [40, 30, 35], spread: 1.2).trainingData
        let grid = SweepGrid(learningRates: [1e-2, 3e-2, 1e-1], epochs: [2, 4])
        struct Interrupted: Error {}
        let stored = Mutex<[String: SweepPoint]>([:])
        let ids = Mutex<Int64>(0)
        func save(after limit: Int) -> @Sendable (RunResult) throws -> Int64 {
            { run in
                try stored.withLock { s in
                    if s.count >= limit { throw Interrupted() }
                    let id = ids.withLock {
                        $0 += 1
                        return $0
                    }
                    s[RunStore.pointKey(run.config)] = SweepPoint(
                        config: run.config, val: run.val, test: run.test, crossValidation: nil,
                        weightsEpoch: run.checkpoint.weightsEpoch, runID: id)
                    return id
                }
            }
        }
        // Two of the three trainings (2 points each) are saved, then the third fails as a kill would stop it.
        XCTAssertThrowsError(
            try runSweep(
                SweepInputs(data: [.softmax: data]), grids: [grid], base: TrainingConfig(), jobs: 1, refit: false,
                save: save(after: 4)))
        XCTAssertEqual(stored.withLock { $0.count }, 4)
        let kept = stored.withLock { $0 }
        let rerun = try runSweep(
            SweepInputs(data: [.softmax: data]), grids: [grid], base: TrainingConfig(), jobs: 1, refit: false,
            existing: { kept[RunStore.pointKey($0)] }, save: save(after: 100))
        XCTAssertEqual(rerun.trained, 1, "only the training the interruption lost runs again")
        XCTAssertEqual(rerun.points.count, 6)
        let whole = try runSweep(data, grid: grid, base: TrainingConfig(), jobs: 1)
        XCTAssertEqual(rerun.points.map(\.val), whole.points.map(\.val), "the resumed sweep ranks the same points")
        XCTAssertEqual(rerun.ranking, whole.ranking)
    }
}
