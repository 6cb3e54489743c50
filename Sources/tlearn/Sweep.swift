import ArgumentParser
import Formats
import Foundation
import Head
import Kernels
import Store

extension SweepSelection: ExpressibleByArgument {}

/// `tlearn sweep`: a grid of models trained in parallel, ranked on validation, the best refit on
/// train+val, all saved.
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract:
            "Train a grid of models in parallel, rank them on validation, refit the best on train+val, save every run.",
        discussion: """
            Each grid axis is a comma list; an axis not given takes the model kind's default (below). The \
            epochs axis is free: one training per point runs to the largest count and records the model at \
            every listed count, identical to separate runs (with --early-stopping, each count keeps the best \
            weights so far). The best point is chosen on validation only (or on the mean over --folds K \
            folds of train+val): by the lowest loss (--select loss, the default), or the highest accuracy \
            (--select accuracy); the other breaks ties. It is then trained again on train+val with its config (for \
            as many epochs as its kept weights had) and saved as the sweep's final run, which `best` names; \
            test is computed once, for that run only. --no-refit keeps the best point itself as the final \
            run (every point then has test metrics, only the best one's is shown). Nearest-centroid and 5-NN \
            baselines (cosine) run on the same split and are saved in the same table.

            Defaults per model kind: softmax \(SweepDefaults.softmax.summary); finetune \(SweepDefaults.finetune.summary). \
            --model defaults to softmax,finetune when the database holds the backbone's maps (`tlearn extract \
            --maps`), else softmax.
            """)

    @OptionGroup var store: DatabaseOptions
    @OptionGroup var selection: BackboneOption
    @Option(help: ArgumentHelp("Comma list of model kinds: softmax, finetune.", valueName: "kinds")) var model: String?
    @Option(help: "Comma list: adam, sgd.") var optimizer: String?
    @Option(help: "Comma list of learning rates.") var lr: String?
    @Option(help: "Comma list of epoch counts (free: one training to the largest).") var epochs: String?
    @Option(help: "Comma list of batch sizes.") var batchSize: String?
    @Option(help: "Comma list of l2 factors.") var l2: String?
    @Option(help: "Comma list of label smoothing values.") var labelSmoothing: String?
    @Option(help: "Comma list of dropout rates (on the Dense layer's input).") var dropout: String?
    @OptionGroup var training: HeadTrainingOptions
    @Option(help: ArgumentHelp("Rank by K-fold stratified cross-validation over train+val.", valueName: "K")) var folds:
        Int?
    @Option(help: "Rank by val (or cross-validation) loss, or accuracy; the other breaks ties.") var select:
        SweepSelection = .loss
    @Flag(help: "Keep the best point as the final run instead of training its config again on train+val.") var noRefit =
        false
    @Flag(help: "Score val and test on the mean of the orig and hflip views' probabilities (needs --views orig,hflip).")
    var tta = false
    @Flag(help: "Skip the nearest-centroid and k-NN baselines.") var noBaselines = false
    // Optional so the help shows "the CPUs", not the count of the machine that printed it.
    @Option(
        name: .customLong("jobs"),
        help: ArgumentHelp("Parallel trainings (default: one per usable CPU).", valueName: "n"))
    var requestedJobs: Int?
    var jobs: Int { requestedJobs ?? AvailableCPUs.current.count }
    @Option(help: "Leaderboard rows to print.") var top = 10
    @Flag(help: "Print one JSON object instead of tables.") var json = false

    static func list<T>(_ text: String, _ flag: String, _ parse: (String) -> T?) throws -> [T] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        if parts.allSatisfy(\.isEmpty) { throw ValidationError("\(flag) is empty: give a comma list of values") }
        return try parts.map { p in
            guard let v = parse(p) else { throw ValidationError("\(flag): '\(p)' is not a valid value") }
            return v
        }
    }

    /// The model kinds asked for; nil when --model is not given (the database decides).
    func kinds() throws -> [ModelKind]? {
        try model.map { text in
            try Self.list(text, "--model") { name in ModelKind(rawValue: name).flatMap { $0.isTrained ? $0 : nil } }
        }
    }

    /// One grid per model kind: the axes given, the kind's defaults for the others.
    func grids(kinds: [ModelKind]) throws -> [SweepGrid] {
        try kinds.map { kind in
            let d = SweepDefaults.grid(kind)
            return SweepGrid(
                models: [kind],
                optimizers: try optimizer.map { try Self.list($0, "--optimizer") { OptimizerKind(rawValue: $0) } }
                    ?? d.optimizers,
                learningRates: try lr.map { try Self.list($0, "--lr") { Double($0) } } ?? d.learningRates,
                epochs: try epochs.map { try Self.list($0, "--epochs") { Int($0) } } ?? d.epochs,
                batchSizes: try batchSize.map { try Self.list($0, "--batch-size") { Int($0) } } ?? d.batchSizes,
                l2s: try l2.map { try Self.list($0, "--l2") { Double($0) } } ?? d.l2s,
                labelSmoothings: try labelSmoothing.map { try Self.list($0, "--label-smoothing") { Double($0) } }
                    ?? d.labelSmoothings,
                dropouts: try dropout.map { try Self.list($0, "--dropout") { Double($0) } } ?? d.dropouts)
        }
    }

    func validate() throws {
        let base = try training.base()
        for g in try grids(kinds: try kinds() ?? [.softmax, .finetune]) {
            do { _ = try g.trainings(base: base) } catch { throw ValidationError("\(error)") }
            if training.momentum != 0 && !g.optimizers.contains(.sgd) {
                throw ValidationError("--momentum applies to sgd only, and --optimizer has no sgd")
            }
        }
        if let folds, folds < 2 { throw ValidationError("--folds must be at least 2, got \(folds)") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
        if top < 1 { throw ValidationError("--top must be at least 1, got \(top)") }
    }

    func run() throws {
        var base = try training.base()
        let db = try store.open()
        let set = try EmbeddingSet.load(from: db, backbone: selection.backbone)
        base.trainViews = try training.views(for: set)
        let kinds = try kinds() ?? (hasMaps(db, backbone: set.backbone.id) ? [.softmax, .finetune] : [.softmax])
        let grids = try grids(kinds: kinds)
        var sets: [ModelKind: EmbeddingSet] = [.softmax: set]
        if kinds.contains(.finetune) { sets[.finetune] = try loadMaps(db, matching: set) }
        var inputs = SweepInputs(data: [:])
        for (kind, s) in sets {
            inputs.data[kind] = try loadTrainingData(
                s, views: base.trainViews, earlyStopping: base.earlyStopping != nil, quiet: kind != .softmax)
            if let folds {
                inputs.folds[kind] = try s.crossValidationFolds(folds, trainViews: base.trainViews, seed: base.seed)
            }
            if !noRefit { inputs.refit[kind] = try s.trainingData(trainViews: base.trainViews, refit: true) }
        }
        if tta { try requireFlips(inputs, set: set) }
        let data = inputs.data[.softmax]!
        let context = RunContext(set)
        let plan = try planJSON(grids, base: base)
        let (sweepID, resumed) = try db.transaction { try RunStore.beginSweep(plan: plan, context: context, in: db) }
        let saved = try RunStore.sweepPoints(sweepID, in: db)
        let trainings = try grids.reduce(0) { $0 + (try $1.trainings(base: base).count) }
        let points = grids.reduce(0) { $0 + $1.count }
        if !json {
            if resumed {
                note("sweep \(sweepID) was interrupted with \(saved.count) of \(points) runs saved: finishing it")
            }
            note(
                "sweep: \(points) runs (\(trainings) trainings\(folds.map { ", each also on \($0) folds" } ?? "")) on \(min(jobs, trainings * (1 + (folds ?? 0)))) threads"
                    + (noRefit ? "" : ", then the best refit on train+val"))
        }
        let showProgress = !json && isatty(2) != 0
        let connection = UncheckedConnection(db)
        let outcome = try runSweep(
            inputs, grids: grids, base: base, jobs: jobs, refit: !noRefit, tta: tta, select: select,
            baselines: !noBaselines,
            existing: { saved[RunStore.pointKey($0)] },
            save: { try RunStore.savePoint($0, context: context, sweepID: sweepID, in: connection.db) },
            progress: { done, total in
                if showProgress {
                    FileHandle.standardError.write(
                        Data("\r\(done)/\(total) trainings\(done == total ? "\n" : "")".utf8))
                }
            })
        let (baselineIDs, finalID) = try RunStore.finishSweep(outcome, sweepID: sweepID, context: context, in: db)

        if json {
            print(
                try headJSON(
                    SweepReport(
                        sweepID: sweepID, seconds: outcome.seconds,
                        grid: grids.count == 1 ? .one(grids[0]) : .many(grids),
                        best: try RunReport(id: finalID, in: db), chosenRunID: outcome.best.runID, rankedBy: select,
                        leaderboard: outcome.ranking.map { LeaderboardEntry(point: outcome.points[$0]) },
                        baselines: zip(baselineIDs, outcome.baselines).map { BaselineEntry(id: $0, result: $1) })))
            return
        }
        print("\(describe(set, data, views: base.trainViews))")
        let cv = folds != nil
        var header = ["rank", "run", "model", "optimizer", "lr", "epochs", "batch", "l2", "smoothing", "dropout"]
        header += cv ? ["cv acc", "± std", "cv loss", "val acc"] : ["val acc", "val loss"]
        var t = TextTable(header, left: [2, 3])
        for (rank, i) in outcome.ranking.prefix(top).enumerated() {
            let r = outcome.points[i]
            let c = r.config
            var row = [
                "\(rank + 1)", "\(r.runID)", c.model.rawValue, c.optimizer.rawValue, compact(c.learningRate),
                "\(c.epochs)",
                "\(c.batchSize)", compact(c.l2), compact(c.labelSmoothing), compact(c.dropout),
            ]
            if let v = r.crossValidation {
                row += [fixed(v.meanAccuracy), fixed(v.stdAccuracy), fixed(v.meanLoss), fixed(r.val?.accuracy)]
            } else {
                row += [fixed(r.val?.accuracy), fixed(r.val?.loss)]
            }
            t.add(row)
        }
        print(
            "top \(min(top, outcome.points.count)) of \(outcome.points.count) by \(cv ? "cross-validation" : "val") \(select.description)\(tta ? " (test-time flips)" : ""):"
        )
        print(t.render(), terminator: "")
        if !outcome.baselines.isEmpty {
            print("baselines on the same split:")
            var b = TextTable(["run", "model", "val acc", "test acc"], left: [1])
            for (id, r) in zip(baselineIDs, outcome.baselines) {
                b.add([
                    "\(id)", r.config.model == .knn ? "\(r.config.k ?? 0)-NN (cosine)" : "nearest centroid (cosine)",
                    fixed(r.val?.accuracy), fixed(r.test?.accuracy),
                ])
            }
            print(b.render(indent: "  "), terminator: "")
        }
        print(
            "best on \(cv ? "cross-validation" : "validation"): run \(outcome.best.runID): \(describe(outcome.best.config))"
        )
        if let refit = outcome.refit {
            print(
                "refit: run \(finalID), the same config on train+val (\(refit.config.epochs) epochs, \(data.train.rows + data.val.rows) training rows)"
            )
            print(
                "  test accuracy \(fixed(refit.test?.accuracy))\(tta ? " with test-time flips" : "") (test used for this run only)"
            )
        } else {
            print(
                "  val accuracy \(fixed(outcome.best.val?.accuracy)), test accuracy \(fixed(outcome.best.test?.accuracy)) (test used for this report only)"
            )
        }
        let count = outcome.points.count + outcome.baselines.count + (outcome.refit == nil ? 0 : 1)
        print(
            "saved sweep \(sweepID) (\(count) runs) in \(store.db); `best` is run \(finalID) (\(fixed(outcome.seconds, 2)) s)"
        )
    }

    /// `sweeps.grid`: the grid (or one per model kind) and the settings that make it this sweep, so an
    /// interrupted run is found again by the same command.
    func planJSON(_ grids: [SweepGrid], base: TrainingConfig) throws -> String {
        var settings = base
        settings.epochs = 0
        let body = try headJSON(
            PlanJSON(
                grid: grids.count == 1 ? .one(grids[0]) : .many(grids),
                settings: PlanSettings(
                    base: settings, folds: folds, refit: !noRefit, tta: tta, select: select, baselines: !noBaselines)))
        return body
    }

    /// Whether backbone `id` has maps stored (a version-1 database has no maps table at all).
    func hasMaps(_ db: Connection, backbone id: Int64) throws -> Bool {
        guard try db.scalar("SELECT count(*) FROM sqlite_schema WHERE name = 'maps'")?.int ?? 0 > 0 else {
            return false
        }
        return try db.scalar("SELECT EXISTS (SELECT 1 FROM maps WHERE backbone_id = ?1)", [.integer(id)])?.int == 1
    }

    /// The maps of the vectors' backbone; every image with vectors must have its maps, so both kinds
    /// are ranked on the same val images.
    func loadMaps(_ db: Connection, matching set: EmbeddingSet) throws -> EmbeddingSet {
        let maps = try EmbeddingSet.load(from: db, backbone: set.backbone.id, maps: true)
        let missing = Set(zip(set.imageIDs, set.views).map { "\($0) \($1)" }).subtracting(
            zip(maps.imageIDs, maps.views).map { "\($0) \($1)" })
        if !missing.isEmpty {
            throw HeadError.invalid(
                "\(set.path): \(missing.count) vectors of backbone \(set.backbone.id) have no maps: run `tlearn extract --maps` with the same --views to add them"
            )
        }
        return maps
    }

    /// `--tta` needs every val and test image's hflip view, for each kind.
    func requireFlips(_ inputs: SweepInputs, set: EmbeddingSet) throws {
        for (kind, d) in inputs.data
        where (d.val.rows > 0 && d.valFlipped == nil) || (d.test.rows > 0 && d.testFlipped == nil) {
            throw HeadError.invalid(
                "--tta needs the hflip view of every val and test image, and some have none\(kind.readsMaps ? " (maps)" : ""): extract with --views orig,hflip"
            )
        }
    }
}

/// Each model kind's default sweep axes, chosen by cross-validation (README "Training").
enum SweepDefaults {
    static let softmax = SweepGrid(
        models: [.softmax], optimizers: [.adam], learningRates: [3e-4, 1e-3, 3e-3], epochs: [10, 20, 40, 80],
        batchSizes: [32], l2s: [0], labelSmoothings: [0], dropouts: [0, 0.2])
    static let finetune = SweepGrid(
        models: [.finetune], optimizers: [.adam], learningRates: [1e-4, 3e-4], epochs: [10, 20],
        batchSizes: [32], l2s: [0], labelSmoothings: [0], dropouts: [0.2])

    static func grid(_ kind: ModelKind) -> SweepGrid { kind == .finetune ? finetune : softmax }
}

extension SweepGrid {
    /// "lr 1e-4,3e-4 x epochs 5,10 x ...", the axes with more than one value and the others' value.
    var summary: String {
        var parts = [
            "lr \(learningRates.map(compact).joined(separator: ","))",
            "epochs \(epochs.map(String.init).joined(separator: ","))",
        ]
        if batchSizes != [32] { parts.append("batch \(batchSizes.map(String.init).joined(separator: ","))") }
        if dropouts != [0] { parts.append("dropout \(dropouts.map(compact).joined(separator: ","))") }
        return parts.joined(separator: " x ")
    }
}

struct LeaderboardEntry: Encodable {
    let point: SweepPoint
    enum Key: String, CodingKey {
        case runID = "run_id"
        case config
        case valAccuracy = "val_accuracy"
        case valLoss = "val_loss"
        case cv = "cross_validation"
    }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(point.runID, forKey: .runID)
        try c.encode(point.config, forKey: .config)
        try c.encode(point.val?.accuracy, forKey: .valAccuracy)
        try c.encode(point.val?.loss, forKey: .valLoss)
        if let cv = point.crossValidation { try c.encode(cv, forKey: .cv) }
    }
}

/// The plan a sweep stores in `sweeps.grid`: its grid(s) with the settings every point shares.
struct PlanJSON: Encodable {
    let grid: GridJSON
    let settings: PlanSettings
    enum Key: String, CodingKey { case settings }
    func encode(to encoder: Encoder) throws {
        try grid.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(settings, forKey: .settings)
    }
}

struct PlanSettings: Encodable {
    let base: TrainingConfig
    let folds: Int?
    let refit: Bool
    let tta: Bool
    let select: SweepSelection
    let baselines: Bool
    enum CodingKeys: String, CodingKey { case base, folds, refit, tta, select, baselines }
}

/// The database connection handed to the sweep's worker threads, which save points one at a time.
struct UncheckedConnection: @unchecked Sendable {
    let db: Connection
    init(_ db: Connection) { self.db = db }
}

struct BaselineEntry: Encodable {
    let id: Int64
    let result: BaselineResult
    enum Key: String, CodingKey {
        case runID = "run_id"
        case config
        case valAccuracy = "val_accuracy"
        case testAccuracy = "test_accuracy"
    }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(id, forKey: .runID)
        try c.encode(result.config, forKey: .config)
        try c.encode(result.val?.accuracy, forKey: .valAccuracy)
        try c.encode(result.test?.accuracy, forKey: .testAccuracy)
    }
}

/// The grid of a sweep as JSON: one grid, or one per model kind.
enum GridJSON: Encodable {
    case one(SweepGrid)
    case many([SweepGrid])
    func encode(to encoder: Encoder) throws {
        switch self {
        case .one(let g): try g.encode(to: encoder)
        case .many(let gs): try ["grids": gs].encode(to: encoder)
        }
    }
}

struct SweepReport: Encodable {
    let sweepID: Int64
    let seconds: Double
    let grid: GridJSON
    /// The sweep's final run (the refit, else the best point): what `best` names.
    let best: RunReport
    /// The leaderboard's winner, whose config the refit trained again.
    let chosenRunID: Int64
    /// What the leaderboard is ordered by: loss or accuracy (on val, or the fold means).
    let rankedBy: SweepSelection
    let leaderboard: [LeaderboardEntry]
    let baselines: [BaselineEntry]
    enum CodingKeys: String, CodingKey {
        case sweepID = "sweep_id"
        case seconds, grid, best
        case chosenRunID = "chosen_run_id"
        case rankedBy = "ranked_by"
        case leaderboard, baselines
    }
}
