import Formats
import FoundationEssentials
import Store

/// Where a run's vectors came from: the same for every run of one training set.
public struct RunContext: Sendable {
    public let backboneID: Int64
    public let splitFingerprint: String

    public init(backboneID: Int64, splitFingerprint: String) {
        self.backboneID = backboneID
        self.splitFingerprint = splitFingerprint
    }

    public init(_ set: EmbeddingSet) { self.init(backboneID: set.backbone.id, splitFingerprint: set.fingerprint) }
}

/// `runs.metrics` JSON.
public struct RunMetrics: Codable, Sendable {
    public var val: SplitMetrics?
    public var test: SplitMetrics?
    public var weightsEpoch: Int?
    public var stoppedEpoch: Int?
    public var crossValidation: CrossValidation?
    /// Val and test were scored with test-time flips (orig and hflip probabilities averaged).
    public var tta: Bool?
    /// A sweep's refit: the run of the grid point whose config was trained again on train+val.
    public var refitOf: Int64?

    enum CodingKeys: String, CodingKey {
        case val, test
        case weightsEpoch = "weights_epoch"
        case stoppedEpoch = "stopped_epoch"
        case crossValidation = "cross_validation"
        case tta
        case refitOf = "refit_of"
    }
}

/// `runs.config` of a trained model: the TrainingConfig fields, and for a model that reads maps
/// their shape ("map_shape": [height, width, channels]), which `StoredModel.load` needs.
struct TrainedRunConfig: Encodable {
    let config: TrainingConfig
    let map: MapShape?
    enum Key: String, CodingKey { case mapShape = "map_shape" }
    func encode(to encoder: Encoder) throws {
        try config.encode(to: encoder)
        if let map {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode([map.height, map.width, map.channels], forKey: .mapShape)
        }
    }
}

/// `runs.config` of a baseline.
public struct BaselineConfig: Codable, Sendable, Equatable {
    public let model: ModelKind
    let metric: String
    public let k: Int?
}

/// Any `runs.config`, read leniently for listings.
public struct StoredConfig: Decodable, Sendable {
    public let model: ModelKind?
    public let optimizer: OptimizerKind?
    public let lr: Double?
    public let epochs: Int?
    public let batchSize: Int?
    public let l2: Double?
    public let labelSmoothing: Double?
    public let dropout: Double?
    public let k: Int?
    enum CodingKeys: String, CodingKey {
        case model, optimizer, lr, epochs
        case batchSize = "batch_size"
        case l2
        case labelSmoothing = "label_smoothing"
        case dropout, k
    }
}

/// One `runs` row as read back.
public struct StoredRun: Sendable {
    public let id: Int64
    public let sweepID: Int64?
    public let createdAt: String
    public let backboneID: Int64
    public let configJSON: String
    public let config: StoredConfig
    public let seed: Int64
    public let splitFingerprint: String
    public let classes: [String]
    public let dim: Int
    public let valAccuracy: Double?
    public let valLoss: Double?
    public let testAccuracy: Double?
    public let metricsJSON: String
    public let seconds: Double

    public var kind: ModelKind { config.model ?? .softmax }

    /// The model of a trained run, read by the one loader SQL uses too; a baseline is refused, naming the run.
    public func trainedModel(in db: Connection) throws -> StoredModel {
        guard kind.isTrained else {
            throw HeadError.invalid(
                "run \(id) is a \(kind.rawValue) baseline\(sweepID.map { " of sweep \($0)" } ?? ""), not a trained model; pick a softmax or finetune run from `tlearn runs`"
            )
        }
        return try StoredModel.load(run: id, from: db)
    }

    /// The full training settings of a trained run.
    public func trainingConfig() throws -> TrainingConfig {
        do { return try JSONDecoder().decode(TrainingConfig.self, from: Data(configJSON.utf8)) } catch {
            throw HeadError.invalid("run \(id) has a config this tlearn cannot read: \(configJSON)")
        }
    }
}

/// Reads and writes `runs`, `run_epochs` and `sweeps`.
public enum RunStore {
    static func json(_ value: some Encodable) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        // JSON has no NaN: a diverged run's losses become null rather than failing the save.
        e.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try e.encode(value), as: UTF8.self)
    }

    private static func real(_ x: Double?) -> SQLValue {
        guard let x else { return .null }
        // SQLite stores a bound NaN as NULL; a diverged loss is stored as +inf instead.
        return .real(x.isNaN ? .infinity : x)
    }

    /// Inserts a trained run with its curve; returns its id. Call inside a transaction for many.
    @discardableResult
    public static func save(
        _ run: RunResult, context: RunContext, sweepID: Int64? = nil, refitOf: Int64? = nil,
        in db: Connection
    ) throws -> Int64 {
        let metrics = RunMetrics(
            val: run.val, test: run.test, weightsEpoch: run.checkpoint.weightsEpoch,
            stoppedEpoch: run.checkpoint.stoppedEpoch, crossValidation: run.crossValidation,
            tta: run.tta ? true : nil, refitOf: refitOf)
        let id = try insert(
            sweepID: sweepID, context: context,
            config: try json(TrainedRunConfig(config: run.config, map: run.model.map)),
            seed: run.config.seed, classes: run.model.classes, dim: run.model.dim, head: run.model.blob,
            val: run.val, test: run.test, metrics: try json(metrics), seconds: run.checkpoint.seconds, in: db)
        let statement = try db.prepare(
            "INSERT INTO run_epochs (run_id, epoch, train_loss, train_accuracy, val_loss, val_accuracy) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        )
        for e in run.checkpoint.history {
            statement.reset()
            try statement.bind([
                .integer(id), .integer(Int64(e.epoch)), real(e.trainLoss),
                .real(e.trainAccuracy), real(e.valLoss), real(e.valAccuracy),
            ])
            while try statement.step() {}
        }
        return id
    }

    /// Inserts a baseline run (no curve); returns its id.
    @discardableResult
    static func saveBaseline(_ baseline: BaselineResult, context: RunContext, sweepID: Int64?, in db: Connection) throws
        -> Int64
    {
        try insert(
            sweepID: sweepID, context: context, config: try json(baseline.config), seed: 0,
            classes: baseline.classes, dim: baseline.dim, head: VectorBlob.bytes(baseline.centroids),
            val: baseline.val, test: baseline.test,
            metrics: try json(RunMetrics(val: baseline.val, test: baseline.test)), seconds: baseline.seconds, in: db)
    }

    private static func insert(
        sweepID: Int64?, context: RunContext, config: String, seed: Int64, classes: [String], dim: Int,
        head: [UInt8], val: SplitMetrics?, test: SplitMetrics?, metrics: String, seconds: Double,
        in db: Connection
    ) throws -> Int64 {
        try db.run(
            """
            INSERT INTO runs (sweep_id, backbone_id, config, seed, split_fingerprint, classes, dim, head,
                              val_accuracy, val_loss, test_accuracy, metrics, seconds)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
            """,
            [
                sweepID.map { .integer($0) } ?? .null, .integer(context.backboneID), .text(config), .integer(seed),
                .text(context.splitFingerprint), .text(try json(classes)), .integer(Int64(dim)), .blob(head),
                real(val?.accuracy), real(val?.loss), real(test?.accuracy), .text(metrics), .real(seconds),
            ])
        return db.lastInsertRowID
    }

    static let columns = """
        id, sweep_id, created_at, backbone_id, config, seed, split_fingerprint, classes, dim,
        val_accuracy, val_loss, test_accuracy, metrics, seconds
        """

    private static func decode(_ r: [SQLValue], path: String) throws -> StoredRun {
        let id = r[0].int ?? 0
        let configJSON = r[4].string ?? "{}"
        guard let config = try? JSONDecoder().decode(StoredConfig.self, from: Data(configJSON.utf8)),
            let classes = try? JSONDecoder().decode([String].self, from: Data((r[7].string ?? "").utf8))
        else { throw HeadError.invalid("\(path): run \(id) has an unreadable config or class list") }
        return StoredRun(
            id: id, sweepID: r[1].int, createdAt: r[2].string ?? "", backboneID: r[3].int ?? 0,
            configJSON: configJSON, config: config, seed: r[5].int ?? 0, splitFingerprint: r[6].string ?? "",
            classes: classes, dim: Int(r[8].int ?? 0), valAccuracy: r[9].double,
            valLoss: r[10].double, testAccuracy: r[11].double, metricsJSON: r[12].string ?? "{}",
            seconds: r[13].double ?? 0)
    }

    /// The run a command-line argument names: a run id, `latest` (the newest trained head) or
    /// `best` (the best run of the newest sweep).
    public static func resolve(_ selector: String, in db: Connection) throws -> Int64 {
        switch selector {
        case "latest":
            guard
                let id = try db.scalar(
                    "SELECT id FROM runs WHERE json_extract(config, '$.model') IN ('softmax', 'finetune') ORDER BY id DESC LIMIT 1"
                )?.int
            else {
                throw HeadError.invalid("\(db.path) has no trained runs yet (train one with `tlearn train-head`)")
            }
            return id
        case "best":
            guard let row = try db.rows("SELECT id, best_run_id FROM sweeps ORDER BY id DESC LIMIT 1").first else {
                throw HeadError.invalid("\(db.path) has no sweeps yet (run `tlearn sweep`), so no best run")
            }
            guard let id = row[1].int else {
                throw HeadError.invalid("\(db.path): sweep \(row[0].int ?? 0) has no best run")
            }
            return id
        default:
            guard let id = Int64(selector), id > 0 else {
                throw HeadError.invalid("'\(selector)' is not a run: give a run id (see `tlearn runs`), latest or best")
            }
            return id
        }
    }

    /// The run `id`; throws "no run N in FILE" when there is none.
    public static func load(_ id: Int64, from db: Connection) throws -> StoredRun {
        let rows = try db.rows("SELECT \(columns) FROM runs WHERE id = ?1", [.integer(id)])
        guard let r = rows.first else {
            let count = try db.scalar("SELECT count(*) FROM runs")?.int ?? 0
            throw HeadError.invalid(
                count == 0
                    ? "no run \(id) in \(db.path): it has no runs yet (train one with `tlearn train-head`)"
                    : "no run \(id) in \(db.path) (see `tlearn runs --db \(db.path)`)")
        }
        return try decode(r, path: db.path)
    }

    /// Every run, oldest first; a row this tlearn cannot read (a damaged or foreign config) is left
    /// out and its reason returned in `unreadable`, so one bad row does not hide the others.
    public static func list(in db: Connection, sweep: Int64? = nil) throws -> (runs: [StoredRun], unreadable: [String])
    {
        let rows =
            sweep == nil
            ? try db.rows("SELECT \(columns) FROM runs ORDER BY id")
            : try db.rows("SELECT \(columns) FROM runs WHERE sweep_id = ?1 ORDER BY id", [.integer(sweep!)])
        var runs: [StoredRun] = []
        var unreadable: [String] = []
        for r in rows {
            do { runs.append(try decode(r, path: db.path)) } catch { unreadable.append("\(error)") }
        }
        return (runs, unreadable)
    }

    /// The metrics JSON of `run`, decoded.
    public static func metrics(of run: StoredRun) throws -> RunMetrics {
        do { return try JSONDecoder().decode(RunMetrics.self, from: Data(run.metricsJSON.utf8)) } catch {
            throw HeadError.invalid("run \(run.id) has metrics this tlearn cannot read")
        }
    }

    /// The curve of run `id`.
    public static func epochs(of id: Int64, in db: Connection) throws -> [EpochStats] {
        try db.rows(
            "SELECT epoch, train_loss, train_accuracy, val_loss, val_accuracy FROM run_epochs WHERE run_id = ?1 ORDER BY epoch",
            [.integer(id)]
        ).map {
            EpochStats(
                epoch: Int($0[0].int ?? 0), trainLoss: $0[1].double ?? .nan, trainAccuracy: $0[2].double ?? 0,
                valLoss: $0[3].double, valAccuracy: $0[4].double)
        }
    }
}
