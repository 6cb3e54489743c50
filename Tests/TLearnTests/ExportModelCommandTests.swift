import Foundation
import XCTest

/// `tlearn export RUN --format onnx|keras` on a database extracted from the fixture photos with the seeded
/// alpha 0.35 weights at input size 40, and a head trained on it.
final class ExportModelCommandTests: XCTestCase {
    var db = ""
    var dir = ""
    var root = ""  // the fixture photos, one folder per class

    override func setUpWithError() throws {
        root = try goodFixtureTree(self)
        dir = try scratchFolder(self)
        db = dir + "/db.sqlite"
        let e = try runTlearn([
            "extract", "--images", root, "--db", db, "--weights", tinyWeights, "--input-size", "40", "--quiet",
        ])
        XCTAssertEqual(e.status, 0, e.stderr)
        let t = try runTlearn(["train-head", "--db", db, "--epochs", "3"])
        XCTAssertEqual(t.status, 0, t.stderr)
    }

    /// scripts/check_onnx_export.py: onnx.checker's full check, then ONNX Runtime (float32 and uint8 inputs)
    /// against `tlearn predict --json` and `tlearn embed --json` on every fixture photo.
    func testONNXModelComputesWhatPredictComputesInONNXRuntime() throws {
        try checkONNX(db: db, expectFinetune: false)
    }

    /// Runs scripts/check_onnx_export.py on run 1 of `db` with every fixture photo; skips without onnxruntime.
    func checkONNX(db: String, expectFinetune: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let images = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.contains(".") }.sorted()
            .map { root + "/" + $0 }
        XCTAssertEqual(images.count, goodFixtures.count, file: file, line: line)
        let probe = try runProcess("/usr/bin/env", ["python3", "-c", "import onnxruntime, onnx, numpy"])
        guard probe.status == 0 else {
            throw XCTSkip(
                "python3 cannot import onnxruntime, onnx and numpy: "
                    + "`pip install onnxruntime onnx numpy` to run this check")
        }
        let script = extractRepoRoot + "/scripts/check_onnx_export.py"
        let r = try runProcess(
            "/usr/bin/env",
            ["python3", script, "--db", db, "--run", "1", "--weights", tinyWeights, "--tlearn", try tlearnBinary()]
                + images)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr, file: file, line: line)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.hasPrefix("ok ") }.count, 3, r.stdout, file: file, line: line)
        XCTAssertTrue(
            lines.first?.contains(expectFinetune ? ", finetune," : ", softmax,") == true, r.stdout, file: file,
            line: line)
    }

    /// A finetune run (extract --maps, train-head --model finetune): its tuned Conv_1 goes into the model, which
    /// ONNX Runtime runs as `tlearn predict` does (scripts/check_onnx_export.py).
    func testFinetuneRunsModelComputesWhatPredictComputesInONNXRuntime() throws {
        let ft = dir + "/ft.sqlite"
        let e = try runTlearn([
            "extract", "--images", root, "--db", ft, "--weights", tinyWeights, "--input-size", "40",
            "--maps", "--quiet",
        ])
        XCTAssertEqual(e.status, 0, e.stderr)
        let t = try runTlearn(["train-head", "--db", ft, "--model", "finetune", "--epochs", "3"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let r = try runTlearn([
            "export", "1", "--db", ft, "--weights", tinyWeights, "--format", "onnx", "--out", dir + "/ft.onnx",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("wrote run 1 (finetune, 3 classes,"), r.stderr)
        try checkONNX(db: ft, expectFinetune: true)
    }

    func testBothFormatsAreWrittenAndSayWhatTheyHold() throws {
        for (format, name) in [("onnx", "m.onnx"), ("keras", "m.keras")] {
            let r = try runTlearn([
                "export", "1", "--db", db, "--weights", tinyWeights, "--format", format, "--out", dir + "/" + name,
            ])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(
                r.stderr,
                "wrote run 1 (softmax, 3 classes, MobileNetV2 alpha 0.35 at 40x40, input float32) to \(dir)/\(name)\n")
        }
        let r = try runTlearn([
            "export", "1", "--db", db, "--weights", tinyWeights, "--format", "onnx", "--input", "uint8", "--out",
            dir + "/u.onnx",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let zip = try Data(contentsOf: URL(fileURLWithPath: dir + "/m.keras"))
        XCTAssertEqual(Array(zip.prefix(4)), [0x50, 0x4B, 0x03, 0x04], "a zip archive")
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: dir).sorted(),
            ["db.sqlite", "m.keras", "m.onnx", "u.onnx"])
    }

    func testWeightsThatAreNotTheRunsBackboneAreRefusedAndNothingIsWritten() throws {
        let other = extractRepoRoot + "/fixtures/weights/tiny_a035_keras2.h5"  // the same arrays, another file
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/m.onnx"))
        for format in ["onnx", "keras"] {
            let out = dir + "/m." + format
            let r = try runTlearn(["export", "1", "--db", db, "--weights", other, "--format", format, "--out", out])
            XCTAssertEqual(r.status, 1)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("error: \(other) is not the weights file of backbone 1"), r.stderr)
        }
        XCTAssertEqual(
            try String(contentsOfFile: dir + "/m.onnx", encoding: .utf8), "old", "an existing file is left as it was")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["db.sqlite", "m.onnx"])
    }

    func testUnknownRunIsOneLine() throws {
        let r = try runTlearn([
            "export", "42", "--db", db, "--weights", tinyWeights, "--format", "onnx", "--out", dir + "/m.onnx",
        ])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "error: no run 42 in \(db) (see `tlearn runs --db \(db)`)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m.onnx"))
    }

    func testBaselineRunsAreRefused() throws {
        // Run 2 is the sweep's softmax head, 3 its refit on train+val, 4 its nearest centroid, 5 its kNN.
        let s = try runTlearn(["sweep", "--db", db, "--lr", "0.01", "--epochs", "1"])
        XCTAssertEqual(s.status, 0, s.stderr)
        for (run, kind) in [("4", "nearest_centroid"), ("5", "knn")] {
            let r = try runTlearn([
                "export", run, "--db", db, "--weights", tinyWeights, "--format", "keras", "--out", dir + "/m.keras",
            ])
            XCTAssertEqual(r.status, 1)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(
                r.stderr.hasPrefix("error: run \(run) is a \(kind) baseline of sweep 1, not a trained model"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m.keras"))
    }

    func testUnwritablePathsAreOneLineAndLeaveNoFile() throws {
        for (out, reason) in [(dir + "/missing/m.onnx", "no directory \(dir)/missing"), (dir, "it is a directory")] {
            let r = try runTlearn([
                "export", "1", "--db", db, "--weights", tinyWeights, "--format", "onnx", "--out", out,
            ])
            XCTAssertEqual(r.status, 1)
            XCTAssertEqual(r.stderr, "error: cannot write \(out): \(reason)\n")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["db.sqlite"])
    }

    func testFlagsOfAnotherKindOfExportAreUsageErrors() throws {
        let cases: [([String], String)] = [
            (["--format", "onnx", "--out", "m.onnx"], "--format onnx needs --weights"),
            (
                ["--format", "keras", "--input", "uint8", "--weights", tinyWeights, "--out", "m.keras"],
                "--input uint8 is for --format onnx"
            ),
            (
                ["--format", "onnx", "--input", "int8", "--weights", tinyWeights, "--out", "m.onnx"],
                "--input must be float32 or uint8"
            ),
            (["--weights", tinyWeights, "--out", "head.json"], "--weights is for --format onnx|keras"),
        ]
        for (flags, message) in cases {
            let r = try runTlearn(["export", "1", "--db", db] + flags)
            XCTAssertEqual(r.status, 64, "\(flags): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(flags): \(r.stderr)")
        }
        let noRun = try runTlearn([
            "export", "--db", db, "--format", "onnx", "--weights", tinyWeights, "--out", "m.onnx",
        ])
        XCTAssertTrue(noRun.stderr.contains("--format onnx exports a run's model: give the RUN id"), noRun.stderr)
    }
}
