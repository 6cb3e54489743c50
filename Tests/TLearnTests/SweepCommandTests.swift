import Foundation
import XCTest

@testable import Store

final class SweepCommandTests: XCTestCase {
    func testGridPointEqualsSeparateTrainHeadBitForBit() throws {
        let db = try makeHeadDatabase(spread: 3)
        let r = try runHeadTool([
            "sweep", "--db", db, "--json", "--lr", "0.003,0.03", "--epochs", "2,6", "--batch-size", "8,32", "--dropout",
            "0", "--jobs", "2",
            "--no-refit",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try headJSONObject(r.stdout)
        XCTAssertEqual((j["leaderboard"] as? [Any])?.count, 8)
        let best = try XCTUnwrap(j["best"] as? [String: Any])
        XCTAssertNotNil(best["test_accuracy"] as? Double)
        let conn = try Database.open(db)
        XCTAssertEqual(
            try conn.scalar("SELECT count(*) FROM runs WHERE sweep_id = 1")?.int, 10, "8 grid points + 2 baselines")
        XCTAssertEqual(
            try conn.scalar("SELECT best_run_id FROM sweeps WHERE id = 1")?.int, Int64(best["run_id"] as! Int))

        // The (lr 0.03, epochs 2, batch 8) point, trained alone.
        let alone = try runHeadTool([
            "train-head", "--db", db, "--lr", "0.03", "--epochs", "2", "--batch-size", "8", "--json",
        ])
        XCTAssertEqual(alone.status, 0, alone.stderr)
        let id = try headJSONObject(alone.stdout)["run_id"] as! Int
        let same = try conn.scalar(
            """
            SELECT count(*) FROM runs a JOIN runs b ON a.head = b.head AND a.metrics = b.metrics
            WHERE a.id = ?1 AND b.sweep_id = 1
            """, [.integer(Int64(id))])?.int
        XCTAssertEqual(same, 1, "exactly one sweep run has the same head and metrics")
    }

    /// By default the chosen config is trained again on train+val: that run is the sweep's final run
    /// (`best`), the only one with test metrics, for as many epochs as the chosen weights had.
    func testRefitTrainsTheChosenConfigOnTrainAndValAndOnlyItSeesTest() throws {
        let db = try makeHeadDatabase(spread: 3)
        let r = try runHeadTool([
            "sweep", "--db", db, "--json", "--lr", "0.003,0.03", "--epochs", "2,6", "--dropout", "0",
            "--early-stopping", "1",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try headJSONObject(r.stdout)
        let best = try XCTUnwrap(j["best"] as? [String: Any])
        let chosen = try XCTUnwrap(j["chosen_run_id"] as? Int)
        let conn = try Database.open(db)
        XCTAssertEqual(
            try conn.scalar("SELECT count(*) FROM runs WHERE sweep_id = 1")?.int, 7,
            "4 grid points + 2 baselines + the refit")
        let finalID = Int64(best["run_id"] as! Int)
        XCTAssertEqual(try conn.scalar("SELECT best_run_id FROM sweeps WHERE id = 1")?.int, finalID)
        XCTAssertNotEqual(finalID, Int64(chosen))
        XCTAssertEqual(
            try conn.scalar("SELECT json_extract(metrics, '$.refit_of') FROM runs WHERE id = ?1", [.integer(finalID)])?
                .int, Int64(chosen))
        XCTAssertNil(
            try conn.scalar("SELECT val_accuracy FROM runs WHERE id = ?1", [.integer(finalID)])?.double,
            "train+val leaves no val split")
        XCTAssertNotNil(try conn.scalar("SELECT test_accuracy FROM runs WHERE id = ?1", [.integer(finalID)])?.double)
        XCTAssertEqual(
            try conn.scalar("SELECT count(*) FROM runs WHERE sweep_id = 1 AND test_accuracy IS NOT NULL")?.int, 3,
            "test is computed for the refit (and the baselines) only")
        let keptEpoch = try XCTUnwrap(
            try conn.scalar(
                "SELECT json_extract(metrics, '$.weights_epoch') FROM runs WHERE id = ?1", [.integer(Int64(chosen))])?
                .int)
        XCTAssertEqual(
            try conn.scalar("SELECT json_extract(config, '$.epochs') FROM runs WHERE id = ?1", [.integer(finalID)])?
                .int, keptEpoch)
        XCTAssertNil(
            try conn.scalar(
                "SELECT json_extract(config, '$.early_stopping') FROM runs WHERE id = ?1", [.integer(finalID)])?.int)
        let rows = try conn.scalar("SELECT count(*) FROM images WHERE split IN ('train', 'val')")?.int
        let trained = try conn.scalar(
            "SELECT json_extract(metrics, '$.test.count') FROM runs WHERE id = ?1", [.integer(finalID)])?.int
        XCTAssertEqual(trained, try conn.scalar("SELECT count(*) FROM images WHERE split = 'test'")?.int)
        XCTAssertGreaterThan(rows ?? 0, 0)
        let table = try runHeadTool(["sweep", "--db", db, "--lr", "0.01", "--epochs", "3"])
        XCTAssertTrue(table.stdout.contains("refit: run "), table.stdout)
    }

    func testTableShowsLeaderboardBaselinesAndBest() throws {
        let db = try makeHeadDatabase()
        let r = try runHeadTool([
            "sweep", "--db", db, "--lr", "0.01", "--epochs", "3", "--optimizer", "adam,sgd", "--dropout", "0",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("top 2 of 2 by val loss, then accuracy:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("nearest centroid (cosine)"))
        XCTAssertTrue(r.stdout.contains("5-NN (cosine)"))
        XCTAssertTrue(r.stdout.contains("best on validation: run"))
    }

    func testCrossValidationRanksByFoldAccuracy() throws {
        let db = try makeHeadDatabase()
        let r = try runHeadTool(["sweep", "--db", db, "--json", "--lr", "0.01,0.1", "--epochs", "3", "--folds", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let board = try XCTUnwrap(try headJSONObject(r.stdout)["leaderboard"] as? [[String: Any]])
        let cv = try XCTUnwrap(board.first?["cross_validation"] as? [String: Any])
        XCTAssertEqual((cv["accuracies"] as? [Double])?.count, 3)
        XCTAssertNotNil(cv["std_accuracy"] as? Double)
    }

    /// --select orders the leaderboard (and so picks the refit) by val loss (default) or accuracy,
    /// and the JSON and the stored plan say which.
    func testSelectRanksByLossOrAccuracy() throws {
        let db = try makeHeadDatabase(spread: 1)
        for (select, key, ascending) in [("loss", "val_loss", true), ("accuracy", "val_accuracy", false)] {
            let args = ["sweep", "--db", db, "--json", "--lr", "0.001,0.01,0.1", "--epochs", "1,4", "--no-baselines"]
            let r = try runHeadTool(args + (select == "loss" ? [] : ["--select", select]))
            XCTAssertEqual(r.status, 0, r.stderr)
            let j = try headJSONObject(r.stdout)
            XCTAssertEqual(j["ranked_by"] as? String, select)
            let board = try XCTUnwrap(j["leaderboard"] as? [[String: Any]])
            let values = board.map { $0[key] as! Double }
            XCTAssertEqual(values, ascending ? values.sorted() : values.sorted(by: >), select)
            XCTAssertEqual(j["chosen_run_id"] as? Int, board.first?["run_id"] as? Int)
        }
        let plans = try Database.open(db, readOnly: true).rows(
            "SELECT json_extract(grid, '$.settings.select') FROM sweeps ORDER BY id")
        XCTAssertEqual(plans.map { $0[0].string }, ["loss", "accuracy"])
        assertOneLineError(try runHeadTool(["sweep", "--db", db, "--select", "f1"]), contains: "--select")
    }

    func testEmptyGridIsOneLine() throws {
        let db = try makeHeadDatabase()
        assertOneLineError(
            try runHeadTool(["sweep", "--db", db, "--lr", ""]), contains: "--lr is empty: give a comma list of values")
        assertOneLineError(
            try runHeadTool(["sweep", "--db", db, "--epochs", "5,x"]), contains: "--epochs: 'x' is not a valid value")
    }

    func testJobsHelpDoesNotPrintThisMachinesCoreCount() throws {
        let r = try runHeadTool(["sweep", "--help"])
        let line = r.stdout.split(separator: "\n").first { $0.contains("--jobs") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains("Parallel trainings (default: one per usable CPU)."), r.stdout)
        XCTAssertFalse(line.contains("(default: \(ProcessInfo.processInfo.activeProcessorCount))"), line)
    }
}

/// `kill -9` in the middle of a sweep keeps the points it finished; the same command run again
/// finishes that sweep, training only what is missing.
final class SweepResumeCommandTests: XCTestCase {
    func testKilledSweepKeepsItsPointsAndTheSameCommandFinishesIt() throws {
        let db = try makeHeadDatabase(perClass: [60, 60, 60])
        let args = [
            "sweep", "--db", db, "--lr", "0.001,0.002,0.003,0.004,0.005,0.006", "--epochs", "1000", "--batch-size", "4",
            "--dropout", "0", "--jobs", "1",
        ]
        let process = Process()
        process.executableURL = productsDirectory().appendingPathComponent("tlearn")
        process.arguments = args
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let conn = try Database.open(db)
        let deadline = Date().addingTimeInterval(60)
        var saved: Int64 = 0
        while Date() < deadline {
            saved = try conn.scalar("SELECT count(*) FROM runs WHERE sweep_id IS NOT NULL")?.int ?? 0
            if saved >= 1 || !process.isRunning { break }
            usleep(5_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let kept = try conn.scalar("SELECT count(*) FROM runs WHERE sweep_id = 1")?.int ?? 0
        XCTAssertGreaterThanOrEqual(kept, 1, "a point saved before the kill")
        XCTAssertLessThan(kept, 6, "killed before the last point (each training runs 1000 epochs of batch 4)")
        XCTAssertNil(
            try conn.scalar("SELECT best_run_id FROM sweeps WHERE id = 1")?.int, "an unfinished sweep has no best run")

        let again = try runHeadTool(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(
            again.stderr.contains("sweep 1 was interrupted with \(kept) of 6 runs saved: finishing it"), again.stderr)
        XCTAssertEqual(try conn.scalar("SELECT count(*) FROM sweeps")?.int, 1, "the same sweep, not a new one")
        XCTAssertEqual(
            try conn.scalar(
                "SELECT count(*) FROM runs WHERE sweep_id = 1 AND json_extract(config, '$.model') = 'softmax'")?.int,
            7, "six points and the refit, none twice")
        XCTAssertEqual(
            try conn.scalar(
                "SELECT count(DISTINCT config) FROM runs WHERE sweep_id = 1 AND json_extract(metrics, '$.refit_of') IS NULL AND json_extract(config, '$.model') = 'softmax'"
            )?.int, 6)
        XCTAssertNotNil(try conn.scalar("SELECT best_run_id FROM sweeps WHERE id = 1")?.int)
    }
}
