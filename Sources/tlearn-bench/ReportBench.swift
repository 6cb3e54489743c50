import Formats
import Foundation
import Head
import Imaging
import Kernels
import Store
import VectorSQL

/// The `report` section: `tlearn report` on the 1837 dev vectors (Keras reference embeddings, as
/// the head section) after the 96-point sweep, with the dev photos as the image folder. Times the
/// whole process (target: under 3 s, page under 10 MB) and the pieces the page is made of.
struct ReportBench: BenchSection {
    static let name = "report"
    static func run(_ c: BenchContext, _ report: inout BenchReport) throws {
        c.say("== report: `tlearn report` of the dev photos after a 96-point sweep ==")
        let ref = c.shared + "/reference"
        let photos = c.shared + "/data/flower_photos_dev"
        guard FileManager.default.fileExists(atPath: ref + "/dev_embeddings_pil.f32"),
            FileManager.default.fileExists(atPath: photos)
        else { return c.say("skipped: \(ref)/dev_embeddings_pil.f32 or \(photos) not found") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tlearn-reportbench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("dev.sqlite").path
        try writeReferenceDatabase(shared: c.shared, to: path)
        let db = try Database.open(path)
        try db.run(
            "INSERT INTO meta (key, value) VALUES ('root', ?1)",
            [.text(URL(fileURLWithPath: photos).standardizedFileURL.path)])
        let set = try EmbeddingSet.load(from: db)
        let tlearn = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("tlearn").path
        guard FileManager.default.isExecutableFile(atPath: tlearn) else {
            return c.say("skipped: no tlearn next to tlearn-bench")
        }
        let (status, _) = try runChild(
            tlearn,
            [
                "sweep", "--db", path, "--lr", "1e-4,3e-4,1e-3,3e-3", "--epochs", "5,10,20,50",
                "--batch-size", "16,32,64", "--l2", "0,1e-4", "--dropout", "0", "--model", "softmax",
                "--jobs", "\(c.threads)", "--json",
            ])
        guard status == 0 else { throw HeadError.invalid("tlearn sweep exited with status \(status)") }
        let finalRun = try RunStore.resolve("best", in: db)
        let head = try StoredModel.load(run: finalRun, from: db)

        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let start = ContinuousClock.now
            try body()
            return Double((ContinuousClock.now - start) / .seconds(1))
        }
        func ms(_ s: Double) -> String { fixed(s * 1000, 1) + " ms" }
        var evaluation: Evaluation!
        let load = try seconds { _ = try EmbeddingSet.load(from: db) }
        let evaluate = try seconds { evaluation = try head.evaluate(on: set, partition: .test) }
        var pairs: [(Int, Int, Double)] = []
        let duplicates = try seconds {
            let matrix = try VectorMatrix.load(db, backbone: 1)
            pairs = try CosineSearch(matrix).pairs(atLeast: 0.9)
        }
        let rows =
            set.rows(in: .train, views: [.orig]) + set.rows(in: .val, views: [.orig])
            + set.rows(in: .test, views: [.orig])
        let x = set.matrix(rows).x
        let pca = try seconds {
            _ = try PrincipalComponents(x, rows: rows.count, dim: set.dim).project(x, rows: rows.count)
        }
        let maker = ThumbnailMaker()
        let files = evaluation.misclassified.map { photos + "/" + $0.path }
        var bytes = 0
        let thumbnails = try seconds { for f in files { bytes += try maker.make(fromFileAt: f).jpeg.count } }
        c.say(
            "load vectors \(ms(load)), evaluate \(ms(evaluate)), duplicates (\(pairs.count) pairs >= 0.9) "
                + "\(ms(duplicates)), PCA of \(rows.count) x \(set.dim) \(ms(pca))")
        c.say("\(files.count) thumbnails, one thread: \(ms(thumbnails)) (\(bytes / max(files.count, 1)) bytes each)")
        report.fields += [
            ("report_load_ms", load * 1000), ("report_duplicates_ms", duplicates * 1000),
            ("report_pca_ms", pca * 1000), ("report_thumbnail_ms", thumbnails * 1000 / Double(max(files.count, 1))),
        ]

        let out = dir.appendingPathComponent("report.html").path
        var walls: [Double] = []
        for _ in 0..<c.reps {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tlearn)
            p.arguments = ["report", "--db", path, "--out", out]
            p.standardOutput = FileHandle.nullDevice
            walls.append(
                try seconds {
                    try p.run()
                    p.waitUntilExit()
                })
            guard p.terminationStatus == 0 else {
                throw HeadError.invalid("tlearn report exited with status \(p.terminationStatus)")
            }
        }
        let size = (try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        let wall = median(walls)
        c.say(
            "whole process `tlearn report` (run \(finalRun), \(files.count) misclassified), "
                + "median of \(c.reps): \(fixed(wall, 2)) s (target < 3 s) \(wall < 3 ? "OK" : "SLOW"); "
                + "page \(fixed(Double(size) / 1e6, 2)) MB (target < 10 MB)")
        report.fields += [("report_process_s", wall), ("report_page_mb", Double(size) / 1e6)]
    }
}
