import ArgumentParser
import Formats
import Head
import Kernels
import Store

/// `tlearn train-head`: one model on the cached vectors (or maps), saved as a run.
struct TrainHead: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-head",
        abstract: "Train a model on the cached vectors or maps and save it as a run.",
        discussion: """
            --model softmax (the default): a Keras Dense head, logits = x W + b on the pooled vectors. \
            --model finetune: the backbone's last convolution (Conv_1, starting from its weights) + ReLU6 + \
            pooling + dropout + Dense, on block_16's maps (`tlearn extract --maps`). Softmax cross-entropy, \
            glorot_uniform W and zero b from --seed; batches reshuffled every epoch. Val and test use the \
            original view only. Test metrics are computed once, after training. The run (config, curves, \
            metrics, parameters) is saved in the database: see `tlearn runs`, `tlearn evaluate`, `tlearn predict`.
            """)

    @OptionGroup var store: DatabaseOptions
    @OptionGroup var selection: BackboneOption
    @Option(help: "softmax (a Dense head on the vectors) or finetune (Conv_1 + Dense on the maps).") var model:
        ModelKind = .softmax
    @Option(help: "adam (Keras defaults: beta1 0.9, beta2 0.999, epsilon 1e-7) or sgd.") var optimizer: OptimizerKind =
        .adam
    @Option(
        help: ArgumentHelp(
            "Learning rate (default: \(compact(TrainingConfig.defaults(for: .softmax).learningRate)) for softmax, \(compact(TrainingConfig.defaults(for: .finetune).learningRate)) for finetune).",
            valueName: "lr"))
    var lr: Double?
    @Option(
        help: ArgumentHelp(
            "Epochs, passes over the training rows (default: \(TrainingConfig.defaults(for: .softmax).epochs)).",
            valueName: "n"))
    var epochs: Int?
    @Option(help: "Rows per gradient step.") var batchSize: Int = TrainingConfig().batchSize
    @Option(help: "Keras l2 kernel regularizer: loss += l2 * sum(W^2).") var l2: Double = 0
    @Option(help: "Label smoothing in [0, 1).") var labelSmoothing: Double = 0
    @Option(
        help: ArgumentHelp(
            "Dropout rate on the Dense layer's input (default: \(compact(TrainingConfig.defaults(for: .softmax).dropout)) for softmax, \(compact(TrainingConfig.defaults(for: .finetune).dropout)) for finetune).",
            valueName: "rate"))
    var dropout: Double?
    @Option(
        help: ArgumentHelp(
            "Threads for one finetune training (default: the CPUs this process may use); the result is the same for any count.",
            valueName: "n"))
    var threads: Int?
    @OptionGroup var training: HeadTrainingOptions
    @Flag(help: "Print one JSON object instead of tables.") var json = false

    func config() throws -> TrainingConfig {
        var c = try training.base()
        let d = TrainingConfig.defaults(for: model)
        c.model = model
        c.dropout = dropout ?? d.dropout
        c.optimizer = optimizer
        c.learningRate = lr ?? d.learningRate
        c.epochs = epochs ?? d.epochs
        c.batchSize = batchSize
        c.l2 = l2
        c.labelSmoothing = labelSmoothing
        return try validated(c)
    }

    func validate() throws {
        _ = try config()
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        var config = try config()
        let db = try store.open()
        let set = try EmbeddingSet.load(from: db, backbone: selection.backbone, maps: model.readsMaps)
        config.trainViews = try training.views(for: set)
        let data = try loadTrainingData(set, views: config.trainViews, earlyStopping: config.earlyStopping != nil)
        let run = try trainAndEvaluate(data, config: config, threads: threads ?? AvailableCPUs.current.count)[0]
        let id = try db.transaction { try RunStore.save(run, context: RunContext(set), in: db) }
        if json {
            print(try headJSON(RunReport(id: id, in: db)))
            return
        }
        print("\(describe(set, data, views: config.trainViews))")
        print(describe(config))
        print(renderHistory(run.checkpoint.history), terminator: "")
        if let stopped = run.checkpoint.stoppedEpoch {
            print(
                "early stopping at epoch \(stopped); kept the weights of epoch \(run.checkpoint.weightsEpoch) (lowest val loss)"
            )
        } else if config.earlyStopping != nil {
            print("kept the weights of epoch \(run.checkpoint.weightsEpoch) (lowest val loss)")
        }
        print("")
        if let val = run.val { print(renderMetrics(val, title: "val")) }
        if let test = run.test { print(renderMetrics(test, title: "test")) }
        print("saved run \(id) in \(store.db) (\(fixed(run.checkpoint.seconds, 3)) s)")
    }
}

/// The JSON of a saved trained run (train-head --json, and the final run of sweep --json), read
/// back from the database so it shows exactly what was saved.
struct RunReport: Encodable {
    let run: StoredRun
    let metrics: RunMetrics
    let history: [EpochStats]

    init(id: Int64, in db: Connection) throws {
        run = try RunStore.load(id, from: db)
        metrics = try RunStore.metrics(of: run)
        history = try RunStore.epochs(of: id, in: db)
    }

    enum Key: String, CodingKey {
        case runID = "run_id"
        case valAccuracy = "val_accuracy"
        case valLoss = "val_loss"
        case testAccuracy = "test_accuracy"
        case testLoss = "test_loss"
        case config
        case backboneID = "backbone_id"
        case splitFingerprint = "split_fingerprint"
        case seed, classes, epochs
        case val, test
        case weightsEpoch = "weights_epoch"
        case stoppedEpoch = "stopped_epoch"
        case seconds
        case crossValidation = "cross_validation"
        case tta
        case refitOf = "refit_of"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(run.id, forKey: .runID)
        try c.encode(run.valAccuracy, forKey: .valAccuracy)
        try c.encode(run.valLoss, forKey: .valLoss)
        try c.encode(run.testAccuracy, forKey: .testAccuracy)
        try c.encode(metrics.test?.loss, forKey: .testLoss)
        try c.encode(RawJSON(run.configJSON), forKey: .config)
        try c.encode(run.backboneID, forKey: .backboneID)
        try c.encode(run.splitFingerprint, forKey: .splitFingerprint)
        try c.encode(run.seed, forKey: .seed)
        try c.encode(run.classes, forKey: .classes)
        try c.encode(history, forKey: .epochs)
        try c.encode(metrics.val, forKey: .val)
        try c.encode(metrics.test, forKey: .test)
        try c.encode(metrics.weightsEpoch, forKey: .weightsEpoch)
        try c.encode(metrics.stoppedEpoch, forKey: .stoppedEpoch)
        try c.encode(run.seconds, forKey: .seconds)
        if let cv = metrics.crossValidation { try c.encode(cv, forKey: .crossValidation) }
        try c.encode(metrics.tta ?? false, forKey: .tta)
        if let r = metrics.refitOf { try c.encode(r, forKey: .refitOf) }
    }
}
