import Foundation
import Store

/// The `finetune` section: `tlearn train-head --model finetune` (20 epochs over the dev photos'
/// train split, orig+hflip maps) as a whole process with its peak RSS, in turns with Keras `fit` of the
/// same model on the same cached maps (scripts/keras_finetune_bench.py), and the softmax head's whole
/// process (5 epochs) beside it. The maps come from one `tlearn extract --views orig,hflip --maps`.
struct FinetuneBench: BenchSection {
    static let name = "finetune"
    static func run(_ c: BenchContext, _ report: inout BenchReport) throws {
        c.say("== finetune: Conv_1 + Dense on cached block_16 maps, 20 epochs, beside Keras fit ==")
        let photos = c.shared + "/data/flower_photos_dev"
        let tlearn = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "tlearn"
        ).path
        guard FileManager.default.fileExists(atPath: photos), FileManager.default.isExecutableFile(atPath: tlearn)
        else {
            return c.say("skipped: needs \(photos) and the tlearn binary next to tlearn-bench")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tlearn-finetunebench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("dev.sqlite").path
        let (extracted, _) = try runChild(
            tlearn,
            [
                "extract", "--images", photos, "--weights", c.weights, "--db", db,
                "--views", "orig,hflip", "--maps", "--quiet",
            ])
        guard extracted == 0 || extracted == 3 else {
            throw StoreError.invalid("tlearn extract --maps exited with status \(extracted)")
        }
        let rows =
            try Database.open(db, readOnly: true).scalar("SELECT count(*) FROM labeled_maps WHERE split = 'train'")?.int
            ?? 0

        let train = [
            "train-head", "--db", db, "--model", "finetune", "--epochs", "20", "--lr", "1e-4", "--dropout", "0.2",
            "--train-views", "orig,hflip", "--threads", "\(c.threads)",
        ]
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("scripts/keras_finetune_bench.py").path
        var mine: [Double] = []
        var peer: [Double] = []
        var ratios: [Double] = []
        var rss = 0
        for _ in 0..<min(3, c.reps) {
            let t0 = now()
            let (status, kb) = try runChild(tlearn, train)
            guard status == 0 else {
                throw StoreError.invalid("tlearn train-head --model finetune exited with status \(status)")
            }
            mine.append(now() - t0)
            rss = max(rss, kb)
            guard c.runPeer,
                let r = runPeer([
                    "python3", script, db, "--epochs", "20", "--lr", "1e-4", "--dropout", "0.2",
                    "--threads", "\(c.threads)",
                ]),
                let fit = r["fit_seconds"] as? Double
            else { continue }
            peer.append(fit)
            ratios.append(fit / mine.last!)
        }
        var softmax: [Double] = []
        for _ in 0..<5 {
            let t0 = now()
            _ = try runChild(tlearn, ["train-head", "--db", db, "--epochs", "5"])
            softmax.append(now() - t0)
        }
        c.say(
            "finetune, \(rows) map rows (orig+hflip train), 20 epochs: tlearn whole process \(String(format: "%.1f", median(mine))) s "
                + "(min \(String(format: "%.1f", mine.min()!)), max \(String(format: "%.1f", mine.max()!))), peak RSS \(rss / 1024) MB"
        )
        if !peer.isEmpty {
            c.say(
                "  keras fit alone \(String(format: "%.1f", median(peer))) s; keras / tlearn \(String(format: "%.2f", median(ratios)))x "
                    + "(per turn " + ratios.map { String(format: "%.2f", $0) }.joined(separator: " ") + ")")
        }
        c.say("softmax head, 5 epochs, whole process: \(String(format: "%.3f", median(softmax))) s (median of 5)")
        report.fields += [
            ("finetune_rows", Int(rows)), ("finetune_20_epochs_s", median(mine)),
            ("finetune_peak_rss_mb", Double(rss) / 1024),
            ("finetune_keras_fit_s", peer.isEmpty ? nil as Double? as Any : median(peer)),
            ("finetune_speedup_vs_keras", ratios.isEmpty ? nil as Double? as Any : median(ratios)),
            ("softmax_5_epochs_process_s", median(softmax)),
        ]
    }
}
