import ArgumentParser
import Extraction
import Foundation
import Kernels
import Store
import VectorSQL

/// `tlearn duplicates`: near-identical images by embedding, and the ones that leak across splits.
struct Duplicates: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates",
        abstract: "List pairs of images whose embeddings are nearly identical (cosine >= threshold).",
        discussion: """
            A pair whose two images are in different splits (train/val/test) is a leak: the model is evaluated on an image it has as good as seen. Such pairs have leak = 1, and a summary goes to stderr.

            The default 0.98 finds copies and re-encodings; with MobileNetV2 embeddings, crops and re-colourings of one photo score about 0.87-0.96, so use --threshold 0.9 (or 0.85 to review more candidates by eye).

            --leaks lists only the pairs that straddle splits, and finds them without comparing every pair in full: short random sketches of the vectors pick candidates (a pair at the threshold is missed with probability 1e-14), then the exact cosine decides. It compares only train with val and test and val with test, in blocks, on --threads threads, with progress on stderr: made for hundreds of thousands of images. --leaks-only compares all pairs exactly and then keeps the leaks.

            Cosines are exact (Double), equal to vec_cosine in `tlearn query`.
            """)

    @OptionGroup var store: DatabaseOptions
    // High on purpose: re-encodings and resizes of one photo score near 1, while crops and
    // re-colourings overlap with distinct photos of one class; a user lowers it to cast wider.
    @Option(parsing: .unconditional, help: "The smallest cosine similarity that counts as a duplicate (-1 to 1).")
    var threshold = 0.98
    @OptionGroup var selection: BackboneOption
    @Option(help: "Which stored view to compare: orig or hflip.") var view = "orig"
    @Flag(help: "Only list pairs that straddle two splits.") var leaksOnly = false
    @Flag(
        help:
            "Only pairs that straddle splits, found through sketch candidates and exact re-scoring (for large databases)."
    ) var leaks = false
    @Option(help: ArgumentHelp("Threads (default: the CPUs this process may use).", valueName: "n")) var threads: Int?
    @Flag(help: "No progress on stderr (the summary line is still printed).") var quiet = false
    @Flag(help: "Write CSV instead of a table.") var csv = false
    @Flag(help: "Write JSON instead of a table.") var json = false

    func validate() throws {
        if !(threshold > -1 && threshold <= 1) {
            throw ValidationError("--threshold must be in (-1, 1], not \(threshold)")
        }
        if !["orig", "hflip"].contains(view) { throw ValidationError("--view must be orig or hflip, not \(view)") }
        if csv && json { throw ValidationError("--csv and --json cannot be used together") }
        if leaks && threshold <= 0 { throw ValidationError("--leaks needs a --threshold above 0, not \(threshold)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    func run() throws {
        let cpus = threads ?? AvailableCPUs.current.count
        BLASThreads.set(cpus)
        let db = store.db
        let connection = try store.open(readOnly: true)
        try readTransaction(connection) {
            let chosen = try BackboneInfo.choose(connection, requested: selection.backbone)
            let vectors = try SearchVectors.open(connection, database: db, backbone: chosen.id, view: view)
            let splits = try vectors.splitCodes(connection)
            let pairs: [(Int, Int, Double)]
            if leaks {
                let start = ContinuousClock.now
                let quiet = self.quiet
                let result = try LeakSearch.pairs(vectors.search, groups: splits, atLeast: threshold, threads: cpus) {
                    done, total, candidates in
                    if quiet { return }
                    let elapsed = Double((ContinuousClock.now - start) / .seconds(1))
                    let eta = done > 0 ? Int(elapsed * Double(total - done) / Double(done)) : 0
                    writeStandardError(
                        "duplicates: \(done)/\(total) blocks (\(100 * done / max(1, total))%), \(candidates) candidates, ETA \(eta / 60):\(eta % 60 < 10 ? "0" : "")\(eta % 60)\n"
                    )
                }
                pairs = result.pairs
                if !quiet {
                    writeStandardError(
                        "duplicates: \(result.stats.comparedPairs) cross-split pairs sketched, \(result.stats.candidates) candidates re-scored exactly in \(String(format: "%.1f", result.stats.seconds)) s\n"
                    )
                }
            } else {
                pairs = try vectors.search.pairs(atLeast: threshold)
            }
            let described = try vectors.describe(pairs.flatMap { [$0.0, $0.1] }, connection)
            var rows: [[SQLValue]] = []
            var leakCount = 0
            var labelMismatch = 0
            for (i, j, cosine) in pairs {
                let a = described[i]!
                let b = described[j]!
                let leak = splits[i] != splits[j]
                if leak { leakCount += 1 }
                if a.label != b.label { labelMismatch += 1 }
                if (leaksOnly || leaks) && !leak { continue }
                rows.append([
                    .real(cosine), .integer(leak ? 1 : 0),
                    .integer(vectors.imageID(i)), .text(a.path), .text(a.label), .text(a.split),
                    .integer(vectors.imageID(j)), .text(b.path), .text(b.label), .text(b.split),
                ])
            }
            let out = BufferedOutput()
            QueryWriter(format: csv ? .csv : json ? .json : .table) { out.write($0) }.write(
                columns: [
                    "cosine", "leak", "id_a", "path_a", "label_a", "split_a", "id_b", "path_b", "label_b", "split_b",
                ], rows: rows)
            out.flush()
            let what = leaks ? "pair\(pairs.count == 1 ? "" : "s") across splits" : "pair\(pairs.count == 1 ? "" : "s")"
            FileHandle.standardError.write(
                Data(
                    """
                    \(pairs.count) \(what) with cosine >= \(threshold) among \(vectors.count) images; \
                    \(leakCount) straddle splits (leaks); \(labelMismatch) have different labels\n
                    """.utf8))
        }
    }
}
