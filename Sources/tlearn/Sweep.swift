import ArgumentParser
import Foundation
import Head
import Kernels

/// `tlearn sweep`: a grid of heads trained in parallel, ranked on validation, all saved.
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a grid of heads in parallel, rank them on validation and save every run.",
        discussion: """
            Each grid axis is a comma list. The epochs axis is free: one training per point runs to \
            the largest count and records the head at every listed count, identical to separate runs \
            (with --early-stopping, each count keeps the best weights so far). The best run is chosen \
            on validation only (or on mean cross-validation accuracy with --folds K over train+val); \
            only its test accuracy is reported. Nearest-centroid and 5-NN baselines (cosine) run on \
            the same split and are saved in the same table.
            """)

    @OptionGroup var store: HeadDatabaseOptions
    @Option(help: "Comma list: adam, sgd.") var optimizer = "adam"
    @Option(help: "Comma list of learning rates.") var lr = "1e-4,3e-4,1e-3,3e-3"
    @Option(help: "Comma list of epoch counts (free: one training to the largest).") var epochs = "5,10,20,40"
    @Option(help: "Comma list of batch sizes.") var batchSize = "32"
    @Option(help: "Comma list of l2 factors.") var l2 = "0"
    @Option(help: "Comma list of label smoothing values.") var labelSmoothing = "0"
    @OptionGroup var training: HeadTrainingOptions
    @Option(help: ArgumentHelp("Rank by K-fold stratified cross-validation over train+val.", valueName: "K")) var folds: Int?
    // Optional so the help shows "the active processors", not the count of the machine that printed it.
    @Option(name: .customLong("jobs"), help: ArgumentHelp("Parallel trainings (default: the usable CPUs).", valueName: "n")) var requestedJobs: Int?
    var jobs: Int { requestedJobs ?? AvailableCPUs.current.count }
    @Option(help: "Leaderboard rows to print.") var top = 10
    @Flag(help: "Print one JSON object instead of tables.") var json = false

    static func list<T>(_ text: String, _ flag: String, _ parse: (String) -> T?) throws -> [T] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if parts.allSatisfy(\.isEmpty) { throw ValidationError("\(flag) is empty: give a comma list of values") }
        return try parts.map { p in
            guard let v = parse(p) else { throw ValidationError("\(flag): '\(p)' is not a valid value") }
            return v
        }
    }

    func grid() throws -> SweepGrid {
        SweepGrid(
            optimizers: try Self.list(optimizer, "--optimizer") { OptimizerKind(rawValue: $0) },
            learningRates: try Self.list(lr, "--lr") { Double($0) },
            epochs: try Self.list(epochs, "--epochs") { Int($0) },
            batchSizes: try Self.list(batchSize, "--batch-size") { Int($0) },
            l2s: try Self.list(l2, "--l2") { Double($0) },
            labelSmoothings: try Self.list(labelSmoothing, "--label-smoothing") { Double($0) })
    }

    func validate() throws {
        let g = try grid()
        let base = try training.base()
        do { _ = try g.trainings(base: base) } catch { throw ValidationError("\(error)") }
        if training.momentum != 0 && !g.optimizers.contains(.sgd) { throw ValidationError("--momentum applies to sgd only, and --optimizer has no sgd") }
        if let folds, folds < 2 { throw ValidationError("--folds must be at least 2, got \(folds)") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
        if top < 1 { throw ValidationError("--top must be at least 1, got \(top)") }
    }

    func run() throws {
        do { try execute() } catch { throw exitError(error) }
    }

    func execute() throws {
        let grid = try grid()
        let base = try training.base()
        let db = try store.open()
        let set = try EmbeddingSet.load(from: db, backbone: store.backbone)
        let data = try loadTrainingData(set, views: base.trainViews, earlyStopping: base.earlyStopping != nil)
        let foldData = try folds.map { try set.crossValidationFolds($0, trainViews: base.trainViews, seed: base.seed) } ?? []
        let trainings = grid.count / grid.epochs.count
        if !json {
            headNote("sweep: \(grid.count) runs (\(trainings) trainings to \(grid.epochs.max()!) epochs\(folds.map { ", each also on \($0) folds" } ?? "")) on \(min(jobs, trainings * (1 + (folds ?? 0)))) threads")
        }
        let showProgress = !json && isatty(2) != 0
        let outcome = try runSweep(data, grid: grid, base: base, folds: foldData, jobs: jobs) { done, total in
            if showProgress { FileHandle.standardError.write(Data("\r\(done)/\(total) trainings\(done == total ? "\n" : "")".utf8)) }
        }
        let saved = try RunStore.save(outcome, grid: grid, context: RunContext(set), in: db)
        let best = outcome.best
        let bestID = saved.runIDs[outcome.ranking[0]]

        if json {
            print(try headJSON(SweepReport(sweepID: saved.sweepID, seconds: outcome.seconds, grid: grid,
                                           best: RunReport(id: bestID, run: best, set: set),
                                           leaderboard: outcome.ranking.map { LeaderboardEntry(id: saved.runIDs[$0], run: outcome.runs[$0]) },
                                           baselines: zip(saved.baselineIDs, outcome.baselines).map { BaselineEntry(id: $0, result: $1) })))
            return
        }
        print("\(describe(set, data, views: base.trainViews))")
        let cv = folds != nil
        var header = ["rank", "run", "optimizer", "lr", "epochs", "batch", "l2", "smoothing"]
        header += cv ? ["cv acc", "± std", "cv loss", "val acc"] : ["val acc", "val loss"]
        var t = TextTable(header, left: [2])
        for (rank, i) in outcome.ranking.prefix(top).enumerated() {
            let r = outcome.runs[i], c = r.config
            var row = ["\(rank + 1)", "\(saved.runIDs[i])", c.optimizer.rawValue, compact(c.learningRate), "\(c.epochs)",
                       "\(c.batchSize)", compact(c.l2), compact(c.labelSmoothing)]
            if let v = r.crossValidation {
                row += [fixed(v.meanAccuracy), fixed(v.stdAccuracy), fixed(v.meanLoss), fixed(r.val?.accuracy)]
            } else {
                row += [fixed(r.val?.accuracy), fixed(r.val?.loss)]
            }
            t.add(row)
        }
        print("top \(min(top, outcome.runs.count)) of \(outcome.runs.count) by \(cv ? "cross-validation" : "val") accuracy, then loss:")
        print(t.render(), terminator: "")
        print("baselines on the same split:")
        var b = TextTable(["run", "model", "val acc", "test acc"], left: [1])
        for (id, r) in zip(saved.baselineIDs, outcome.baselines) {
            b.add(["\(id)", r.config.model == .knn ? "\(r.config.k ?? 0)-NN (cosine)" : "nearest centroid (cosine)", fixed(r.val?.accuracy), fixed(r.test?.accuracy)])
        }
        print(b.render(indent: "  "), terminator: "")
        print("best on \(cv ? "cross-validation" : "validation"): run \(bestID): \(describe(best.config))")
        print("  val accuracy \(fixed(best.val?.accuracy)), test accuracy \(fixed(best.test?.accuracy)) (test used for this report only)")
        print("saved sweep \(saved.sweepID) (\(outcome.runs.count + outcome.baselines.count) runs) in \(store.db) (\(fixed(outcome.seconds, 2)) s)")
    }
}

struct LeaderboardEntry: Encodable {
    let id: Int64
    let run: RunResult
    enum Key: String, CodingKey { case runID = "run_id", config, valAccuracy = "val_accuracy", valLoss = "val_loss", cv = "cross_validation" }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(id, forKey: .runID)
        try c.encode(run.config, forKey: .config)
        try c.encode(run.val?.accuracy, forKey: .valAccuracy)
        try c.encode(run.val?.loss, forKey: .valLoss)
        if let cv = run.crossValidation { try c.encode(cv, forKey: .cv) }
    }
}

struct BaselineEntry: Encodable {
    let id: Int64
    let result: BaselineResult
    enum Key: String, CodingKey { case runID = "run_id", config, valAccuracy = "val_accuracy", testAccuracy = "test_accuracy" }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(id, forKey: .runID)
        try c.encode(result.config, forKey: .config)
        try c.encode(result.val?.accuracy, forKey: .valAccuracy)
        try c.encode(result.test?.accuracy, forKey: .testAccuracy)
    }
}

struct SweepReport: Encodable {
    let sweepID: Int64
    let seconds: Double
    let grid: SweepGrid
    let best: RunReport
    let leaderboard: [LeaderboardEntry]
    let baselines: [BaselineEntry]
    enum CodingKeys: String, CodingKey { case sweepID = "sweep_id", seconds, grid, best, leaderboard, baselines }
}
