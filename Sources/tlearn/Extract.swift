import ArgumentParser
import Extraction
import Kernels
import MobileNet
import Store

#if canImport(Glibc)
    import Glibc
#endif

/// `tlearn extract`: the one-time, resumable embedding cache.
struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract",
        abstract: "Compute and store the embedding of every image in a dataset; reruns only do what changed.",
        discussion: """
            Labels come from the first folder level under --images (IMAGES/<label>/.../<file>) or from a \
            --manifest CSV of path,label. Files are recognized by content, not by name. A second run hashes \
            every file and embeds only new or changed ones; killing a run at any moment loses at most the \
            current batch. Files that cannot be used become rows of the failures table and are retried next time.

            Exit status: 0 every file has its embeddings; 3 the run completed but some files failed \
            (see `tlearn info --db FILE --failures`); 1 an error stopped the run; 64 bad options; \
            75 another tlearn process is writing the database; 130 stopped by Ctrl-C after committing \
            (run again to finish).
            """)

    @Option(help: ArgumentHelp("Dataset folder with one subfolder per class.", valueName: "dir")) var images: String?
    @Option(
        help: ArgumentHelp("CSV of path,label; paths relative to --images, else to the CSV's folder.", valueName: "csv")
    ) var manifest: String?
    @Option(help: ArgumentHelp("Database to create or update.", valueName: "file")) var db: String
    @Option(help: ArgumentHelp("Keras MobileNetV2 weights (.h5).", valueName: "file")) var weights: String
    @Option(help: ArgumentHelp("Network input side in pixels.", valueName: "n")) var inputSize = 224
    @Option(help: ArgumentHelp("Views to embed: orig, or orig,hflip for the mirror image too.", valueName: "list"))
    var views = "orig"
    @Option(help: ArgumentHelp("Vectors per database transaction (a kill loses at most this many).", valueName: "n"))
    var batchSize = 32
    @Option(
        help: ArgumentHelp(
            "Threads that each read, decode and embed images (default: one per CPU this process may use).",
            valueName: "n")) var threads: Int?
    @Option(
        help: ArgumentHelp(
            "Only shard K of N (1-based), chosen by path hash; combine with `tlearn merge`.", valueName: "K/N"))
    var shard: String?
    @Flag(help: "Delete rows of files that no longer exist.") var prune = false
    @Flag(
        help:
            "Also store each view's block_16 feature maps (float16, 31 KB per view at 224 px) for fine-tuning; on a database with vectors, computes only the missing maps. See docs/maps.md."
    )
    var maps = false
    @Flag(
        help:
            "Decode every JPEG at full size, bit for bit Pillow's pixels (default: large JPEGs decode at the smallest DCT scale that keeps both sides >= the input size; the two are separate cache keys)."
    )
    var exactDecode = false
    @Option(help: ArgumentHelp("Percent of each class for validation (default: as stored, else 10).", valueName: "p"))
    var valPercent: Double?
    @Option(help: ArgumentHelp("Percent of each class for test (default: as stored, else 10).", valueName: "p"))
    var testPercent: Double?
    @Flag(help: "No progress output; the summary line is still printed.") var quiet = false
    @Flag(help: "Also print the thread count and the CPUs it came from on stderr.") var verbose = false

    /// Each thread decodes and embeds its own images, so one per CPU this process may use (affinity
    /// mask, cgroup quota) keeps those CPUs busy without two workers sharing one.
    static var defaultThreads: Int { AvailableCPUs.current.count }

    func validate() throws {
        if images == nil && manifest == nil {
            throw ValidationError("give --images DIR (one folder per class) or --manifest CSV")
        }
        guard (32...MobileNetV2.maxInputSize).contains(inputSize) else {
            throw ValidationError("--input-size must be between 32 and \(MobileNetV2.maxInputSize), got \(inputSize)")
        }
        guard (1...4096).contains(batchSize) else {
            throw ValidationError("--batch-size must be between 1 and 4096, got \(batchSize)")
        }
        if let threads, !(1...256).contains(threads) {
            throw ValidationError("--threads must be between 1 and 256, got \(threads)")
        }
        _ = try parsedViews()
        _ = try parsedShard()
        for (name, p) in [("--val-percent", valPercent), ("--test-percent", testPercent)] {
            if let p, !(p >= 0 && p < 100) {
                throw ValidationError("\(name) must be at least 0 and below 100, got \(p)")
            }
        }
        if let v = valPercent, let t = testPercent, v + t >= 100 {
            throw ValidationError("--val-percent plus --test-percent must be below 100, got \(v + t)")
        }
        if !pathExists(weights) { throw ValidationError("no weights file at \(weights)") }
        if let images, !pathExists(images) { throw ValidationError("no images folder at \(images)") }
        if let manifest, !pathExists(manifest) { throw ValidationError("no manifest at \(manifest)") }
    }

    func parsedViews() throws -> [View] { try parseViews(views, flag: "--views") }

    func parsedShard() throws -> (index: Int, count: Int)? {
        guard let shard else { return nil }
        let parts = shard.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(k) else {
            throw ValidationError("--shard must be K/N with 1 <= K <= N, like 2/8; got '\(shard)'")
        }
        return (k, n)
    }

    func run() throws {
        var job = ExtractJob(images: images, manifest: manifest, db: db)
        job.options.batchSize = batchSize
        job.options.workers = threads ?? Self.defaultThreads
        if verbose {
            writeStandardError(
                "extract: \(job.options.workers) thread\(job.options.workers == 1 ? "" : "s") (\(threads == nil ? "default" : "--threads"); CPUs this process may use: \(AvailableCPUs.current))\n"
            )
        }
        job.options.views = try parsedViews()
        job.options.shard = try parsedShard()
        job.options.prune = prune
        job.options.maps = maps
        job.valPercent = valPercent
        job.testPercent = testPercent
        let reporter = ProgressReporter(quiet: quiet)
        let minSide = exactDecode ? nil : inputSize
        let preprocessing = ImagingPreparer(minSide: minSide).identifier
        let summary: ExtractionSummary
        Interrupt.install()
        do {
            summary = try job.run(
                backbone: { try Backbone.load(weights: weights, inputSize: inputSize, preprocessing: preprocessing) },
                makePreparer: { ImagingPreparer(minSide: minSide) },
                reporter: reporter,
                warn: { warn($0) },
                shouldStop: { Interrupt.signal != 0 })
        } catch {
            reporter.finish()
            throw error
        }
        print(summary.line)
        if summary.interrupted {
            writeStandardError("interrupted: everything above is stored; run the same command again to finish\n")
            throw ExitCode(128 + Interrupt.signal)
        }
        if summary.failedCount > 0 { throw ExitCode(ExitStatus.someFailed) }
    }
}
