import Formats
import Store

/// The optimizer of a training run, with Keras 3 semantics.
public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
    case adam, sgd
}

/// Per-class loss weights: none, or sklearn's "balanced" (n_samples / (n_classes * count)).
public enum ClassWeighting: String, Codable, Sendable, CaseIterable {
    case none, balanced
}

/// Everything that determines a training run besides the data: stored as `runs.config` JSON.
public struct TrainingConfig: Codable, Equatable, Hashable, Sendable {
    /// What is trained: softmax (a Dense head on the vectors) or finetune (Conv_1 + Dense on the maps).
    public var model: ModelKind = .softmax
    public var optimizer: OptimizerKind = .adam
    public var learningRate: Double = 1e-3
    /// 5, the interface the head-trainer issue specifies. Cross-validation on the dev photos prefers
    /// 20 (0.890 vs 0.876 CV accuracy; README "Defaults"), so the README recommends `--epochs 20`.
    public var epochs: Int = 5
    public var batchSize: Int = 32
    /// Keras `kernel_regularizer=l2(l2)`: loss += l2 * sum(W^2), on W only.
    public var l2: Double = 0
    /// Keras `CategoricalCrossentropy(label_smoothing=)`: targets (1 - s) one-hot + s / n_classes.
    public var labelSmoothing: Double = 0
    /// Keras `Dropout(rate)` on the Dense layer's input during training.
    public var dropout: Double = 0
    /// SGD only (Keras `SGD(momentum=, nesterov=)`).
    public var momentum: Double = 0
    public var nesterov: Bool = false
    public var classWeight: ClassWeighting = .none
    /// Views whose vectors are training rows; val and test always use `orig`.
    public var trainViews: [View] = [.orig]
    /// Patience in epochs on validation loss; the best epoch's weights are kept.
    public var earlyStopping: Int? = nil
    public var seed: Int64 = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case model, optimizer
        case learningRate = "lr"
        case epochs
        case batchSize = "batch_size"
        case l2
        case labelSmoothing = "label_smoothing"
        case dropout
        case momentum, nesterov
        case classWeight = "class_weight"
        case trainViews = "train_views"
        case earlyStopping = "early_stopping"
        case seed
    }

    /// Reads a stored config; keys a run of an earlier tlearn did not write (model, dropout) take their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TrainingConfig()
        model = try c.decodeIfPresent(ModelKind.self, forKey: .model) ?? d.model
        optimizer = try c.decodeIfPresent(OptimizerKind.self, forKey: .optimizer) ?? d.optimizer
        learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? d.learningRate
        epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? d.epochs
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        l2 = try c.decodeIfPresent(Double.self, forKey: .l2) ?? d.l2
        labelSmoothing = try c.decodeIfPresent(Double.self, forKey: .labelSmoothing) ?? d.labelSmoothing
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? 0
        momentum = try c.decodeIfPresent(Double.self, forKey: .momentum) ?? d.momentum
        nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? d.nesterov
        classWeight = try c.decodeIfPresent(ClassWeighting.self, forKey: .classWeight) ?? d.classWeight
        trainViews = try c.decodeIfPresent([View].self, forKey: .trainViews) ?? d.trainViews
        earlyStopping = try c.decodeIfPresent(Int.self, forKey: .earlyStopping)
        seed = try c.decodeIfPresent(Int64.self, forKey: .seed) ?? d.seed
    }

    /// `train-head`'s settings for a model kind when none are given, chosen by 5-fold cross-validation
    /// on the dev photos (README "Training"): softmax Adam 1e-3 for 20 epochs (5 underfit: CV accuracy
    /// 0.876 against 0.898 with the hflip rows); finetune Adam 1e-4 for 20 epochs with
    /// dropout 0.2, Keras's transfer-learning recipe for a tuned top.
    public static func defaults(for kind: ModelKind) -> TrainingConfig {
        var c = TrainingConfig()
        c.model = kind
        c.epochs = 20
        if kind == .finetune {
            c.learningRate = finetuneDefaultLR
            c.dropout = 0.2
        }
        return c
    }

    /// The finetune kind's default learning rate.
    static let finetuneDefaultLR = 1e-4

    /// Throws `HeadError.invalid` naming the first setting that cannot train.
    public func validate() throws {
        func fail(_ message: String) throws -> Never { throw HeadError.invalid(message) }
        if !(learningRate.isFinite && learningRate > 0) {
            try fail("learning rate must be a positive number, got \(learningRate)")
        }
        if epochs < 1 { try fail("epochs must be at least 1, got \(epochs)") }
        if batchSize < 1 { try fail("batch size must be at least 1, got \(batchSize)") }
        if !(l2.isFinite && l2 >= 0) { try fail("l2 must be >= 0, got \(l2)") }
        if !model.isTrained {
            try fail("\(model.rawValue) is a baseline, not a model to train (use softmax or finetune)")
        }
        if !(dropout >= 0 && dropout < 1) { try fail("dropout must be in [0, 1), got \(dropout)") }
        if !(labelSmoothing >= 0 && labelSmoothing < 1) {
            try fail("label smoothing must be in [0, 1), got \(labelSmoothing)")
        }
        if !(momentum >= 0 && momentum < 1) { try fail("momentum must be in [0, 1), got \(momentum)") }
        if optimizer == .adam && momentum != 0 { try fail("--momentum applies to sgd only (adam has beta1 0.9)") }
        if optimizer == .adam && nesterov { try fail("--nesterov applies to sgd only") }
        if let p = earlyStopping, p < 1 { try fail("early stopping patience must be at least 1 epoch, got \(p)") }
        if trainViews.isEmpty { try fail("--train-views needs at least one view (orig, hflip)") }
        if seed < 0 { try fail("seed must be >= 0, got \(seed)") }
    }
}
