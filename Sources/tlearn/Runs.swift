import ArgumentParser
import Formats
import Head

/// `tlearn runs`: the saved runs of a database.
struct Runs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List the runs saved in a database (train-head, sweep, baselines).")

    @OptionGroup var store: DatabaseOptions
    @Option(help: ArgumentHelp("Only the runs of this sweep.", valueName: "id")) var sweep: Int64?
    @Flag(help: "Print a JSON array instead of a table.") var json = false

    func run() throws {
        let db = try store.open()
        let (runs, unreadable) = try RunStore.list(in: db, sweep: sweep)
        for message in unreadable { warn("\(message); not listed") }
        if json {
            print(try headJSON(runs.map(RunListEntry.init)))
            return
        }
        if runs.isEmpty {
            print(
                sweep.map { "no runs of sweep \($0) in \(store.db)" }
                    ?? "no runs in \(store.db) yet: train one with `tlearn train-head --db \(store.db)`")
            return
        }
        var t = TextTable(
            [
                "id", "created", "sweep", "model", "lr", "epochs", "batch", "l2", "smoothing", "val acc", "val loss",
                "test acc",
            ], left: [1, 3])
        for r in runs {
            let c = r.config
            let model =
                switch r.kind {
                case .softmax: c.optimizer?.rawValue ?? "?"
                case .finetune: "finetune " + (c.optimizer?.rawValue ?? "?")
                case .knn: "\(c.k ?? 0)-nn"
                case .nearestCentroid: "centroid"
                }
            t.add([
                "\(r.id)", String(r.createdAt.prefix(19)).replacingOccurrences(of: "T", with: " "),
                r.sweepID.map { "\($0)" } ?? "-", model,
                c.lr.map(compact) ?? "-", c.epochs.map { "\($0)" } ?? "-", c.batchSize.map { "\($0)" } ?? "-",
                c.l2.map(compact) ?? "-", c.labelSmoothing.map(compact) ?? "-",
                fixed(r.valAccuracy), fixed(r.valLoss), fixed(r.testAccuracy),
            ])
        }
        print(t.render(), terminator: "")
    }
}

struct RunListEntry: Encodable {
    let run: StoredRun
    init(_ run: StoredRun) { self.run = run }
    enum Key: String, CodingKey {
        case id
        case createdAt = "created_at"
        case sweepID = "sweep_id"
        case model
        case backboneID = "backbone_id"
        case config, seed, classes
        case valAccuracy = "val_accuracy"
        case valLoss = "val_loss"
        case testAccuracy = "test_accuracy"
        case seconds
        case splitFingerprint = "split_fingerprint"
        case refitOf = "refit_of"
    }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(run.id, forKey: .id)
        try c.encode(run.createdAt, forKey: .createdAt)
        try c.encode(run.sweepID, forKey: .sweepID)
        try c.encode(run.kind, forKey: .model)
        try c.encode(run.backboneID, forKey: .backboneID)
        try c.encode(RawJSON(run.configJSON), forKey: .config)
        try c.encode(run.seed, forKey: .seed)
        try c.encode(run.classes, forKey: .classes)
        try c.encode(run.valAccuracy, forKey: .valAccuracy)
        try c.encode(run.valLoss, forKey: .valLoss)
        try c.encode(run.testAccuracy, forKey: .testAccuracy)
        try c.encode(run.seconds, forKey: .seconds)
        try c.encode(run.splitFingerprint, forKey: .splitFingerprint)
        if let r = (try? RunStore.metrics(of: run))?.refitOf { try c.encode(r, forKey: .refitOf) }
    }
}
