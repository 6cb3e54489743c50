import Extraction
import Foundation
import Imaging
import MobileNet
import Store

/// What the extraction benchmark measured.
struct ExtractBenchResult {
    var images = 0
    /// Wall time of each `tlearn extract` process into a fresh database (one per turn).
    var runs: [Double] = []
    var seconds: Double { median(runs) }
    /// Network alone on already-preprocessed inputs, same batch size and threads.
    var forwardImagesPerSecond = 0.0
    /// A second run over the unchanged folder (hash everything, embed nothing).
    var cachedSeconds = 0.0
    /// Peak resident set of the extract process, in MB.
    var peakRSSMB = 0.0
}

/// Times `tlearn extract` end to end on `images` into a fresh temp database `turns` times (calling
/// `afterEach` after each, where the peer runs, so both see the same machine), the forward pass
/// alone on the same photos, and a second (cached) run. Runs the `tlearn` binary next to this one
/// when it is there, so peak RSS is that of the extract process alone; otherwise runs in-process.
func extractBench(
    images: String, weights: String, batchSize: Int = 32, threads: Int? = nil, turns: Int = 1,
    afterEach: () -> Void = {}
) throws -> ExtractBenchResult {
    var result = ExtractBenchResult()
    let db = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-bench-\(UUID().uuidString).sqlite")
        .path
    func removeDatabase() {
        for s in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: db + s) }
    }
    defer { removeDatabase() }

    result.forwardImagesPerSecond = try forwardOnly(images: images, weights: weights, batchSize: batchSize)

    let tlearn = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "tlearn"
    ).path
    var args = [
        "extract", "--images", images, "--db", db, "--weights", weights, "--batch-size", "\(batchSize)", "--quiet",
    ]
    if let threads { args += ["--threads", "\(threads)"] }
    if FileManager.default.isExecutableFile(atPath: tlearn) {
        for turn in 0..<max(1, turns) {
            if turn > 0 { removeDatabase() }
            let t0 = Date()
            let (status, maxRSSKB) = try runChild(tlearn, args)
            result.runs.append(Date().timeIntervalSince(t0))
            guard status == 0 || status == 3 else {
                throw StoreError.invalid("tlearn extract exited with status \(status)")
            }
            result.peakRSSMB = max(result.peakRSSMB, Double(maxRSSKB) / 1024)
            result.images = Int(try Database.open(db, readOnly: true).scalar("SELECT count(*) FROM images")?.int ?? 0)
            afterEach()
        }
        let t1 = Date()
        _ = try runChild(tlearn, args)
        result.cachedSeconds = Date().timeIntervalSince(t1)
    } else {
        var job = ExtractJob(images: images, manifest: nil, db: db)
        job.options.batchSize = batchSize
        if let threads { job.options.workers = threads }
        let run = {
            try job.run(
                backbone: {
                    try Backbone.load(
                        weights: weights, inputSize: 224, preprocessing: ImagingPreparer(minSide: 224).identifier)
                }, makePreparer: { ImagingPreparer(minSide: 224) },
                reporter: ProgressReporter(style: .quiet), warn: { _ in })
        }
        let first = try run()
        result.images = first.extracted
        result.runs = [first.seconds]
        afterEach()
        result.cachedSeconds = try run().seconds
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        result.peakRSSMB = Double(usage.ru_maxrss) / 1024
    }
    return result
}

/// The network alone: one batch of real photos, preprocessed once, embedded repeatedly for about 3 s.
private func forwardOnly(images: String, weights: String, batchSize: Int) throws -> Double {
    let scan = try Scanner.scan(root: images)
    let (_, net) = try Backbone.load(weights: weights, inputSize: 224)
    let size = net.inputSize
    let perImage = size * size * 3
    var inputs = [Float](repeating: 0, count: batchSize * perImage)
    var preparer: any ImagePreparer = ImagingPreparer(minSide: 224)
    var filled = 0
    for c in scan.candidates where filled < batchSize {
        guard let p = try? prepareFile(c.file, size: size, views: [.orig], preparer: &preparer) else { continue }
        inputs.replaceSubrange((filled * perImage)..<((filled + 1) * perImage), with: p.inputs)
        filled += 1
    }
    guard filled > 0 else { throw StoreError.invalid("no decodable photos in \(images)") }
    var output = [Float](repeating: 0, count: batchSize * net.dim)
    let embed = {
        inputs.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: filled, into: $0.baseAddress!) }
        }
    }
    embed()  // warm-up: arenas, page faults
    var n = 0
    let t0 = Date()
    while Date().timeIntervalSince(t0) < 3 {
        embed()
        n += filled
    }
    return Double(n) / Date().timeIntervalSince(t0)
}

/// End-to-end `tlearn extract` of the dev photos beside the usual Python pipeline (OpenCV decode and
/// resize + ONNX Runtime + numpy save, `ort_bench.py pipeline`) measured in the same run.
enum ExtractSection: BenchSection {
    static let name = "extract"
    static func run(_ c: BenchContext, _ report: inout BenchReport) throws {
        let images = "\(c.shared)/data/flower_photos_dev"
        // tlearn and the pipeline take turns, as in the forward section: a change in the load of a
        // shared machine hits both alike, and the ratio is the median of the per-turn ratios.
        let turns = min(3, c.reps)
        var peerRates: [Double] = []
        let r = try extractBench(images: images, weights: c.weights, batchSize: c.batch, turns: turns) {
            guard c.runPeer else { return }
            if let rate = runPeer([
                "python3", "\(c.shared)/reference/ort_bench.py", "pipeline", "--images", images,
                "--batch", "\(c.batch)", "--threads", "\(c.threads)",
            ])?["images_per_s"] as? Double {
                peerRates.append(rate)
            }
        }
        let rates = r.runs.map { Double(r.images) / $0 }
        let e2e = median(rates)
        let peer = peerRates.isEmpty ? nil : median(peerRates)
        let ratio = peerRates.count == rates.count ? median(zip(rates, peerRates).map { $0 / $1 }) : nil
        c.say(
            String(
                format:
                    "extract: %d photos end to end %.1f images/s (median of %d: %@; whole process, weights loading included); forward alone %.1f images/s (%.2fx); cached rerun %.2f s; peak RSS %.0f MB",
                r.images, e2e, rates.count, rates.map { String(format: "%.1f", $0) }.joined(separator: " "),
                r.forwardImagesPerSecond, e2e / r.forwardImagesPerSecond, r.cachedSeconds, r.peakRSSMB))
        if let peer, let ratio {
            c.say(
                String(
                    format:
                        "extract: Python pipeline (OpenCV + ONNX Runtime + numpy) %.1f images/s (%@), in turns with tlearn; tlearn/peer %.2fx (median of the per-turn ratios)",
                    peer, peerRates.map { String(format: "%.1f", $0) }.joined(separator: " "), ratio))
        }
        report.fields.append(("extract_images_per_s", e2e))
        report.fields.append(("extract_forward_only_images_per_s", r.forwardImagesPerSecond))
        report.fields.append(("extract_vs_forward", e2e / r.forwardImagesPerSecond))
        report.fields.append(("extract_cached_rerun_s", r.cachedSeconds))
        report.fields.append(("extract_peak_rss_mb", r.peakRSSMB))
        report.fields.append(("pipeline_peer_images_per_s", peer as Any))
        report.fields.append(("extract_ratio_vs_pipeline_peer", ratio as Any))
        try reportMapsCost(c, images: images, report: &report)
    }
}
