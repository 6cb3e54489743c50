import ArgumentParser
import Head

/// `tlearn evaluate RUN`: a saved head on the database's test split.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a saved run on the test split of the database.",
        discussion: "Accuracy, per-class precision/recall/F1 and the confusion matrix, as train-head prints them.")

    @Argument(help: ArgumentHelp("The run id (see `tlearn runs`).", valueName: "run")) var runID: Int64
    @OptionGroup var store: HeadDatabaseOptions
    @Flag(help: "List the test images the head got wrong, with predicted and true class.") var misclassified = false
    @Option(help: ArgumentHelp("Evaluate on a labelled folder (one subfolder per class) instead of the database's test split.", valueName: "dir"))
    var images: String?
    @Option(help: ArgumentHelp("The backbone weights (.h5), for --images.", valueName: "file")) var weights: String?
    @Flag(help: "Print one JSON object instead of tables.") var json = false

    func validate() throws {
        if store.backbone != nil { throw ValidationError("--backbone does not apply: a run evaluates on its own backbone's vectors") }
        if weights != nil && images == nil { throw ValidationError("--weights is only used with --images") }
    }

    func run() throws {
        if images != nil {
            throw HeadError.invalid("evaluate --images needs the image decoder and the backbone, which this build of tlearn does not have yet; extract the folder into a database with `tlearn extract` and evaluate on its test split")
        }
        let db = try store.open()
        let stored = try RunStore.load(runID, from: db)
        let head = try stored.head()
        let set = try EmbeddingSet.load(from: db, backbone: stored.backboneID)
        if set.fingerprint != stored.splitFingerprint {
            headWarning("the images or splits of \(store.db) changed since run \(runID) was trained (split fingerprint \(set.fingerprint), run has \(stored.splitFingerprint)); test images may have been training images")
        }
        let evaluation = try head.evaluate(on: set, partition: .test)
        for (name, n) in evaluation.unknownClasses.sorted(by: { $0.key < $1.key }) {
            headWarning("\(n) test images of class '\(name)' skipped: run \(runID) was not trained on it")
        }
        if json {
            print(try headJSON(EvaluationReport(runID: runID, evaluation: evaluation, listMisclassified: misclassified)))
            return
        }
        let description = (try? stored.trainingConfig()).map(describe) ?? stored.configJSON
        print("run \(runID) (\(description); trained \(stored.createdAt)) on the test split of \(store.db)")
        print(renderMetrics(evaluation.metrics, title: "test"), terminator: "")
        if misclassified {
            print("\nmisclassified (\(evaluation.misclassified.count) of \(evaluation.metrics.count)):")
            var t = TextTable(["path", "true", "predicted", "probability"], left: [0, 1, 2])
            for m in evaluation.misclassified { t.add([m.path, m.trueClass, m.predicted, fixed(m.probability)]) }
            print(t.render(indent: "  "), terminator: "")
        }
    }
}

struct EvaluationReport: Encodable {
    let runID: Int64
    let evaluation: Evaluation
    let listMisclassified: Bool
    enum Key: String, CodingKey { case runID = "run_id", accuracy, loss, count, perClass = "per_class", confusion, misclassified }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        let m = evaluation.metrics
        try c.encode(runID, forKey: .runID)
        try c.encode(m.accuracy, forKey: .accuracy)
        try c.encode(m.loss, forKey: .loss)
        try c.encode(m.count, forKey: .count)
        try c.encode(m.perClass, forKey: .perClass)
        try c.encode(m.confusion, forKey: .confusion)
        if listMisclassified { try c.encode(evaluation.misclassified, forKey: .misclassified) }
    }
}
