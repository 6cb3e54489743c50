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
        case epoch, trainLoss = "train_loss", trainAccuracy = "train_accuracy", valLoss = "val_loss", valAccuracy = "val_accuracy"
    }
}

/// The head a run ends with after `epochs` epochs (or earlier, with early stopping).
public struct Checkpoint: Sendable {
    /// The epoch count asked for.
    public let epochs: Int
    public let head: SoftmaxHead
    /// Every epoch trained, up to `epochs` or the epoch early stopping stopped at.
    public let history: [EpochStats]
    /// The epoch whose weights `head` holds.
    public let weightsEpoch: Int
    /// The epoch early stopping stopped at, if it did.
    public let stoppedEpoch: Int?
    /// Wall time from the start of training to this checkpoint.
    public let seconds: Double
}

/// Trains a Keras `Dense(n)` softmax head on `data.train` with `config`, once, to the largest of
/// `epochCounts` (default: `config.epochs`), and returns the head at each of those counts. The
/// trajectory does not depend on how far it will run, so the checkpoint at 10 is bit for bit what a
/// separate 10-epoch run returns; with early stopping, each checkpoint holds the best weights so far
/// (which is what a separate run restores), and once stopping triggers every later count gets that run.
///
/// Deterministic for a given seed: OpenBLAS is pinned to one thread (a no-op when already so).
public func train(_ data: TrainingData, config: TrainingConfig, epochCounts: [Int]? = nil) throws -> [Checkpoint] {
    try train(data, config: config, epochCounts: epochCounts, initialParameters: nil, shuffle: true)
}

/// `train` with given starting weights and, optionally, the rows in their stored order: how the
/// tests replay a Keras `fit(shuffle=False)` step for step.
func train(_ data: TrainingData, config: TrainingConfig, epochCounts: [Int]?, initialParameters: [Float]?,
           shuffle: Bool) throws -> [Checkpoint] {
    try config.validate()
    let counts = Array(Set(epochCounts ?? [config.epochs])).sorted()
    guard let last = counts.last, counts.first! >= 1 else { throw HeadError.invalid("epochs must be at least 1") }
    let n = data.train.rows, d = data.dim, c = data.classes.count
    guard n > 0 else { throw HeadError.invalid("no training rows") }
    try requireTwoClasses(data.classes)
    let hasVal = data.val.rows > 0
    if config.earlyStopping != nil && !hasVal {
        throw HeadError.invalid("--early-stopping needs validation rows, and the val split is empty")
    }
    if BLASThreads.current != 1 { BLASThreads.set(1) }
    let start = ContinuousClock.now

    var rng = SplitMix64(seed: UInt64(config.seed))
    var parameters = initialParameters ?? (glorotUniform(fanIn: d, fanOut: c, using: &rng) + [Float](repeating: 0, count: c))
    precondition(parameters.count == d * c + c, "train: \(parameters.count) initial parameters for dim \(d) and \(c) classes")
    var gradient = [Float](repeating: 0, count: parameters.count)
    var optimizer = Optimizer(config, parameterCount: parameters.count)
    let classWeights = config.classWeight == .balanced ? balancedClassWeights(data.train.labels, classes: c) : nil
    let l2 = Float(config.l2), smoothing = Float(config.labelSmoothing)

    let b = min(config.batchSize, n)
    var order = Array(0..<n)
    var xb = [Float](repeating: 0, count: b * d)
    var yb = [Int32](repeating: 0, count: b)
    var wb = [Float](repeating: 1, count: b)
    var scratch = BatchScratch(batch: b, classes: c)
    var valLogits: [Float] = []

    var history: [EpochStats] = []
    var best: (loss: Double, epoch: Int, parameters: [Float])? = nil
    var wait = 0
    var checkpoints: [Checkpoint] = []
    var pending = counts[...]

    func checkpoint(_ epochs: Int, stopped: Int?) {
        let kept = best.map { ($0.parameters, $0.epoch) } ?? (parameters, history.count)
        checkpoints.append(Checkpoint(
            epochs: epochs, head: SoftmaxHead(dim: d, classes: data.classes, parameters: kept.0),
            history: history, weightsEpoch: kept.1, stoppedEpoch: stopped,
            seconds: Double((ContinuousClock.now - start) / .seconds(1))))
    }

    for epoch in 1...last {
        if shuffle { rng.shuffle(&order) }
        var lossSum: Double = 0
        var correct = 0
        var first = 0
        while first < n {
            let rows = min(b, n - first)
            xb.withUnsafeMutableBufferPointer { xb in
                data.train.x.withUnsafeBufferPointer { x in
                    for r in 0..<rows {
                        let src = order[first + r]
                        (xb.baseAddress! + r * d).update(from: x.baseAddress! + src * d, count: d)
                        yb[r] = data.train.labels[src]
                        if let classWeights { wb[r] = classWeights[Int(yb[r])] }
                    }
                }
            }
            let result = parameters.withUnsafeMutableBufferPointer { p in
                gradient.withUnsafeMutableBufferPointer { g in
                    scratch.logits.withUnsafeMutableBufferPointer { z in
                        let r = batchObjective(
                            x: xb, labels: yb, sampleWeights: classWeights == nil ? nil : wb,
                            rows: rows, dim: d, classes: c, parameters: p.baseAddress!,
                            l2: l2, smoothing: smoothing, logits: z.baseAddress!, gradient: g.baseAddress!)
                        optimizer.step(p.baseAddress!, gradient: g.baseAddress!)
                        return r
                    }
                }
            }
            lossSum += result.loss * Double(rows)
            correct += result.correct
            first += rows
        }
        var valLoss: Double? = nil, valAccuracy: Double? = nil
        if hasVal {
            let v = parameters.withUnsafeBufferPointer {
                plainLossAndAccuracy(data.val, parameters: $0.baseAddress!, classes: c, logits: &valLogits)
            }
            valLoss = v.loss
            valAccuracy = v.accuracy
        }
        history.append(EpochStats(epoch: epoch, trainLoss: lossSum / Double(n), trainAccuracy: Double(correct) / Double(n),
                                  valLoss: valLoss, valAccuracy: valAccuracy))

        // Keras EarlyStopping(monitor="val_loss", patience=p, restore_best_weights=True), min_delta 0.
        var stop = false
        if let patience = config.earlyStopping, let valLoss {
            if best == nil || valLoss < best!.loss {
                best = (valLoss, epoch, parameters)
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
public func balancedClassWeights(_ labels: [Int32], classes: Int) -> [Float] {
    var counts = [Int](repeating: 0, count: classes)
    for y in labels { counts[Int(y)] += 1 }
    return counts.map { $0 == 0 ? 0 : Float(Double(labels.count) / Double(classes * $0)) }
}

/// A softmax over one class learns nothing: said up front, before any other complaint about the data.
func requireTwoClasses(_ classes: [String]) throws {
    guard classes.count >= 2 else {
        throw HeadError.invalid("a softmax head needs at least 2 classes, found \(classes.count) (\(classes.joined(separator: ", ")))")
    }
}
