import Dispatch
import Foundation
import Head
import Store

/// The `head` section of `tlearn-bench` (see `runHeadBench`).
struct HeadBench: BenchSection {
    static let name = "head"
    static func run(_ context: BenchContext, _ report: inout BenchReport) throws {
        let tlearn = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "tlearn"
        ).path
        let r = try runHeadBench(shared: context.shared, tlearn: tlearn, peer: context.runPeer, say: context.say)
        report.fields += r.fields
    }
}

/// What the head benchmark measured; `fields` are its `--json` entries.
struct HeadBenchResult {
    var fields: [(String, Any)] = []
}

/// The head benchmark: loading, train-head and sweep on the 1837 dev vectors of
/// `shared/reference/dev_embeddings_pil.f32` (Keras's own embeddings, so this section does not
/// depend on extraction speed), split 10/10 by tlearn's path-hash rule; the whole `tlearn
/// train-head --epochs 5` process when the `tlearn` binary is there; and, with `peer`, the
/// scikit-learn LogisticRegression fit (lbfgs, C=1) on the same vectors and split.
func runHeadBench(shared: String, tlearn: String?, peer: Bool = true, say: (String) -> Void = { print($0) }) throws
    -> HeadBenchResult
{
    var result = HeadBenchResult()
    say("== head: softmax head on cached vectors (1837 dev photos, Keras reference embeddings) ==")
    let ref = shared + "/reference"
    guard FileManager.default.fileExists(atPath: ref + "/dev_embeddings_pil.f32") else {
        say("skipped: \(ref)/dev_embeddings_pil.f32 not found")
        return result
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-headbench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("dev.sqlite").path
    try writeReferenceDatabase(shared: shared, to: path)

    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        return Double((ContinuousClock.now - start) / .seconds(1))
    }
    func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
    func ms(_ s: Double) -> String { fixed(s * 1000, 1) + " ms" }

    let db = try Database.open(path)
    var set: EmbeddingSet!
    let load = median(try (0..<5).map { _ in try seconds { set = try EmbeddingSet.load(from: db) } })
    let data = try set.trainingData(trainViews: [.orig])
    say("vectors: \(set.count) x \(set.dim); train \(data.train.rows), val \(data.val.rows), test \(data.test.rows)")
    say("load (one query into one matrix):      \(ms(load))")
    result.fields.append(("head_load_ms", load * 1000))

    for epochs in [5, 20] {
        var config = TrainingConfig()
        config.epochs = epochs
        var run: RunResult!
        let t = median(try (0..<5).map { _ in try seconds { run = try trainAndEvaluate(data, config: config)[0] } })
        say(
            "train + evaluate, adam, \(epochs) epochs:\(epochs < 10 ? " " : "")     \(ms(t))  (\(fixed(Double(data.train.rows * epochs) / t / 1e6, 2)) M rows/s; val \(fixed(run.val?.accuracy)), test \(fixed(run.test?.accuracy)))"
        )
        result.fields += [
            ("head_train\(epochs)_ms", t * 1000), ("head_train\(epochs)_test_accuracy", run.test?.accuracy ?? 0),
        ]
    }

    let grid = SweepGrid(
        learningRates: [1e-4, 3e-4, 1e-3, 3e-3], epochs: [5, 10, 20, 50], batchSizes: [16, 32, 64], l2s: [0, 1e-4])
    let jobs = ProcessInfo.processInfo.activeProcessorCount
    var outcome: SweepOutcome!
    let sweep = try seconds { outcome = try runSweep(data, grid: grid, base: TrainingConfig(), jobs: jobs) }
    say(
        "sweep of \(grid.count) configs (4 lr x 4 epochs x 3 batch x 2 l2) on \(jobs) threads: \(fixed(sweep, 2)) s  (target < 10 s on 2 cores)"
    )
    say(
        "  best on val: \(describeBench(outcome.best.config)): val \(fixed(outcome.best.val?.accuracy)), test \(fixed(outcome.best.test?.accuracy))"
    )
    for b in outcome.baselines {
        say(
            "  baseline \(b.config.model == .knn ? "\(b.config.k ?? 0)-NN" : "nearest centroid") (cosine): val \(fixed(b.val?.accuracy)), test \(fixed(b.test?.accuracy))"
        )
    }
    result.fields += [("head_sweep96_s", sweep), ("head_sweep_best_test_accuracy", outcome.best.test?.accuracy ?? 0)]

    if let tlearn, FileManager.default.isExecutableFile(atPath: tlearn) {
        var walls: [Double] = []
        for _ in 0..<7 {
            var status: Int32 = 0
            walls.append(
                try seconds {
                    (status, _) = try runChild(tlearn, ["train-head", "--db", path, "--epochs", "5", "--json"])
                })
            guard status == 0 else { throw HeadError.invalid("tlearn train-head exited with status \(status)") }
        }
        say("whole process `tlearn train-head --epochs 5`, median of 7: \(ms(median(walls)))  (target < 200 ms)")
        result.fields.append(("head_process_ms", median(walls) * 1000))
    } else {
        say("whole process: skipped (no tlearn binary next to tlearn-bench)")
    }

    guard peer else { return result }
    // Peer: scikit-learn LogisticRegression (lbfgs, C=1.0, max_iter 1000) on the same vectors and split.
    let script = """
        import json, sqlite3, sys, time
        import numpy as np
        from sklearn.linear_model import LogisticRegression
        rows = sqlite3.connect(sys.argv[1]).execute("SELECT c.name, i.split, e.vector FROM embeddings e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id ORDER BY e.image_id").fetchall()
        y = np.array([r[0] for r in rows]); s = np.array([r[1] for r in rows]); x = np.stack([np.frombuffer(r[2], dtype="<f4") for r in rows])
        t = time.perf_counter(); clf = LogisticRegression(C=1.0, max_iter=1000).fit(x[s == "train"], y[s == "train"]); t = time.perf_counter() - t
        print(json.dumps({"seconds": t, "accuracy": float((clf.predict(x[s == "test"]) == y[s == "test"]).mean())}))
        """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script, path]
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    try p.run()
    let out = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let j = try? JSONSerialization.jsonObject(with: out) as? [String: Double],
        let fit = j["seconds"], let accuracy = j["accuracy"]
    else {
        say("peer: skipped (python3 with numpy and scikit-learn not available)")
        return result
    }
    let ours = result.fields.first { $0.0 == "head_train20_ms" }.map { $0.1 as! Double / 1000 } ?? .nan
    say(
        "peer sklearn LogisticRegression (lbfgs): fit \(fixed(fit, 3)) s, test \(fixed(accuracy)); tlearn default train \(fixed(fit / ours, 1))x faster"
    )
    result.fields += [("head_sklearn_fit_s", fit), ("head_sklearn_test_accuracy", accuracy)]
    return result
}

private func describeBench(_ c: TrainingConfig) -> String {
    "\(c.optimizer.rawValue) lr \(compact(c.learningRate)), \(c.epochs) epochs, batch \(c.batchSize), l2 \(compact(c.l2))"
}

/// The dev vectors as a tlearn database: classes from the folders, splits by `SplitPolicy.standard`
/// (the rule `tlearn extract` applies; scripts/db_from_reference.py builds the same file).
func writeReferenceDatabase(shared: String, to path: String) throws {
    let ref = shared + "/reference"
    let paths = try String(contentsOfFile: ref + "/dev_paths.txt", encoding: .utf8).split(separator: "\n").map(
        String.init)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: ref + "/dev_embeddings_pil.f32"))
    let dim = 1280
    guard bytes.count == paths.count * dim * 4 else {
        throw HeadError.invalid(
            "\(ref)/dev_embeddings_pil.f32 has \(bytes.count) bytes, expected \(paths.count) x \(dim) float32")
    }
    let classNames = Array(Set(paths.map { String($0.prefix { $0 != "/" }) })).sorted()
    var splits: [String: Split] = [:]
    for name in classNames {
        let members = paths.filter { $0.hasPrefix(name + "/") }.map { ($0, PathHash(path: $0)) }
        splits.merge(SplitPolicy.standard.assign(members)) { a, _ in a }
    }
    let db = try Database.open(path)
    try db.transaction {
        try db.run(
            "INSERT INTO backbones (id, weights_sha256, alpha, input_size, preprocessing, dim, weights_name) VALUES (1, 'reference', 1.0, 224, 'pillow-bilinear;x/127.5-1', ?1, 'mnv2_no_top_keras3.h5')",
            [.integer(Int64(dim))])
        for (i, name) in classNames.enumerated() {
            try db.run("INSERT INTO classes (id, name) VALUES (?1, ?2)", [.integer(Int64(i + 1)), .text(name)])
        }
        let image = try db.prepare(
            "INSERT INTO images (id, path, class_id, sha256, bytes, split) VALUES (?1, ?2, ?3, '', 0, ?4)")
        let vector = try db.prepare(
            "INSERT INTO embeddings (image_id, backbone_id, view, vector) VALUES (?1, 1, 'orig', ?2)")
        for (i, p) in paths.enumerated() {
            let cls = classNames.firstIndex(of: String(p.prefix { $0 != "/" }))! + 1
            image.reset()
            try image.bind([.integer(Int64(i + 1)), .text(p), .integer(Int64(cls)), .text(splits[p]!.rawValue)])
            while try image.step() {}
            vector.reset()
            try vector.bind(.integer(Int64(i + 1)), at: 1)
            try bytes.withUnsafeBytes {
                try vector.bindBlob(UnsafeRawBufferPointer(rebasing: $0[(i * dim * 4)..<((i + 1) * dim * 4)]), at: 2)
            }
            while try vector.step() {}
        }
    }
}
