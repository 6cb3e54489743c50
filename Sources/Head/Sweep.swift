import Dispatch
import Synchronization
import Formats
import Kernels
import Store

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

    public init(models: [ModelKind] = [.softmax], optimizers: [OptimizerKind] = [.adam], learningRates: [Double] = [1e-3],
                epochs: [Int] = [5], batchSizes: [Int] = [32], l2s: [Double] = [0], labelSmoothings: [Double] = [0],
                dropouts: [Double] = [0]) {
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
        case models = "model", optimizers = "optimizer", learningRates = "lr", epochs, batchSizes = "batch_size", l2s = "l2"
        case labelSmoothings = "label_smoothing", dropouts = "dropout"
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
            ("--model", models.map(\.rawValue)), ("--optimizer", optimizers.map(\.rawValue)), ("--lr", learningRates.map { "\($0)" }),
            ("--epochs", epochs.map { "\($0)" }), ("--batch-size", batchSizes.map { "\($0)" }), ("--l2", l2s.map { "\($0)" }),
            ("--label-smoothing", labelSmoothings.map { "\($0)" }), ("--dropout", dropouts.map { "\($0)" }),
        ]
        if let empty = axes.first(where: { $0.1.isEmpty }) { throw HeadError.invalid("the sweep grid is empty: \(empty.0) has no values") }
        for (name, values) in axes where Set(values).count != values.count {
            throw HeadError.invalid("\(name) lists a value twice: \(values.joined(separator: ","))")
        }
        for e in epochs where e < 1 { throw HeadError.invalid("epochs must be at least 1, got \(e)") }
        var out: [TrainingConfig] = []
        for m in models { for o in optimizers { for lr in learningRates { for b in batchSizes { for l2 in l2s {
            for s in labelSmoothings { for d in dropouts {
                var c = base
                c.model = m
                c.optimizer = o
                c.learningRate = lr
                c.epochs = epochs.max()!
                c.batchSize = b
                c.l2 = l2
                c.labelSmoothing = s
                c.dropout = d
                if o == .adam { c.momentum = 0; c.nesterov = false }
                try c.validate()
                out.append(c)
            } }
        } } } } }
        return out
    }
}

/// What a sweep trains on, per model kind: the split's training data, the cross-validation folds,
/// and train+val for the refit. Every kind's rows are the same images (vectors or their maps).
public struct SweepInputs: Sendable {
    public var data: [ModelKind: TrainingData]
    public var folds: [ModelKind: [TrainingData]]
    public var refit: [ModelKind: TrainingData]

    public init(data: [ModelKind: TrainingData], folds: [ModelKind: [TrainingData]] = [:], refit: [ModelKind: TrainingData] = [:]) {
        self.data = data
        self.folds = folds
        self.refit = refit
    }
}

/// Everything a sweep produced, before it is saved.
public struct SweepOutcome: Sendable {
    /// One run per grid point, epochs axis included.
    public let runs: [RunResult]
    /// Indices into `runs`, best first: by CV accuracy when cross-validated, else val accuracy;
    /// then the matching loss; then grid order.
    public let ranking: [Int]
    public let baselines: [BaselineResult]
    /// The best point's config trained again on train+val, with its test metrics; nil with `--no-refit`.
    public let refit: RunResult?
    public let seconds: Double

    /// The best point on validation.
    public var best: RunResult { runs[ranking[0]] }
    /// The sweep's final run: the refit when there is one, else the best point.
    public var final: RunResult { refit ?? best }
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
                throw HeadError.invalid("\(path): class '\(classes[c])' has \(ids.count) train+val images, fewer than --folds \(k)")
            }
            ids.sort()
            rng.shuffle(&ids)
            for (j, id) in ids.enumerated() { fold[id] = j % k }
        }
        return (0..<k).map { f in
            let trainRows = (0..<count).filter { fold[imageIDs[$0]].map { $0 != f } ?? false && trainViews.contains(views[$0]) }
            let valRows = (0..<count).filter { fold[imageIDs[$0]] == f && views[$0] == .orig }
            return TrainingData(classes: classes, dim: dim, map: map, top: top, train: matrix(trainRows), val: matrix(valRows),
                                test: matrix([]))
        }
    }
}

/// `runSweep` over vectors alone (the softmax kind), as the tests and the benchmark call it.
public func runSweep(_ data: TrainingData, grid: SweepGrid, base: TrainingConfig, folds: [TrainingData] = [],
                     refit: TrainingData? = nil, jobs: Int, progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) throws -> SweepOutcome {
    try runSweep(SweepInputs(data: [.softmax: data], folds: folds.isEmpty ? [:] : [.softmax: folds], refit: refit.map { [.softmax: $0] } ?? [:]),
                 grids: [grid], base: base, jobs: jobs, refit: refit != nil, progress: progress)
}

/// Runs every grid point on `jobs` threads: each training goes to the largest epoch count and records
/// every requested count on the way. With folds, each point also trains once per fold and is ranked by
/// mean fold val accuracy. Baselines run on the vectors' split. With `refit`, the best point's config
/// is trained again on train+val (for the epochs its kept weights had) and only that run is evaluated
/// on test (GridSearchCV's refit); without, every point's test metrics are computed as before. With
/// `tta`, val and test are scored on the mean of the orig and hflip views' probabilities.
public func runSweep(_ inputs: SweepInputs, grids: [SweepGrid], base: TrainingConfig, jobs: Int, refit: Bool, tta: Bool = false,
                     progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) throws -> SweepOutcome {
    let start = ContinuousClock.now
    // Each grid (one per model kind, so each kind has axes of its own) adds its trainings and their epoch counts.
    var plan: [(config: TrainingConfig, epochs: [Int])] = []
    for grid in grids { plan += try grid.trainings(base: base).map { ($0, grid.epochs) } }
    let trainings = plan.map(\.config), epochCounts = plan.map(\.epochs)
    guard !trainings.isEmpty else { throw HeadError.invalid("the sweep grid is empty") }
    guard let vectors = inputs.data[.softmax] else { throw HeadError.invalid("a sweep needs the vectors (for its baselines)") }
    try requireTwoClasses(vectors.classes)
    for kind in Set(trainings.map(\.model)) where inputs.data[kind] == nil {
        throw HeadError.invalid("no \(kind.readsMaps ? "maps" : "vectors") to train \(kind.rawValue) models on")
    }
    let crossValidated = !inputs.folds.isEmpty
    if vectors.val.rows == 0 && !crossValidated {
        throw HeadError.invalid("a sweep picks the best run on validation, and the val split is empty: re-split with a val share or use --folds K")
    }
    if refit { for kind in Set(trainings.map(\.model)) where inputs.refit[kind] == nil { throw HeadError.invalid("no train+val data to refit \(kind.rawValue) models on") } }
    // Task t * (1 + folds) + 0 trains on the split; + 1 + f on fold f.
    let perPoint = 1 + (inputs.folds.values.first?.count ?? 0)
    let taskCount = trainings.count * perPoint
    // The longest first, so no thread is left with a long tail: finetune trainings, then small batches (the most steps).
    func cost(_ t: Int) -> (Int, Int, Int) {
        let c = trainings[t / perPoint]
        return (c.model.readsMaps ? 0 : 1, c.batchSize, t)
    }
    let order = (0..<taskCount).sorted { cost($0) < cost($1) }
    let workers = max(1, min(jobs, taskCount))
    let threadsPerTask = max(1, jobs / workers)
    BLASThreads.set(1)
    let state = Mutex<(next: Int, done: Int, results: [[RunResult]?], error: Error?)>((0, 0, Array(repeating: nil, count: taskCount), nil))
    let total = taskCount + (refit ? 1 : 0)
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
            let claimed: Int? = state.withLock { s in
                guard s.error == nil, s.next < taskCount else { return nil }
                s.next += 1
                return order[s.next - 1]
            }
            guard let task = claimed else { return }
            let fold = task % perPoint
            let config = trainings[task / perPoint]
            do {
                let data = fold == 0 ? inputs.data[config.model]! : inputs.folds[config.model]![fold - 1]
                let result = try trainAndEvaluate(data, config: config, epochCounts: epochCounts[task / perPoint], threads: threadsPerTask,
                                                  evaluateTest: fold == 0 && !refit, tta: tta && fold == 0)
                state.withLock {
                    $0.results[task] = result
                    $0.done += 1
                    progress?($0.done, total)
                }
            } catch {
                state.withLock { if $0.error == nil { $0.error = error } }
            }
        }
    }
    let (results, failure) = state.withLock { ($0.results, $0.error) }
    if let failure { throw failure }

    var runs: [RunResult] = []
    for t in trainings.indices {
        let main = results[t * perPoint]!
        for (i, var run) in main.enumerated() {
            if perPoint > 1 {
                let foldRuns = (1..<perPoint).map { results[t * perPoint + $0]![i] }
                run.crossValidation = CrossValidation(folds: perPoint - 1, accuracies: foldRuns.map { $0.val?.accuracy ?? 0 },
                                                      losses: foldRuns.map { $0.val?.loss ?? .infinity })
            }
            runs.append(run)
        }
    }
    func key(_ r: RunResult) -> (Double, Double) {
        let (a, l) = r.crossValidation.map { ($0.meanAccuracy, $0.meanLoss) } ?? (r.val?.accuracy ?? 0, r.val?.loss ?? .infinity)
        return (a.isNaN ? -1 : a, l.isNaN ? .infinity : l)
    }
    let keys = runs.map(key)
    let ranking = runs.indices.sorted { i, j in
        keys[i].0 != keys[j].0 ? keys[i].0 > keys[j].0 : keys[i].1 != keys[j].1 ? keys[i].1 < keys[j].1 : i < j
    }
    let baselines = [nearestCentroidBaseline(vectors), knnBaseline(vectors, k: 5)]
    var refitRun: RunResult? = nil
    if refit {
        let chosen = runs[ranking[0]]
        var config = chosen.config
        // Train+val has no val rows to stop on: train for as many epochs as the chosen weights had.
        config.epochs = chosen.checkpoint.weightsEpoch
        config.earlyStopping = nil
        refitRun = try trainAndEvaluate(inputs.refit[config.model]!, config: config, threads: jobs, evaluateTest: true, tta: tta)[0]
        refitRun!.isRefit = true
        progress?(total, total)
    }
    return SweepOutcome(runs: runs, ranking: ranking, baselines: baselines, refit: refitRun,
                        seconds: Double((ContinuousClock.now - start) / .seconds(1)))
}

extension RunStore {
    /// Saves a sweep: its `sweeps` row, one run per grid point, the baselines and the refit, in one
    /// transaction; returns the sweep id, the run ids in `outcome.runs` order and the final run's id
    /// (the refit, else the best point), which `best` names. `sweeps.grid` holds the grid, or
    /// `{"grids": [...]}` when each model kind had axes of its own.
    public static func save(_ outcome: SweepOutcome, grids: [SweepGrid], context: RunContext, in db: Connection) throws
        -> (sweepID: Int64, runIDs: [Int64], baselineIDs: [Int64], finalID: Int64) {
        try db.transaction {
            let gridJSON = grids.count == 1 ? try json(grids[0]) : try json(["grids": grids])
            try db.run("INSERT INTO sweeps (grid) VALUES (?1)", [.text(gridJSON)])
            let sweepID = db.lastInsertRowID
            let ids = try outcome.runs.map { try save($0, context: context, sweepID: sweepID, in: db) }
            let baselineIDs = try outcome.baselines.map { try saveBaseline($0, context: context, sweepID: sweepID, in: db) }
            let bestID = ids[outcome.ranking[0]]
            let finalID = try outcome.refit.map { try save($0, context: context, sweepID: sweepID, refitOf: bestID, in: db) } ?? bestID
            try db.run("UPDATE sweeps SET best_run_id = ?1 WHERE id = ?2", [.integer(finalID), .integer(sweepID)])
            return (sweepID, ids, baselineIDs, finalID)
        }
    }
}
