import Formats
import Kernels

/// One epoch's line of the training curve (`run_epochs`).
public struct EpochStats: Codable, Equatable, Sendable {
    public let epoch: Int
    /// Keras's running mean over the epoch's batches of the training objective (smoothing,
    /// class weights and the l2 penalty included), weighted by batch size.
    public let trainLoss: Double
    public let trainAccuracy: Double
    /// Plain cross-entropy on the val split at the end of the epoch; nil without val rows.
    public let valLoss: Double?
    public let valAccuracy: Double?

    enum CodingKeys: String, CodingKey {
        case epoch
        case trainLoss = "train_loss"
        case trainAccuracy = "train_accuracy"
        case valLoss = "val_loss"
        case valAccuracy = "val_accuracy"
    }
}

/// The model a run ends with after `epochs` epochs (or earlier, with early stopping).
public struct Checkpoint: Sendable {
    /// The epoch count asked for.
    public let epochs: Int
    public let model: StoredModel
    /// Every epoch trained, up to `epochs` or the epoch early stopping stopped at.
    public let history: [EpochStats]
    /// The epoch whose weights `model` holds.
    public let weightsEpoch: Int
    /// The epoch early stopping stopped at, if it did.
    public let stoppedEpoch: Int?
    /// Wall time from the start of training to this checkpoint.
    public let seconds: Double
    /// `model`'s val metrics without flips, measured after its epoch (nil without val rows), so
    /// they need not be computed again.
    public let val: SplitMetrics?
}

/// Trains a model of `config.model`'s kind on `data.train` with `config`, once, to the largest of
/// `epochCounts` (default: `config.epochs`), and returns the model at each of those counts. The
/// trajectory does not depend on how far it will run, so the checkpoint at 10 is bit for bit what a
/// separate 10-epoch run returns; with early stopping, each checkpoint holds the best weights so far
/// (which is what a separate run restores), and once stopping triggers every later count gets that run.
///
/// Deterministic for a given seed: OpenBLAS is pinned to one thread (a no-op when already so).
/// `threads` parallelise one training (the finetune kind's batches); the result does not depend on it.
public func train(_ data: TrainingData, config: TrainingConfig, epochCounts: [Int]? = nil, threads: Int = 1) throws
    -> [Checkpoint]
{
    try train(data, config: config, epochCounts: epochCounts, initialParameters: nil, shuffle: true, threads: threads)
}

/// `train` with given starting weights and, optionally, the rows in their stored order: how the
/// tests replay a Keras `fit(shuffle=False)` step for step.
func train(
    _ data: TrainingData, config: TrainingConfig, epochCounts: [Int]?, initialParameters: [Float]?,
    shuffle: Bool, threads: Int = 1
) throws -> [Checkpoint] {
    try config.validate()
    guard data.train.rows > 0 else { throw HeadError.invalid("no training rows") }
    try requireTwoClasses(data.classes)
    let batch = min(config.batchSize, data.train.rows)
    switch config.model {
    case .softmax:
        guard data.map == nil else {
            throw HeadError.invalid("a softmax head trains on vectors, and these rows are maps")
        }
        var trainer = SoftmaxTrainer(dim: data.dim, classes: data.classes.count, batch: batch)
        return try run(
            &trainer, data, config: config, epochCounts: epochCounts, initialParameters: initialParameters,
            shuffle: shuffle,
            threads: threads)
    case .finetune:
        guard let map = data.map, let top = data.top else {
            throw HeadError.invalid(
                "a finetune model trains on block_16's maps: extract them with `tlearn extract --maps`")
        }
        var trainer = FinetuneTrainer(
            map: map, dim: data.dim, classes: data.classes.count, top: top, batch: batch, threads: threads)
        return try run(
            &trainer, data, config: config, epochCounts: epochCounts, initialParameters: initialParameters,
            shuffle: shuffle,
            threads: threads)
    case .nearestCentroid, .knn:
        throw HeadError.invalid("\(config.model.rawValue) is a baseline, not a model kind train-head trains")
    }
}

/// The training loop shared by every model kind.
private func run<T: ModelTrainer>(
    _ trainer: inout T, _ data: TrainingData, config: TrainingConfig, epochCounts: [Int]?,
    initialParameters: [Float]?, shuffle: Bool, threads: Int
) throws -> [Checkpoint] {
    let counts = Array(Set(epochCounts ?? [config.epochs])).sorted()
    guard let last = counts.last, counts.first! >= 1 else { throw HeadError.invalid("epochs must be at least 1") }
    let n = data.train.rows
    let width = trainer.inputWidth
    let c = data.classes.count
    let dim = trainer.dim
    let hasVal = data.val.rows > 0
    if config.earlyStopping != nil && !hasVal {
        throw HeadError.invalid("--early-stopping needs validation rows, and the val split is empty")
    }
    BLASThreads.set(1)
    let start = ContinuousClock.now

    var rng = SplitMix64(seed: UInt64(config.seed))
    var parameters = initialParameters ?? trainer.initialParameters(using: &rng)
    precondition(
        parameters.count == trainer.parameterCount,
        "train: \(parameters.count) initial parameters, the model has \(trainer.parameterCount)")
    // Dropout masks come from a stream of their own, so turning dropout on leaves the batch order alone.
    var dropoutRNG = SplitMix64(seed: UInt64(config.seed) ^ 0x6A09_E667_F3BC_C909)
    let rate = Float(config.dropout)
    var gradient = [Float](repeating: 0, count: parameters.count)
    var optimizer = Optimizer(config, parameterCount: parameters.count)
    let classWeights = config.classWeight == .balanced ? balancedClassWeights(data.train.labels, classes: c) : nil
    let l2 = Float(config.l2)
    let smoothing = Float(config.labelSmoothing)
    let kernel = trainer.denseKernel

    let b = min(config.batchSize, n)
    var order = Array(0..<n)
    var xb = [Float](repeating: 0, count: b * width)
    var yb = [Int32](repeating: 0, count: b)
    var wb = [Float](repeating: 1, count: b)
    var mask = [Float](repeating: 0, count: rate > 0 ? b * dim : 0)
    var logits = [Float](repeating: 0, count: b * c)

    var history: [EpochStats] = []
    var best: (loss: Double, epoch: Int, parameters: [Float], val: SplitMetrics)? = nil
    var lastVal: SplitMetrics? = nil
    var wait = 0
    var checkpoints: [Checkpoint] = []
    var pending = counts[...]

    func checkpoint(_ epochs: Int, stopped: Int?) {
        let kept =
            best.map { ($0.parameters, $0.epoch, $0.val as SplitMetrics?) } ?? (parameters, history.count, lastVal)
        checkpoints.append(
            Checkpoint(
                epochs: epochs, model: trainer.model(kept.0, classes: data.classes),
                history: history, weightsEpoch: kept.1, stoppedEpoch: stopped,
                seconds: Double((ContinuousClock.now - start) / .seconds(1)), val: kept.2))
    }

    for epoch in 1...last {
        if shuffle { rng.shuffle(&order) }
        var lossSum: Double = 0
        var correct = 0
        var first = 0
        while first < n {
            let rows = min(b, n - first)
            xb.withUnsafeMutableBufferPointer { xb in
                for r in 0..<rows {
                    let src = order[first + r]
                    (xb.baseAddress! + r * width).update(from: data.train.row(src), count: width)
                    yb[r] = data.train.labels[src]
                    if let classWeights { wb[r] = classWeights[Int(yb[r])] }
                }
            }
            if rate > 0 {
                // Keras Dropout: keep with probability 1 - rate, scale what is kept by 1 / (1 - rate).
                let keep = 1 / (1 - rate)
                for i in 0..<(rows * dim) { mask[i] = dropoutRNG.unitFloat() >= rate ? keep : 0 }
            }
            let result = parameters.withUnsafeMutableBufferPointer { p in
                gradient.withUnsafeMutableBufferPointer { g in
                    logits.withUnsafeMutableBufferPointer { z in
                        mask.withUnsafeBufferPointer { m in
                            xb.withUnsafeBufferPointer { x in
                                let dropout = rate > 0 ? m.baseAddress! : nil
                                trainer.forward(
                                    x.baseAddress!, rows: rows, parameters: p.baseAddress!, dropout: dropout,
                                    logits: z.baseAddress!)
                                var r = softmaxCrossEntropy(
                                    z.baseAddress!, labels: yb, sampleWeights: classWeights == nil ? nil : wb,
                                    rows: rows, classes: c, smoothing: smoothing)
                                trainer.backward(
                                    x.baseAddress!, rows: rows, parameters: p.baseAddress!, dropout: dropout,
                                    dlogits: z.baseAddress!, gradient: g.baseAddress!)
                                if l2 > 0 {
                                    r.loss += addL2(
                                        l2, kernel: p.baseAddress! + kernel.lowerBound,
                                        gradient: g.baseAddress! + kernel.lowerBound,
                                        count: kernel.count)
                                }
                                optimizer.step(p.baseAddress!, gradient: g.baseAddress!)
                                return r
                            }
                        }
                    }
                }
            }
            lossSum += result.loss * Double(rows)
            correct += result.correct
            first += rows
        }
        var valLoss: Double? = nil
        var valAccuracy: Double? = nil
        if hasVal {
            let v = trainer.model(parameters, classes: data.classes).evaluate(data.val, threads: threads)
            lastVal = v
            valLoss = v.loss
            valAccuracy = v.accuracy
        }
        history.append(
            EpochStats(
                epoch: epoch, trainLoss: lossSum / Double(n), trainAccuracy: Double(correct) / Double(n),
                valLoss: valLoss, valAccuracy: valAccuracy))

        // Keras EarlyStopping(monitor="val_loss", patience=p, restore_best_weights=True), min_delta 0.
        var stop = false
        if let patience = config.earlyStopping, let valLoss {
            if best == nil || valLoss < best!.loss {
                best = (valLoss, epoch, parameters, lastVal!)
                wait = 0
            } else {
                wait += 1
                stop = wait >= patience
            }
        }
        if stop {
            while let e = pending.first {
                checkpoint(e, stopped: epoch)
                pending = pending.dropFirst()
            }
            break
        }
        if pending.first == epoch {
            checkpoint(epoch, stopped: nil)
            pending = pending.dropFirst()
        }
    }
    return checkpoints
}

/// sklearn `compute_class_weight("balanced")`: n_samples / (n_classes * count of the class).
func balancedClassWeights(_ labels: [Int32], classes: Int) -> [Float] {
    var counts = [Int](repeating: 0, count: classes)
    for y in labels { counts[Int(y)] += 1 }
    return counts.map { $0 == 0 ? 0 : Float(Double(labels.count) / Double(classes * $0)) }
}

/// A softmax over one class learns nothing: said up front, before any other complaint about the data.
func requireTwoClasses(_ classes: [String]) throws {
    guard classes.count >= 2 else {
        throw HeadError.invalid(
            "a softmax head needs at least 2 classes, found \(classes.count) (\(classes.joined(separator: ", ")))")
    }
}
