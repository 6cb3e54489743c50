import Foundation
import XCTest

@testable import Store

/// The finetune kind end to end on the fixture images with the tiny weights (3x3x112 maps): evaluate
/// agrees with SQL on the stored maps, sweeps cover both kinds where maps are stored, and the
/// wrong inputs are one-line errors.
final class FinetuneCommandTests: XCTestCase {
    func database(maps: Bool) throws -> String {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/f.sqlite"
        XCTAssertEqual(try extractTool(root, db, (maps ? ["--maps"] : []) + ["--views", "orig,hflip"]).status, 0)
        return db
    }

    func testEvaluateOfAFinetuneRunIsHeadPredictOnTheStoredMaps() throws {
        let db = try database(maps: true)
        let train = try runTlearn(["train-head", "--db", db, "--model", "finetune", "--epochs", "3", "--json"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let config = try XCTUnwrap(try headJSONObject(train.stdout)["config"] as? [String: Any])
        XCTAssertEqual(config["model"] as? String, "finetune")
        XCTAssertEqual(config["dropout"] as? Double, 0.2, "finetune's default dropout")
        XCTAssertEqual(config["train_views"] as? [String], ["orig", "hflip"], "both views stored, so both train")
        XCTAssertEqual(config["map_shape"] as? [Int], [3, 3, 112])
        let e = try runTlearn(["evaluate", "1", "--db", db, "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let accuracy = try XCTUnwrap(try headJSONObject(e.stdout)["accuracy"] as? Double)
        let q = try runTlearn([
            "query", "--db", db, "--csv",
            "SELECT avg(head_predict(1, map) = label) FROM labeled_maps WHERE split = 'test' AND view = 'orig'",
        ])
        XCTAssertEqual(q.status, 0, q.stderr)
        XCTAssertEqual(try XCTUnwrap(Double(q.stdout.split(separator: "\r\n")[1])), accuracy, accuracy: 1e-12)
        let out = try scratchFolder(self) + "/head.json"
        let j = try runTlearn(["export", "1", "--db", db, "--out", out])
        XCTAssertEqual(j.status, 0, j.stderr)
        let head = try headJSONObject(try String(contentsOfFile: out, encoding: .utf8))
        XCTAssertEqual(head["model"] as? String, "finetune")
        XCTAssertEqual(head["map_shape"] as? [Int], [3, 3, 112])
        let conv1 = try XCTUnwrap(head["conv1"] as? [String: Any])
        XCTAssertEqual((conv1["kernel"] as? [[Double]])?.count, 112)
        XCTAssertEqual((conv1["bias"] as? [Double])?.count, 1280)
    }

    func testWrongInputsOfAFinetuneRunAreOneLine() throws {
        let db = try database(maps: true)
        XCTAssertEqual(try runTlearn(["train-head", "--db", db, "--model", "finetune", "--epochs", "1"]).status, 0)
        // SQL: a 1280-float vector, or a BLOB of the wrong size, where the run reads maps.
        for (blob, says) in [
            ("(SELECT vector FROM embeddings LIMIT 1)", "(a 1280-float vector: a finetune run needs the image's maps)"),
            ("zeroblob(2015)", "not a BLOB of 2015 bytes"),
        ] {
            let q = try runTlearn(["query", "--db", db, "SELECT head_predict(1, \(blob))"])
            XCTAssertEqual(q.status, 1)
            XCTAssertTrue(
                q.stderr.contains(
                    "head_predict: run 1 is a finetune model: it reads block_16 maps of 3x3x112 float16 values (2016 bytes, maps.map)"
                ), q.stderr)
            XCTAssertTrue(q.stderr.contains(says), q.stderr)
            XCTAssertEqual(q.stderr.split(separator: "\n").count, 1, q.stderr)
        }
        // Without maps: train-head and sweep say how to get them.
        let plain = try database(maps: false)
        let r = try runTlearn(["train-head", "--db", plain, "--model", "finetune"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(
            r.stderr, "error: \(plain) has no maps of backbone 1: extract them with `tlearn extract --maps`\n")
        let s = try runTlearn(["sweep", "--db", plain, "--model", "finetune", "--epochs", "1"])
        XCTAssertEqual(s.status, 1)
        XCTAssertTrue(
            s.stderr.hasSuffix("has no maps of backbone 1: extract them with `tlearn extract --maps`\n"), s.stderr)
    }

    func testSweepCoversBothKindsWhereMapsAreStored() throws {
        let db = try database(maps: true)
        let r = try runTlearn([
            "sweep", "--db", db, "--json", "--lr", "1e-3", "--epochs", "1,2", "--jobs", "2", "--no-baselines",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let board = try XCTUnwrap(try headJSONObject(r.stdout)["leaderboard"] as? [[String: Any]])
        let kinds = board.compactMap { ($0["config"] as? [String: Any])?["model"] as? String }
        // The softmax grid's default dropout axis is 0, 0.2; finetune's is 0.2.
        XCTAssertEqual(kinds.sorted(), ["finetune", "finetune", "softmax", "softmax", "softmax", "softmax"])
        let grid = try Database.open(db, readOnly: true).scalar(
            "SELECT json_extract(grid, '$.grids[1].model[0]') FROM sweeps")?.string
        XCTAssertEqual(grid, "finetune", "one grid per kind in sweeps.grid")
        let plain = try database(maps: false)
        let p = try runTlearn(["sweep", "--db", plain, "--json", "--lr", "1e-3", "--epochs", "1", "--no-baselines"])
        XCTAssertEqual(p.status, 0, p.stderr)
        let only = try XCTUnwrap(try headJSONObject(p.stdout)["leaderboard"] as? [[String: Any]])
        XCTAssertEqual(
            only.compactMap { ($0["config"] as? [String: Any])?["model"] as? String }, ["softmax", "softmax"])
    }
}
