import Dispatch
import Synchronization
import Kernels
import Store

/// The axes of a sweep; the grid is their Cartesian product (`sweeps.grid` JSON).
public struct SweepGrid: Codable, Equatable, Sendable {
    public var optimizers: [OptimizerKind]
    public var learningRates: [Double]
    public var epochs: [Int]
    public var batchSizes: [Int]
    public var l2s: [Double]
    public var labelSmoothings: [Double]

    public init(optimizers: [OptimizerKind] = [.adam], learningRates: [Double] = [1e-3], epochs: [Int] = [5],
                batchSizes: [Int] = [32], l2s: [Double] = [0], labelSmoothings: [Double] = [0]) {
        self.optimizers = optimizers
        self.learningRates = learningRates
        self.epochs = epochs
        self.batchSizes = batchSizes
        self.l2s = l2s
        self.labelSmoothings = labelSmoothings
    }

    enum CodingKeys: String, CodingKey {
        case optimizers = "optimizer", learningRates = "lr", epochs, batchSizes = "batch_size", l2s = "l2", labelSmoothings = "label_smoothing"
    }

    /// Grid points, epochs axis included.
    public var count: Int {
        optimizers.count * learningRates.count * epochs.count * batchSizes.count * l2s.count * labelSmoothings.count
    }

    /// One config per grid point without the epochs axis (each trains to the largest epoch count),
    /// in axis order: optimizer, lr, batch size, l2, label smoothing. `base` supplies the rest;
    /// its momentum and nesterov apply to the sgd points only.
    public func trainings(base: TrainingConfig) throws -> [TrainingConfig] {
        let axes: [(String, Int)] = [("--optimizer", optimizers.count), ("--lr", learningRates.count), ("--epochs", epochs.count),
                                     ("--batch-size", batchSizes.count), ("--l2", l2s.count), ("--label-smoothing", labelSmoothings.count)]
        if let empty = axes.first(where: { $0.1 == 0 }) { throw HeadError.invalid("the sweep grid is empty: \(empty.0) has no values") }
        for (name, values) in [("--optimizer", optimizers.map(\.rawValue)), ("--lr", learningRates.map { "\($0)" }), ("--epochs", epochs.map { "\($0)" }),
                               ("--batch-size", batchSizes.map { "\($0)" }), ("--l2", l2s.map { "\($0)" }),
                               ("--label-smoothing", labelSmoothings.map { "\($0)" })] where Set(values).count != values.count {
            throw HeadError.invalid("\(name) lists a value twice: \(values.joined(separator: ","))")
        }
        var out: [TrainingConfig] = []
        for o in optimizers { for lr in learningRates { for b in batchSizes { for l2 in l2s { for s in labelSmoothings {
            var c = base
            c.optimizer = o
            c.learningRate = lr
            c.epochs = epochs.max()!
            c.batchSize = b
            c.l2 = l2
            c.labelSmoothing = s
            if o == .adam { c.momentum = 0; c.nesterov = false }
            try c.validate()
            out.append(c)
        } } } } }
        for e in epochs where e < 1 { throw HeadError.invalid("epochs must be at least 1, got \(e)") }
        return out
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
    public let seconds: Double

    public var best: RunResult { runs[ranking[0]] }
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
            return TrainingData(classes: classes, dim: dim, train: matrix(trainRows), val: matrix(valRows), test: matrix([]))
        }
    }
}

/// Runs every grid point on `jobs` threads (one single-threaded BLAS each): each training goes to
/// the largest epoch count and records every requested count on the way. With `folds`, each point
/// also trains once per fold and is ranked by mean fold val accuracy. Baselines run on `data` too.
public func runSweep(_ data: TrainingData, grid: SweepGrid, base: TrainingConfig, folds: [TrainingData] = [],
                     jobs: Int, progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) throws -> SweepOutcome {
    let start = ContinuousClock.now
    let trainings = try grid.trainings(base: base)
    try requireTwoClasses(data.classes)
    if data.val.rows == 0 && folds.isEmpty {
        throw HeadError.invalid("a sweep picks the best run on validation, and the val split is empty: re-split with a val share or use --folds K")
    }
    // Task t * (1 + folds) + 0 trains on `data`; + 1 + f on fold f.
    let perPoint = 1 + folds.count
    let taskCount = trainings.count * perPoint
    // Small batches take the most steps: start them first so no thread is left with a long tail.
    let order = (0..<taskCount).sorted { (trainings[$0 / perPoint].batchSize, $0) < (trainings[$1 / perPoint].batchSize, $1) }
    BLASThreads.set(1)
    let state = Mutex<(next: Int, done: Int, results: [[RunResult]?], error: Error?)>((0, 0, Array(repeating: nil, count: taskCount), nil))
    DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, taskCount))) { _ in
        while true {
            let claimed: Int? = state.withLock { s in
                guard s.error == nil, s.next < taskCount else { return nil }
                s.next += 1
                return order[s.next - 1]
            }
            guard let task = claimed else { return }
            let fold = task % perPoint
            do {
                let result = try trainAndEvaluate(fold == 0 ? data : folds[fold - 1], config: trainings[task / perPoint],
                                                  epochCounts: grid.epochs)
                state.withLock {
                    $0.results[task] = result
                    $0.done += 1
                    progress?($0.done, taskCount)
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
            if !folds.isEmpty {
                let foldRuns = (1...folds.count).map { results[t * perPoint + $0]![i] }
                run.crossValidation = CrossValidation(folds: folds.count, accuracies: foldRuns.map { $0.val?.accuracy ?? 0 },
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
    let baselines = [nearestCentroidBaseline(data), knnBaseline(data, k: 5)]
    return SweepOutcome(runs: runs, ranking: ranking, baselines: baselines,
                        seconds: Double((ContinuousClock.now - start) / .seconds(1)))
}

extension RunStore {
    /// Saves a sweep: its `sweeps` row, one run per grid point and the baselines, in one
    /// transaction; returns the sweep id and the run ids in `outcome.runs` order.
    public static func save(_ outcome: SweepOutcome, grid: SweepGrid, context: RunContext,
                            in db: Connection) throws -> (sweepID: Int64, runIDs: [Int64], baselineIDs: [Int64]) {
        try db.transaction {
            try db.run("INSERT INTO sweeps (grid) VALUES (?1)", [.text(try json(grid))])
            let sweepID = db.lastInsertRowID
            let ids = try outcome.runs.map { try save($0, context: context, sweepID: sweepID, in: db) }
            let baselineIDs = try outcome.baselines.map { try saveBaseline($0, context: context, sweepID: sweepID, in: db) }
            try db.run("UPDATE sweeps SET best_run_id = ?1 WHERE id = ?2", [.integer(ids[outcome.ranking[0]]), .integer(sweepID)])
            return (sweepID, ids, baselineIDs)
        }
    }
}
