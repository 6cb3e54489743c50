import Dispatch
import Formats
import FoundationEssentials
import Kernels
import Store
import Synchronization

/// The axes of a sweep; the grid is their Cartesian product (`sweeps.grid` JSON).
public struct SweepGrid: Codable, Equatable, Sendable {
    public var models: [ModelKind]
    public var optimizers: [OptimizerKind]
    public var learningRates: [Double]
    public var epochs: [Int]
    public var batchSizes: [Int]
    public var l2s: [Double]
    public var labelSmoothings: [Double]
    public var dropouts: [Double]

    public init(
        models: [ModelKind] = [.softmax], optimizers: [OptimizerKind] = [.adam], learningRates: [Double] = [1e-3],
        epochs: [Int] = [5], batchSizes: [Int] = [32], l2s: [Double] = [0], labelSmoothings: [Double] = [0],
        dropouts: [Double] = [0]
    ) {
        self.models = models
        self.optimizers = optimizers
        self.learningRates = learningRates
        self.epochs = epochs
        self.batchSizes = batchSizes
        self.l2s = l2s
        self.labelSmoothings = labelSmoothings
        self.dropouts = dropouts
    }

    enum CodingKeys: String, CodingKey {
        case models = "model"
        case optimizers = "optimizer"
        case learningRates = "lr"
        case epochs
        case batchSizes = "batch_size"
        case l2s = "l2"
        case labelSmoothings = "label_smoothing"
        case dropouts = "dropout"
    }

    /// Reads a stored grid; axes an earlier tlearn did not write (model, dropout) take their one default value.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SweepGrid()
        models = try c.decodeIfPresent([ModelKind].self, forKey: .models) ?? d.models
        optimizers = try c.decodeIfPresent([OptimizerKind].self, forKey: .optimizers) ?? d.optimizers
        learningRates = try c.decodeIfPresent([Double].self, forKey: .learningRates) ?? d.learningRates
        epochs = try c.decodeIfPresent([Int].self, forKey: .epochs) ?? d.epochs
        batchSizes = try c.decodeIfPresent([Int].self, forKey: .batchSizes) ?? d.batchSizes
        l2s = try c.decodeIfPresent([Double].self, forKey: .l2s) ?? d.l2s
        labelSmoothings = try c.decodeIfPresent([Double].self, forKey: .labelSmoothings) ?? d.labelSmoothings
        dropouts = try c.decodeIfPresent([Double].self, forKey: .dropouts) ?? d.dropouts
    }

    /// Grid points, epochs axis included.
    public var count: Int {
        models.count * optimizers.count * learningRates.count * epochs.count * batchSizes.count * l2s.count
            * labelSmoothings.count * dropouts.count
    }

    /// One config per grid point without the epochs axis (each trains to the largest epoch count),
    /// in axis order: model, optimizer, lr, batch size, l2, label smoothing, dropout. `base` supplies
    /// the rest; its momentum and nesterov apply to the sgd points only.
    public func trainings(base: TrainingConfig) throws -> [TrainingConfig] {
        let axes: [(String, [String])] = [
            ("--model", models.map(\.rawValue)), ("--optimizer", optimizers.map(\.rawValue)),
            ("--lr", learningRates.map { "\($0)" }),
            ("--epochs", epochs.map { "\($0)" }), ("--batch-size", batchSizes.map { "\($0)" }),
            ("--l2", l2s.map { "\($0)" }),
            ("--label-smoothing", labelSmoothings.map { "\($0)" }), ("--dropout", dropouts.map { "\($0)" }),
        ]
        if let empty = axes.first(where: { $0.1.isEmpty }) {
            throw HeadError.invalid("the sweep grid is empty: \(empty.0) has no values")
        }
        for (name, values) in axes where Set(values).count != values.count {
            throw HeadError.invalid("\(name) lists a value twice: \(values.joined(separator: ","))")
        }
        for e in epochs where e < 1 { throw HeadError.invalid("epochs must be at least 1, got \(e)") }
        var out: [TrainingConfig] = []
        for m in models {
            for o in optimizers {
                for lr in learningRates {
                    for b in batchSizes {
                        for l2 in l2s {
                            for s in labelSmoothings {
                                for d in dropouts {
                                    var c = base
                                    c.model = m
                                    c.optimizer = o
                                    c.learningRate = lr
                                    c.epochs = epochs.max()!
                                    c.batchSize = b
                                    c.l2 = l2
                                    c.labelSmoothing = s
                                    c.dropout = d
                                    if o == .adam {
                                        c.momentum = 0
                                        c.nesterov = false
                                    }
                                    try c.validate()
                                    out.append(c)
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// What a sweep trains on, per model kind: the split's training data, the cross-validation folds,
/// and train+val for the refit. Every kind's rows are the same images (vectors or their maps).
public struct SweepInputs: Sendable {
    public var data: [ModelKind: TrainingData]
    public var folds: [ModelKind: [TrainingData]]
    public var refit: [ModelKind: TrainingData]

    public init(
        data: [ModelKind: TrainingData], folds: [ModelKind: [TrainingData]] = [:],
        refit: [ModelKind: TrainingData] = [:]
    ) {
        self.data = data
        self.folds = folds
        self.refit = refit
    }
}

/// One grid point as a sweep ranks it: its settings, its val (or cross-validation) result, and
/// the run it was saved as.
public struct SweepPoint: Sendable {
    /// The settings, with `epochs` the count this point's model was taken at.
    public let config: TrainingConfig
    public let val: SplitMetrics?
    /// Test metrics, without a refit only (every point is then evaluated on test).
    public let test: SplitMetrics?
    public let crossValidation: CrossValidation?
    /// The epoch whose weights the point kept (early stopping can keep an earlier one).
    public let weightsEpoch: Int
    /// The `runs` row the point was saved as.
    public let runID: Int64

    public init(
        config: TrainingConfig, val: SplitMetrics?, test: SplitMetrics?, crossValidation: CrossValidation?,
        weightsEpoch: Int,
        runID: Int64
    ) {
        self.config = config
        self.val = val
        self.test = test
        self.crossValidation = crossValidation
        self.weightsEpoch = weightsEpoch
        self.runID = runID
    }
}

/// Everything a sweep produced.
public struct SweepOutcome: Sendable {
    /// One point per grid point, epochs axis included, in grid order (saved or found saved).
    public let points: [SweepPoint]
    /// Indices into `points`, best first (`SweepSelection.ranking` of the CV means when
    /// cross-validated, else of the val scores).
    public let ranking: [Int]
    /// Nearest centroid and k-NN on the same split; empty with `baselines: false`.
    public let baselines: [BaselineResult]
    /// The best point's config trained again on train+val, with its test metrics; nil without a refit.
    public let refit: RunResult?
    /// Trainings run this time (the others were found saved by an earlier, interrupted run).
    public let trained: Int
    public let seconds: Double

    /// The best point on validation.
    public var best: SweepPoint { points[ranking[0]] }
}

/// Stratified folds over the train and val images for cross-validation: per class, images in
/// id order shuffled with `seed` and dealt round-robin. Fold f validates on its own images
/// (original view) and trains on the others' (`trainViews`).
extension EmbeddingSet {
    public func crossValidationFolds(_ k: Int, trainViews: [View], seed: Int64) throws -> [TrainingData] {
        guard k >= 2 else { throw HeadError.invalid("--folds must be at least 2, got \(k)") }
        var imagesByClass = [[Int64]](repeating: [], count: classes.count)
        var seen = Set<Int64>()
        for i in 0..<count where partitions[i] != .test && seen.insert(imageIDs[i]).inserted {
            imagesByClass[Int(labels[i])].append(imageIDs[i])
        }
        var fold: [Int64: Int] = [:]
        var rng = SplitMix64(seed: UInt64(seed))
        for (c, var ids) in imagesByClass.enumerated() {
            if ids.count < k {
                throw HeadError.invalid(
                    "\(path): class '\(classes[c])' has \(ids.count) train+val images, fewer than --folds \(k)")
            }
            ids.sort()
            rng.shuffle(&ids)
            for (j, id) in ids.enumerated() { fold[id] = j % k }
        }
        return (0..<k).map { f in
            let trainRows = (0..<count).filter {
                fold[imageIDs[$0]].map { $0 != f } ?? false && trainViews.contains(views[$0])
            }
            let valRows = (0..<count).filter { fold[imageIDs[$0]] == f && views[$0] == .orig }
            return TrainingData(
                classes: classes, dim: dim, map: map, top: top, train: matrix(trainRows), val: matrix(valRows),
                test: matrix([]))
        }
    }
}

/// `runSweep` over vectors alone (the softmax kind), points kept in memory: as the tests call it.
public func runSweep(
    _ data: TrainingData, grid: SweepGrid, base: TrainingConfig, folds: [TrainingData] = [],
    refit: TrainingData? = nil, select: SweepSelection = .loss, jobs: Int
) throws -> SweepOutcome {
    let next = Mutex<Int64>(0)
    return try runSweep(
        SweepInputs(
            data: [.softmax: data], folds: folds.isEmpty ? [:] : [.softmax: folds],
            refit: refit.map { [.softmax: $0] } ?? [:]),
        grids: [grid], base: base, jobs: jobs, refit: refit != nil, select: select,
        save: { _ in
            next.withLock {
                $0 += 1
                return $0
            }
        })
}

/// Runs every grid point on `jobs` threads: each training goes to the largest epoch count and records
/// every requested count on the way. Points are ranked by `select` on val, or with folds (each point
/// then also trains once per fold) on the means over the folds. Baselines run on the vectors' split.
/// With `refit`, the best point's config is trained again on train+val (for the epochs its kept
/// weights had) and only that run is evaluated on test (GridSearchCV's refit); without, every point's
/// test metrics are computed as before. With `tta`, val and test are scored on the mean of the orig
/// and hflip views' probabilities.
///
/// Each training's points go to `save` (on a worker thread, one call at a time) as soon as it and its
/// folds are done, so an interrupted sweep keeps them; `existing` returns the points an earlier run of
/// the same sweep saved, which are not trained again.
public func runSweep(
    _ inputs: SweepInputs, grids: [SweepGrid], base: TrainingConfig, jobs: Int, refit: Bool, tta: Bool = false,
    select: SweepSelection = .loss, baselines: Bool = true, existing: (TrainingConfig) -> SweepPoint? = { _ in nil },
    save: @escaping @Sendable (RunResult) throws -> Int64,
    progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil
) throws -> SweepOutcome {
    let start = ContinuousClock.now
    // Each grid (one per model kind, so each kind has axes of its own) adds its trainings and their epoch counts.
    let plan = try grids.flatMap { grid in
        try grid.trainings(base: base).map { (config: $0, epochs: grid.epochs.sorted()) }
    }
    guard !plan.isEmpty else { throw HeadError.invalid("the sweep grid is empty") }
    guard let vectors = inputs.data[.softmax] else {
        throw HeadError.invalid("a sweep needs the vectors (for its baselines)")
    }
    try requireTwoClasses(vectors.classes)
    for kind in Set(plan.map(\.config.model)) where inputs.data[kind] == nil {
        throw HeadError.invalid("no \(kind.readsMaps ? "maps" : "vectors") to train \(kind.rawValue) models on")
    }
    let crossValidated = !inputs.folds.isEmpty
    if vectors.val.rows == 0 && !crossValidated {
        throw HeadError.invalid(
            "a sweep picks the best run on validation, and the val split is empty: re-split with a val share or use --folds K"
        )
    }
    if refit {
        for kind in Set(plan.map(\.config.model)) where inputs.refit[kind] == nil {
            throw HeadError.invalid("no train+val data to refit \(kind.rawValue) models on")
        }
    }

    // Points an earlier run saved: a training is skipped when all its epoch counts are there.
    func checkpointConfig(_ t: Int, _ epochs: Int) -> TrainingConfig {
        var c = plan[t].config
        c.epochs = epochs
        return c
    }
    var found = [[SweepPoint]?](repeating: nil, count: plan.count)
    for t in plan.indices {
        let points = plan[t].epochs.compactMap { existing(checkpointConfig(t, $0)) }
        if points.count == plan[t].epochs.count { found[t] = points }
    }
    let pending = plan.indices.filter { found[$0] == nil }

    // Task p * (1 + folds) + 0 trains pending training p on the split; + 1 + f on fold f.
    let perPoint = 1 + (inputs.folds.values.first?.count ?? 0)
    let taskCount = pending.count * perPoint
    // The longest first, so no thread is left with a long tail: finetune trainings, then small batches (the most steps).
    func cost(_ task: Int) -> (Int, Int, Int) {
        let c = plan[pending[task / perPoint]].config
        return (c.model.readsMaps ? 0 : 1, c.batchSize, task)
    }
    let order = (0..<taskCount).sorted { cost($0) < cost($1) }
    let workers = max(1, min(jobs, taskCount))
    let threadsPerTask = max(1, jobs / workers)
    BLASThreads.set(1)
    struct State {
        var next = 0, done = 0
        var results: [[RunResult]?]
        var foldsLeft: [Int]
        var points: [[SweepPoint]?]
        var error: Error?
    }
    let state = Mutex(
        State(
            results: Array(repeating: nil, count: taskCount),
            foldsLeft: Array(repeating: perPoint, count: pending.count),
            points: found))
    let total = taskCount + (refit ? 1 : 0)
    DispatchQueue.concurrentPerform(iterations: taskCount == 0 ? 0 : workers) { _ in
        while true {
            let claimed: Int? = state.withLock { s in
                guard s.error == nil, s.next < taskCount else { return nil }
                s.next += 1
                return order[s.next - 1]
            }
            guard let task = claimed else { return }
            let p = task / perPoint
            let fold = task % perPoint
            let t = pending[p]
            let config = plan[t].config
            do {
                let data = fold == 0 ? inputs.data[config.model]! : inputs.folds[config.model]![fold - 1]
                let result = try trainAndEvaluate(
                    data, config: config, epochCounts: plan[t].epochs, threads: threadsPerTask,
                    evaluateTest: fold == 0 && !refit, tta: tta && fold == 0)
                try state.withLock { s in
                    s.results[task] = result
                    s.done += 1
                    s.foldsLeft[p] -= 1
                    if s.foldsLeft[p] == 0 {
                        // The training and its folds are done: its points are complete, save them now.
                        var points: [SweepPoint] = []
                        for (i, var run) in s.results[p * perPoint]!.enumerated() {
                            if perPoint > 1 {
                                let foldRuns = (1..<perPoint).map { s.results[p * perPoint + $0]![i] }
                                run.crossValidation = CrossValidation(
                                    folds: perPoint - 1, accuracies: foldRuns.map { $0.val?.accuracy ?? 0 },
                                    losses: foldRuns.map { $0.val?.loss ?? .infinity })
                            }
                            let id = try save(run)
                            points.append(
                                SweepPoint(
                                    config: run.config, val: run.val, test: run.test,
                                    crossValidation: run.crossValidation,
                                    weightsEpoch: run.checkpoint.weightsEpoch, runID: id))
                        }
                        s.points[t] = points
                        for f in 0..<perPoint { s.results[p * perPoint + f] = nil }  // models are saved; free them
                    }
                    progress?(s.done, total)
                }
            } catch {
                state.withLock { if $0.error == nil { $0.error = error } }
            }
        }
    }
    let (collected, failure) = state.withLock { ($0.points, $0.error) }
    if let failure { throw failure }

    let points = collected.flatMap { $0! }
    let ranking = select.ranking(
        points.map { r in
            r.crossValidation.map { ($0.meanAccuracy, $0.meanLoss) } ?? (r.val?.accuracy, r.val?.loss)
        })
    let baselineResults =
        baselines ? [nearestCentroidBaseline(vectors, threads: jobs), knnBaseline(vectors, k: 5, threads: jobs)] : []
    var refitRun: RunResult? = nil
    if refit {
        let chosen = points[ranking[0]]
        var config = chosen.config
        // Train+val has no val rows to stop on: train for as many epochs as the chosen weights had.
        config.epochs = chosen.weightsEpoch
        config.earlyStopping = nil
        refitRun = try trainAndEvaluate(
            inputs.refit[config.model]!, config: config, threads: jobs, evaluateTest: true, tta: tta)[0]
        refitRun!.isRefit = true
        progress?(total, total)
    }
    return SweepOutcome(
        points: points, ranking: ranking, baselines: baselineResults, refit: refitRun, trained: pending.count,
        seconds: Double((ContinuousClock.now - start) / .seconds(1)))
}

extension RunStore {
    /// Starts a sweep (its `sweeps` row, with `best_run_id` NULL until it finishes), or finds the
    /// unfinished one an interrupted run of the same sweep left: same plan text, on the same
    /// backbone and split. Returns its id and whether it was found.
    public static func beginSweep(plan: String, context: RunContext, in db: Connection) throws -> (
        id: Int64, resumed: Bool
    ) {
        let rows = try db.rows(
            """
            SELECT s.id FROM sweeps s WHERE s.best_run_id IS NULL AND s.grid = ?1
              AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.sweep_id = s.id AND (r.backbone_id != ?2 OR r.split_fingerprint != ?3))
            ORDER BY s.id DESC LIMIT 1
            """, [.text(plan), .integer(context.backboneID), .text(context.splitFingerprint)])
        if let id = rows.first?[0].int { return (id, true) }
        try db.run("INSERT INTO sweeps (grid) VALUES (?1)", [.text(plan)])
        return (db.lastInsertRowID, false)
    }

    /// The trained points sweep `id` has saved, by their stored config (to skip them when resuming).
    public static func sweepPoints(_ id: Int64, in db: Connection) throws -> [String: SweepPoint] {
        var out: [String: SweepPoint] = [:]
        for r in try db.rows(
            "SELECT id, config, metrics FROM runs WHERE sweep_id = ?1 AND json_extract(metrics, '$.refit_of') IS NULL",
            [.integer(id)])
        {
            guard let runID = r[0].int, let configJSON = r[1].string, let metricsJSON = r[2].string,
                let config = try? JSONDecoder().decode(TrainingConfig.self, from: Data(configJSON.utf8)),
                config.model.isTrained,
                let metrics = try? JSONDecoder().decode(RunMetrics.self, from: Data(metricsJSON.utf8))
            else { continue }
            out[try json(config)] = SweepPoint(
                config: config, val: metrics.val, test: metrics.test, crossValidation: metrics.crossValidation,
                weightsEpoch: metrics.weightsEpoch ?? config.epochs, runID: runID)
        }
        return out
    }

    /// The key `sweepPoints` files a point under.
    public static func pointKey(_ config: TrainingConfig) -> String { (try? json(config)) ?? "" }

    /// Saves one trained point of sweep `sweepID` in its own transaction; returns its run id.
    public static func savePoint(_ run: RunResult, context: RunContext, sweepID: Int64, in db: Connection) throws
        -> Int64
    {
        try db.transaction { try save(run, context: context, sweepID: sweepID, in: db) }
    }

    /// Finishes sweep `sweepID`: saves the baselines and the refit, and sets `best_run_id` to the final run
    /// (the refit, else the best point), which `best` names. Returns the baselines' ids and the final run's.
    public static func finishSweep(_ outcome: SweepOutcome, sweepID: Int64, context: RunContext, in db: Connection)
        throws
        -> (baselineIDs: [Int64], finalID: Int64)
    {
        try db.transaction {
            let baselineIDs = try outcome.baselines.map {
                try saveBaseline($0, context: context, sweepID: sweepID, in: db)
            }
            let bestID = outcome.best.runID
            let finalID =
                try outcome.refit.map { try save($0, context: context, sweepID: sweepID, refitOf: bestID, in: db) }
                ?? bestID
            try db.run("UPDATE sweeps SET best_run_id = ?1 WHERE id = ?2", [.integer(finalID), .integer(sweepID)])
            return (baselineIDs, finalID)
        }
    }
}
