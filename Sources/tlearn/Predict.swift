import ArgumentParser
import Extraction
import Foundation
import Head
import Kernels

/// `tlearn predict RUN IMAGE|DIR...`: classify images with a saved head.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Classify images with a saved run: the top classes with their probabilities.",
        discussion: """
            Each image is embedded as `tlearn extract` does (orig view) by the backbone the run was trained \
            on; --weights must be that very file (checked by SHA-256). Directories are searched recursively \
            for .jpg, .jpeg and .png. A file that cannot be decoded gets a one-line error and the others are \
            still classified; the exit status is then 3. \
            CSV columns: path,rank,class,probability. JSON: an array of {"path", "predictions": [{"class", "probability"}]}.
            """)

    @Argument(
        help: ArgumentHelp(
            "A run id (see `tlearn runs`), latest (the newest trained head) or best (of the newest sweep).",
            valueName: "run")) var selector: String
    @Argument(help: ArgumentHelp("Image files or directories.", valueName: "image-or-dir")) var images: [String]
    @OptionGroup var store: DatabaseOptions
    @Option(help: ArgumentHelp("The Keras MobileNetV2 weights (.h5) the run's vectors came from.", valueName: "file"))
    var weights: String
    @Option(help: "How many classes to show per image.") var top = 3
    @Flag(help: "Test-time flips: each image's probabilities are the mean of its orig and mirror image's.") var tta =
        false
    @Flag(help: "Write CSV instead of a table.") var csv = false
    @Flag(help: "Write JSON instead of a table.") var json = false

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image file or directory") }
        if top < 1 { throw ValidationError("--top must be at least 1, got \(top)") }
        if csv && json { throw ValidationError("--csv and --json cannot be used together") }
        if !FileManager.default.fileExists(atPath: weights) { throw ValidationError("no weights file at \(weights)") }
    }

    func run() throws {
        let db = try store.open(readOnly: true)
        let stored = try RunStore.load(RunStore.resolve(selector, in: db), from: db)
        let model = try stored.trainedModel(in: db)
        let files = try imageFiles(images)
        if files.isEmpty { throw HeadError.invalid("no images to classify in \(images.joined(separator: " "))") }
        let (inputs, flipped, embedded, failures) = try embedRunInputs(
            files, run: stored, model: model, weights: weights, tta: tta, db: db)
        for f in failures { writeStandardError("error: \(f.error)\n") }
        let p = model.probabilities(inputs, flipped: flipped, threads: AvailableCPUs.current.count)
        let c = model.classCount
        let k = min(top, c)
        let results = embedded.enumerated().map { (row, file) in
            (path: files[file], top: model.top(k, of: p[(row * c)..<((row + 1) * c)]))
        }
        if json {
            print(
                try headJSON(
                    results.map {
                        PredictionEntry(
                            path: $0.path,
                            predictions: $0.top.map { .init(class: $0.class, probability: $0.probability) })
                    }))
        } else if csv {
            var out = "path,rank,class,probability\n"
            for r in results {
                for (rank, t) in r.top.enumerated() {
                    out +=
                        "\(csvField(r.path)),\(rank + 1),\(csvField(t.class)),\(formatNumber("%.6f", t.probability))\n"
                }
            }
            print(out, terminator: "")
        } else if !results.isEmpty {
            var header = ["image"]
            for i in 1...k { header += k == 1 ? ["class", "probability"] : ["class \(i)", "p \(i)"] }
            var t = TextTable(header, left: Set([0] + (0..<k).map { 1 + 2 * $0 }))
            for r in results { t.add([r.path] + r.top.flatMap { [$0.class, fixed($0.probability)] }) }
            print(t.render(), terminator: "")
        }
        if !failures.isEmpty { throw ExitCode(3) }
    }
}

struct PredictionEntry: Encodable {
    struct Prediction: Encodable {
        let `class`: String
        let probability: Double
    }
    let path: String
    let predictions: [Prediction]
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
func csvField(_ s: String) -> String {
    s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
        ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
}
