import Formats

/// Mean and spread of validation accuracy over the folds of a cross-validation.
public struct CrossValidation: Codable, Equatable, Sendable {
    public let folds: Int
    /// Fold val accuracies, fold 1 first.
    public let accuracies: [Double]
    let losses: [Double]
    public var meanAccuracy: Double { accuracies.reduce(0, +) / Double(accuracies.count) }
    /// Population standard deviation (numpy's default), 0 for one fold.
    public var stdAccuracy: Double {
        let m = meanAccuracy
        return (accuracies.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(accuracies.count)).squareRoot()
    }
    public var meanLoss: Double { losses.reduce(0, +) / Double(losses.count) }

    enum CodingKeys: String, CodingKey {
        case folds, accuracies, losses
        case meanAccuracy = "mean_accuracy"
        case stdAccuracy = "std_accuracy"
    }

    public init(folds: Int, accuracies: [Double], losses: [Double]) {
        self.folds = folds
        self.accuracies = accuracies
        self.losses = losses
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            folds: try c.decode(Int.self, forKey: .folds), accuracies: try c.decode([Double].self, forKey: .accuracies),
            losses: try c.decode([Double].self, forKey: .losses))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(folds, forKey: .folds)
        try c.encode(accuracies, forKey: .accuracies)
        try c.encode(losses, forKey: .losses)
        try c.encode(meanAccuracy, forKey: .meanAccuracy)
        try c.encode(stdAccuracy, forKey: .stdAccuracy)
    }
}

/// A trained model with its curves and its final metrics: one `runs` row.
public struct RunResult: Sendable {
    /// The settings, with `epochs` the count this head was taken at.
    public let config: TrainingConfig
    public let checkpoint: Checkpoint
    /// Final metrics on val (nil when val is empty) and test (nil when test is empty).
    public let val: SplitMetrics?
    public let test: SplitMetrics?
    public var crossValidation: CrossValidation?
    /// Val and test were scored on the mean of the orig and hflip views' probabilities.
    public let tta: Bool
    /// A sweep's refit: the chosen config trained again on train+val.
    var isRefit = false

    public var model: StoredModel { checkpoint.model }
}

/// Trains once to the largest of `epochCounts` and evaluates the model at each count on val and,
/// with `evaluateTest`, on test. Test metrics are computed here, after training, and never feed back
/// into anything. With `tta`, val and test are scored with test-time flips (`data` must hold them).
public func trainAndEvaluate(
    _ data: TrainingData, config: TrainingConfig, epochCounts: [Int]? = nil, threads: Int = 1,
    evaluateTest: Bool = true, tta: Bool = false
) throws -> [RunResult] {
    if tta
        && ((data.val.rows > 0 && data.valFlipped == nil)
            || (evaluateTest && data.test.rows > 0 && data.testFlipped == nil))
    {
        throw HeadError.invalid("--tta needs the hflip view of every val and test image")
    }
    return try train(data, config: config, epochCounts: epochCounts, threads: threads).map { cp in
        var c = config
        c.epochs = cp.epochs
        let flippedVal = tta ? data.valFlipped : nil
        let flippedTest = tta ? data.testFlipped : nil
        return RunResult(
            config: c, checkpoint: cp,
            val: data.val.rows > 0
                ? (tta ? nil : cp.val) ?? cp.model.evaluate(data.val, flipped: flippedVal, threads: threads) : nil,
            test: evaluateTest && data.test.rows > 0
                ? cp.model.evaluate(data.test, flipped: flippedTest, threads: threads) : nil,
            tta: tta)
    }
}
