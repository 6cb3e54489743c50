import ArgumentParser
import Formats
import Foundation
import Head
import Kernels
import Store

/// `tlearn evaluate RUN`: a saved head on the database's test split.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a saved run on the test split of the database.",
        discussion: "Accuracy, per-class precision/recall/F1 and the confusion matrix, as train-head prints them.")

    @Argument(
        help: ArgumentHelp(
            "A run id (see `tlearn runs`), latest (the newest trained head) or best (of the newest sweep).",
            valueName: "run")) var selector: String
    @OptionGroup var store: DatabaseOptions
    @Flag(help: "List the test images the head got wrong, with predicted and true class.") var misclassified = false
    @Option(
        help: ArgumentHelp(
            "Evaluate on a labelled folder (one subfolder per class) instead of the database's test split.",
            valueName: "dir"))
    var images: String?
    @Option(help: ArgumentHelp("The backbone weights (.h5), for --images.", valueName: "file")) var weights: String?
    @Flag(help: "Test-time flips: score each image on the mean of its orig and hflip views' probabilities.") var tta =
        false
    @Flag(help: "Print one JSON object instead of tables.") var json = false

    func validate() throws {
        if weights != nil && images == nil { throw ValidationError("--weights is only used with --images") }
        if let images {
            if weights == nil {
                throw ValidationError("--images needs --weights: the backbone (.h5) run \(selector) was trained on")
            }
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: images, isDirectory: &isDirectory) || !isDirectory.boolValue {
                throw ValidationError("--images: no directory at \(images)")
            }
        }
    }

    func run() throws {
        let db = try store.open(readOnly: true)
        let stored = try RunStore.load(RunStore.resolve(selector, in: db), from: db)
        let runID = stored.id
        let head = try stored.trainedModel(in: db)
        if let images, let weights {
            return try evaluateFolder(images, weights: weights, stored: stored, head: head, db: db)
        }
        let set = try EmbeddingSet.load(from: db, backbone: stored.backboneID, maps: head.kind.readsMaps)
        if set.fingerprint != stored.splitFingerprint {
            warn(
                "the images or splits of \(store.db) changed since run \(runID) was trained (split fingerprint \(set.fingerprint), run has \(stored.splitFingerprint)); test images may have been training images"
            )
        }
        let evaluation = try head.evaluate(on: set, partition: .test, tta: tta, threads: AvailableCPUs.current.count)
        for (name, n) in evaluation.unknownClasses.sorted(by: { $0.key < $1.key }) {
            warn("\(n) test images of class '\(name)' skipped: run \(runID) was not trained on it")
        }
        report(evaluation, stored: stored, on: "the test split of \(store.db)")
    }

    /// `--images DIR`: every image below DIR, labelled by its top-level folder, embedded on the fly.
    func evaluateFolder(_ dir: String, weights: String, stored: StoredRun, head: StoredModel, db: Connection) throws {
        let relative = imagesUnder(dir)
        let labelled = relative.filter { $0.contains("/") }
        if labelled.count < relative.count {
            warn(
                "\(relative.count - labelled.count) images directly in \(dir) skipped: the class is the name of the folder an image is in"
            )
        }
        let index = Dictionary(uniqueKeysWithValues: head.classes.enumerated().map { ($1, Int32($0)) })
        var known: [String] = []
        var labels: [Int32] = []
        var unknown: [String: Int] = [:]
        for path in labelled {
            let name = String(path.prefix { $0 != "/" })
            if let k = index[name] {
                known.append(path)
                labels.append(k)
            } else {
                unknown[name, default: 0] += 1
            }
        }
        for (name, n) in unknown.sorted(by: { $0.key < $1.key }) {
            warn("\(n) images of class '\(name)' skipped: run \(stored.id) was not trained on it")
        }
        if known.isEmpty {
            throw HeadError.invalid(
                "no images of the run's classes (\(head.classes.joined(separator: ", "))) in class folders under \(dir)"
            )
        }
        let root = dir.hasSuffix("/") ? dir : dir + "/"
        let inputs = try embedRunInputs(
            known.map { root + $0 }, run: stored, model: head, weights: weights, tta: tta, db: db)
        for f in inputs.failures { warn("skipped: \(f.error)") }
        let embedded = inputs.embedded
        if embedded.isEmpty {
            throw HeadError.invalid("none of the \(known.count) images under \(dir) could be decoded")
        }
        let m = LabeledMatrix(x: inputs.orig, labels: embedded.map { labels[$0] }, width: head.inputCount)
        let flipped = inputs.flipped.map { LabeledMatrix(x: $0, labels: m.labels, width: head.inputCount) }
        report(
            head.evaluate(
                m, paths: embedded.map { known[$0] }, flipped: flipped, unknownClasses: unknown,
                threads: AvailableCPUs.current.count),
            stored: stored, on: dir)
        let failures = inputs.failures
        if !failures.isEmpty { throw ExitCode(3) }
    }

    func report(_ evaluation: Evaluation, stored: StoredRun, on source: String) {
        if json {
            print(
                (try? headJSON(
                    EvaluationReport(
                        runID: stored.id, evaluation: evaluation, listMisclassified: misclassified, tta: tta))) ?? "{}")
            return
        }
        let description = (try? stored.trainingConfig()).map(describe) ?? stored.configJSON
        print("run \(stored.id) (\(description); trained \(stored.createdAt)) on \(source)")
        print(renderMetrics(evaluation.metrics, title: tta ? "test, with test-time flips" : "test"), terminator: "")
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
    let tta: Bool
    enum Key: String, CodingKey {
        case runID = "run_id"
        case accuracy, loss, count
        case perClass = "per_class"
        case confusion, misclassified, tta
    }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        let m = evaluation.metrics
        try c.encode(runID, forKey: .runID)
        try c.encode(m.accuracy, forKey: .accuracy)
        try c.encode(m.loss, forKey: .loss)
        try c.encode(m.count, forKey: .count)
        try c.encode(m.perClass, forKey: .perClass)
        try c.encode(m.confusion, forKey: .confusion)
        try c.encode(tta, forKey: .tta)
        if listMisclassified { try c.encode(evaluation.misclassified, forKey: .misclassified) }
    }
}
