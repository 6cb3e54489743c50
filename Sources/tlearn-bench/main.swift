import ArgumentParser
import Foundation

/// `tlearn-bench`: release-build benchmarks, each a `BenchSection` in its own file, reporting beside a
/// peer measured in the same run. Add a section by adding one line to `sections`.
struct TLearnBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tlearn-bench",
        abstract: "Benchmarks tlearn (build with -c release) and compares with ONNX Runtime in the same run.")

    static let sections: [any BenchSection.Type] = [
        ForwardBench.self,
        LayersBench.self,
        DecodeBench.self,
        ExtractSection.self,
        SimilarSection.self,
        HeadBench.self,
        FinetuneBench.self,
        ReportBench.self,
        ScaleBench.self,
    ]

    @Option(help: "Keras .h5 weights (default: <shared>/weights/mnv2_no_top_keras3.h5).") var weights: String?
    @Option(help: "The shared directory with reference/ and data/.") var shared: String = "../shared"
    @Option(help: "Images per batch.") var batch: Int = 32
    @Option(help: "Threads (tlearn and the peer).") var threads: Int = 2
    @Option(help: "Timed repetitions; the median is reported.") var reps: Int = 5
    @Option(help: "Seconds per repetition.") var seconds: Double = 2
    @Option(help: "Sections to run, repeatable (default all; e.g. forward).") var section: [String] = []
    @Flag(help: "Skip the peer (ONNX Runtime) measurements.") var noPeer = false
    @Option(help: "Images in the scale section's synthetic database.") var n: Int = 100_000
    @Option(
        help: "The scale section's database: used when it exists, made there (scripts/make_synthetic_db.py) when not.")
    var scaleDb: String?
    @Flag(help: "Print one JSON object instead of text.") var json = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard n >= 1000 else { throw ValidationError("--n must be at least 1000, got \(n)") }
        guard reps >= 1 else { throw ValidationError("--reps must be at least 1, got \(reps)") }
        guard seconds > 0 else { throw ValidationError("--seconds must be positive, got \(seconds)") }
        let known = Set(Self.sections.map { $0.name })
        for s in section where !known.contains(s) {
            throw ValidationError("unknown section '\(s)'; known: \(known.sorted().joined(separator: ", "))")
        }
    }

    func run() throws {
        var context = BenchContext(
            weights: weights ?? "\(shared)/weights/mnv2_no_top_keras3.h5", shared: shared, batch: batch,
            threads: threads,
            reps: reps, seconds: seconds, runPeer: !noPeer, verbose: !json)
        context.scaleN = n
        context.scaleDB = scaleDb
        var report = BenchReport()
        // The scale section makes a database of hundreds of MB and runs for minutes: only on request.
        for s in Self.sections where section.isEmpty ? s.name != ScaleBench.name : section.contains(s.name) {
            try s.run(context, &report)
        }
        report.fields.append(("peak_rss_mb", Double(peakRSSKilobytes()) / 1024))
        if json {
            print(report.json())
        } else {
            print(String(format: "peak RSS: %.0f MB", Double(peakRSSKilobytes()) / 1024))
        }
    }
}

TLearnBench.main()
