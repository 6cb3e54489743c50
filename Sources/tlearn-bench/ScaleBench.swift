import Foundation
import Store

/// `--section scale`: every command of the scale table on a synthetic database of `--n` images
/// (scripts/make_synthetic_db.py: 100 classes, 1280-float ReLU6 vectors, planted cross-split
/// near-copies), each as its own `tlearn` process with its wall time and peak RSS (wait4), beside
/// numpy and scikit-learn on the same file when they are importable. The database is made once
/// at `--scale-db` (default /tmp/tlearn-scale-N.sqlite: 5.7 GB for a million) and kept for the next
/// run. Peak RSS includes the pages of the memory-mapped matrix file a command touched: those are
/// shared page cache, not memory of its own.
enum ScaleBench: BenchSection {
    static let name = "scale"

    static func run(_ c: BenchContext, _ report: inout BenchReport) throws {
        let n = c.scaleN
        let db = c.scaleDB ?? "/tmp/tlearn-scale-\(n).sqlite"
        let tlearn = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "tlearn"
        ).path
        guard FileManager.default.isExecutableFile(atPath: tlearn) else {
            c.say("scale: skipped: no tlearn binary beside this one (\(tlearn))")
            return
        }
        c.say("== scale: \(n) synthetic images, database \(db) ==")
        if !FileManager.default.fileExists(atPath: db) {
            let script = c.repository + "/scripts/make_synthetic_db.py"
            c.say("scale: making the database with \(script) (kept for later runs)")
            let t = now()
            let made = try spawn("/usr/bin/env", ["python3", script, "--n", "\(n)", "--out", db], stdout: "/dev/null")
            guard made.status == 0 else {
                throw StoreError.invalid("\(script) failed (status \(made.status)): \(made.stderr)")
            }
            c.say(String(format: "scale: made in %.0f s", now() - t))
        }
        // A writable open migrates an older database to the schema with the vectors token.
        _ = try spawn(tlearn, ["query", "--db", db, "--write", "SELECT 1"], stdout: "/dev/null")
        let matrix = "\(db).matrix-1-orig"
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-scale-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }

        func measure(_ key: String, _ label: String, _ args: [String], environment: [String: String] = [:]) throws
            -> Child
        {
            let r = try spawn(tlearn, args, stdout: tmp.path + "/stdout", environment: environment)
            let outcome =
                r.status == 0
                ? "" : r.signal != 0 ? "  KILLED by signal \(r.signal)" : "  FAILED with status \(r.status)"
            c.say(
                String(
                    format: "scale: %-44@ %8.2f s  %7.0f MB%@", label as NSString, r.seconds, Double(r.maxRSSKB) / 1024,
                    outcome))
            if r.status != 0, let last = r.stderr.split(separator: "\n").last {
                c.say("scale:     \(last.prefix(200))")
            }
            report.fields += [
                ("scale_\(key)_s", r.seconds), ("scale_\(key)_rss_mb", Double(r.maxRSSKB) / 1024),
                ("scale_\(key)_status", Int(r.status)),
            ]
            return r
        }
        report.fields.append(("scale_n", n))
        // The matrix file even below the size where tlearn starts using it by itself (small --n).
        let file = ["TLEARN_MATRIX_FILE": "always"]
        _ = try measure("info", "info", ["info", "--db", db])
        _ = try measure("train_head", "train-head --epochs 1", ["train-head", "--db", db, "--epochs", "1"])
        _ = try measure(
            "sweep", "sweep --lr 1e-3,3e-3 --epochs 1,2 (baselines)",
            ["sweep", "--db", db, "--lr", "1e-3,3e-3", "--epochs", "1,2"])

        unlink(matrix)
        _ = try measure(
            "similar_plain", "similar, plain load (no matrix file)", ["similar", "--db", db, "--id", "5", "-k", "10"],
            environment: ["TLEARN_MATRIX_FILE": "never"])
        _ = try measure(
            "similar_build", "similar, building the matrix file", ["similar", "--db", db, "--id", "5", "-k", "10"],
            environment: file)
        evict([db, db + "-wal", matrix])
        _ = try measure(
            "similar_cold", "similar, cold (files evicted from cache)",
            ["similar", "--db", db, "--id", "5", "-k", "10"], environment: file)
        var warm: [Double] = []
        for i in 0..<3 {
            warm.append(
                try measure(
                    "similar_warm\(i + 1)", "similar, warm", ["similar", "--db", db, "--id", "\(5 + i)", "-k", "10"],
                    environment: file
                ).seconds)
        }
        report.fields.append(("scale_similar_warm_median_s", median(warm)))
        let ids = (0..<100).map { String(1 + $0 * (n / 100)) }.joined(separator: ",")
        let many = try measure(
            "similar_ids100", "similar --ids (100 queries), warm", ["similar", "--db", db, "--ids", ids, "-k", "10"],
            environment: file)
        c.say(String(format: "scale: %-44@ %8.3f s", "  per query" as NSString, many.seconds / 100))

        let dup = try measure(
            "duplicates_leaks", "duplicates --leaks", ["duplicates", "--db", db, "--leaks", "--quiet", "--csv"],
            environment: file)
        if dup.status == 0, let planted = try? String(contentsOfFile: db + ".planted.csv", encoding: .utf8) {
            let found = Set(
                (try String(contentsOfFile: tmp.path + "/stdout", encoding: .utf8)).split(separator: "\r\n").dropFirst()
                    .map { line -> String in
                        let f = line.split(separator: ",")
                        return "\(f[2]),\(f[6])"
                    })
            let leaks = planted.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }.filter {
                $0[2] == "1"
            }.map { "\($0[0]),\($0[1])" }
            let recalled = leaks.filter { found.contains($0) }.count
            c.say(
                "scale:   planted cross-split pairs found: \(recalled) of \(leaks.count); \(found.count) leak pairs listed in all"
            )
            report.fields += [("scale_planted_leaks", leaks.count), ("scale_planted_leaks_found", recalled)]
        }
        _ = try measure(
            "export_npy", "export --format npy",
            ["export", "--db", db, "--format", "npy", "--out", tmp.path + "/export"], environment: file)
        try? FileManager.default.removeItem(atPath: tmp.path + "/export")

        guard c.runPeer else { return }
        let peer = """
            import sqlite3, sys, time, json
            import numpy as np
            t = time.perf_counter()
            rows = sqlite3.connect(sys.argv[1]).execute(
                "SELECT label, split, vector FROM labeled_embeddings WHERE view = 'orig' ORDER BY image_id").fetchall()
            X = np.stack([np.frombuffer(r[2], dtype="<f4") for r in rows])
            y = np.array([r[0] for r in rows]); s = np.array([r[1] for r in rows])
            out = {"load_s": time.perf_counter() - t}
            try:
                from sklearn.linear_model import SGDClassifier
            except ImportError:
                print(json.dumps(out)); sys.exit(0)
            t = time.perf_counter()
            clf = SGDClassifier(max_iter=1, tol=None, random_state=0).fit(X[s == "train"], y[s == "train"])
            out["sgd_fit_1_epoch_s"] = time.perf_counter() - t
            out["sgd_test_accuracy"] = float((clf.predict(X[s == "test"]) == y[s == "test"]).mean())
            print(json.dumps(out))
            """
        let script = tmp.path + "/peer.py"
        try peer.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try spawn("/usr/bin/env", ["python3", script, db], stdout: tmp.path + "/peer.json")
        guard r.status == 0, let text = try? String(contentsOfFile: tmp.path + "/peer.json", encoding: .utf8),
            let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        else {
            c.say("scale: numpy peer failed (status \(r.status)): \(r.stderr.split(separator: "\n").last ?? "")")
            return
        }
        let load = object["load_s"] as? Double ?? .nan
        c.say(
            String(
                format: "scale: %-44@ %8.2f s  %7.0f MB (whole process)",
                "numpy: load the vectors from SQLite" as NSString, load, Double(r.maxRSSKB) / 1024))
        report.fields += [("scale_numpy_load_s", load), ("scale_numpy_rss_mb", Double(r.maxRSSKB) / 1024)]
        if let fit = object["sgd_fit_1_epoch_s"] as? Double {
            c.say(
                String(
                    format: "scale: %-44@ %8.2f s  (test accuracy %.3f)",
                    "scikit-learn SGDClassifier fit, 1 epoch" as NSString, fit,
                    object["sgd_test_accuracy"] as? Double ?? .nan))
            report.fields.append(("scale_sklearn_sgd_fit_s", fit))
        } else {
            c.say("scale: scikit-learn not importable: no SGDClassifier figure")
        }
    }

    /// Drops the files' pages from the page cache (posix_fadvise DONTNEED; only these files).
    static func evict(_ paths: [String]) {
        for p in paths {
            let fd = open(p, O_RDONLY)
            if fd < 0 { continue }
            fdatasync(fd)
            _ = posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
            close(fd)
        }
    }

    /// A finished child: exit status (128 + signal when killed), its own peak RSS, wall time, stderr.
    struct Child {
        var status: Int32
        var signal: Int32
        var maxRSSKB: Int
        var seconds: Double
        var stderr: String
    }

    /// Runs `path arguments` with stdout to the file `stdout` and stderr captured; waits for it and
    /// its own peak RSS (`waitWithPeak`).
    static func spawn(_ path: String, _ arguments: [String], stdout: String, environment: [String: String] = [:]) throws
        -> Child
    {
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "tlearn-scale-\(UUID().uuidString).err"
        ).path
        defer { unlink(errPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let env =
            ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [
                nil
            ]
        defer { for p in env { free(p) } }
        var pid: pid_t = 0
        let t0 = now()
        let rc = posix_spawn(&pid, path, &actions, nil, argv, env)
        guard rc == 0 else { throw StoreError.invalid("cannot run \(path): \(String(cString: strerror(rc)))") }
        let child = try waitWithPeak(pid, path)
        let seconds = now() - t0
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return Child(
            status: child.status, signal: child.signal, maxRSSKB: child.peakKB, seconds: seconds, stderr: err)
    }
}
