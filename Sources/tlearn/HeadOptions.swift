import ArgumentParser
import Formats
import Foundation
import Head
import Store

extension OptimizerKind: ExpressibleByArgument {}
extension ModelKind: ExpressibleByArgument {
    public static var allValueStrings: [String] { [ModelKind.softmax.rawValue, ModelKind.finetune.rawValue] }
}
extension ClassWeighting: ExpressibleByArgument {}

/// Training settings that are single values in train-head and in sweep alike.
struct HeadTrainingOptions: ParsableArguments {
    @Option(help: "SGD momentum (Keras SGD; sgd only).") var momentum: Double = 0
    @Flag(help: "Nesterov momentum (Keras SGD; sgd only).") var nesterov = false
    @Option(
        help: ArgumentHelp(
            "none, or balanced: weight each class by n_samples / (n_classes * count), as sklearn.",
            valueName: "none|balanced"))
    var classWeight: ClassWeighting = .none
    @Option(
        help: ArgumentHelp(
            "Comma list of views used as training rows: orig, hflip (flipped images as extra rows). Default: orig,hflip when every training image has its hflip view stored, else orig.",
            valueName: "views"))
    var trainViews: String?
    @Option(
        help: ArgumentHelp(
            "Stop after N epochs without a lower validation loss and keep the best epoch's weights.", valueName: "N"))
    var earlyStopping: Int?
    @Option(parsing: .unconditional, help: "Seed of the initial weights and of the batch order (may be negative).")
    var seed: Int64 = 0

    /// The views given, or nil for the default (which depends on what the database stores).
    func views() throws -> [View]? { try trainViews.map { try parseViews($0, flag: "--train-views") } }

    /// The training views: those given, else orig and hflip when every training image has its
    /// mirror image stored (cross-validation on the dev photos prefers them: README "Training"), else orig.
    func views(for set: EmbeddingSet) throws -> [View] {
        if let given = try views() { return given }
        let train = Set(set.rows(in: .train, views: [.orig]).map { set.imageIDs[$0] })
        let flipped = Set(set.rows(in: .train, views: [.hflip]).map { set.imageIDs[$0] })
        return !train.isEmpty && train.isSubset(of: flipped) ? [.orig, .hflip] : [.orig]
    }

    /// The shared part of a config; grid settings are filled in by the command.
    func base() throws -> TrainingConfig {
        var c = TrainingConfig()
        c.momentum = momentum
        c.nesterov = nesterov
        c.classWeight = classWeight
        c.trainViews = try views() ?? [.orig]
        c.earlyStopping = earlyStopping
        c.seed = seed
        return c
    }
}

/// Turns a validation failure of the Head module into an argument error.
func validated(_ config: TrainingConfig) throws -> TrainingConfig {
    do { try config.validate() } catch { throw ValidationError("\(error)") }
    return config
}

/// JSON as the head commands print it: sorted keys, NaN as "nan".
func headJSON(_ value: some Encodable) throws -> String {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try e.encode(value), as: UTF8.self)
}

/// Loads the vectors for training and says what is missing or skipped.
func loadTrainingData(_ set: EmbeddingSet, views: [View], earlyStopping: Bool, quiet: Bool = false) throws
    -> TrainingData
{
    let data = try set.trainingData(trainViews: views)
    if quiet { return data }
    if views.contains(.hflip) {
        let trainImages = Set(set.rows(in: .train, views: [.orig]).map { set.imageIDs[$0] })
        let flipped = Set(set.rows(in: .train, views: [.hflip]).map { set.imageIDs[$0] })
        let missing = trainImages.subtracting(flipped).count
        if missing > 0 {
            warn(
                "\(missing) of \(trainImages.count) training images have no hflip \(set.map == nil ? "vector" : "map"); they train on orig only"
            )
        }
    }
    if data.val.rows == 0 {
        if earlyStopping {
            throw HeadError.invalid("--early-stopping needs validation rows, and the val split of \(set.path) is empty")
        }
        warn("the val split of \(set.path) is empty: no validation metrics")
    }
    if data.test.rows == 0 { warn("the test split of \(set.path) is empty: no test metrics") }
    return data
}

/// "backbone 1 (name, 224 px), 5 classes, 1482 train rows (orig), 188 val, 167 test"
func describe(_ set: EmbeddingSet, _ data: TrainingData, views: [View]) -> String {
    "\(set.backbone.label.replacingOccurrences(of: ", \(set.backbone.vectors) vectors", with: "")), \(data.classes.count) classes, "
        + "\(data.train.rows) train rows (\(views.map(\.rawValue).joined(separator: "+"))), \(data.val.rows) val, \(data.test.rows) test"
}

/// "adam lr 1e-3, 5 epochs, batch 32, l2 1e-4, smoothing 0.1, ..."
func describe(_ c: TrainingConfig) -> String {
    var s =
        "\(c.model == .softmax ? "" : c.model.rawValue + " ")\(c.optimizer.rawValue) lr \(compact(c.learningRate)), \(c.epochs) epochs, batch \(c.batchSize)"
    if c.momentum != 0 { s += ", momentum \(compact(c.momentum))\(c.nesterov ? " nesterov" : "")" }
    if c.l2 != 0 { s += ", l2 \(compact(c.l2))" }
    if c.labelSmoothing != 0 { s += ", label smoothing \(compact(c.labelSmoothing))" }
    if c.dropout != 0 { s += ", dropout \(compact(c.dropout))" }
    if c.classWeight != .none { s += ", class weight \(c.classWeight.rawValue)" }
    if let p = c.earlyStopping { s += ", early stopping \(p)" }
    return s + ", seed \(c.seed)"
}

/// A JSON document kept as a value, so stored JSON (runs.config) nests as an object in output.
enum JSONValue: Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

/// Stored JSON text that encodes as the JSON it holds (or as a string if it does not parse).
struct RawJSON: Encodable {
    let text: String
    init(_ text: String) { self.text = text }
    func encode(to encoder: Encoder) throws {
        if let v = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) {
            try v.encode(to: encoder)
        } else {
            var c = encoder.singleValueContainer()
            try c.encode(text)
        }
    }
}
