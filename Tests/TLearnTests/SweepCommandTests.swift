import Foundation
import Store
import XCTest

final class SweepCommandTests: XCTestCase {
    func testGridPointEqualsSeparateTrainHeadBitForBit() throws {
        let db = try makeHeadDatabase(spread: 3)
        let r = try runHeadTool(["sweep", "--db", db, "--json", "--lr", "0.003,0.03", "--epochs", "2,6", "--batch-size", "8,32", "--jobs", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try headJSONObject(r.stdout)
        XCTAssertEqual((j["leaderboard"] as? [Any])?.count, 8)
        let best = try XCTUnwrap(j["best"] as? [String: Any])
        XCTAssertNotNil(best["test_accuracy"] as? Double)
        let conn = try Database.open(db)
        XCTAssertEqual(try conn.scalar("SELECT count(*) FROM runs WHERE sweep_id = 1")?.int, 10, "8 grid points + 2 baselines")
        XCTAssertEqual(try conn.scalar("SELECT best_run_id FROM sweeps WHERE id = 1")?.int, Int64(best["run_id"] as! Int))

        // The (lr 0.03, epochs 2, batch 8) point, trained alone.
        let alone = try runHeadTool(["train-head", "--db", db, "--lr", "0.03", "--epochs", "2", "--batch-size", "8", "--json"])
        XCTAssertEqual(alone.status, 0, alone.stderr)
        let id = try headJSONObject(alone.stdout)["run_id"] as! Int
        let same = try conn.scalar("""
            SELECT count(*) FROM runs a JOIN runs b ON a.head = b.head AND a.metrics = b.metrics
            WHERE a.id = ?1 AND b.sweep_id = 1
            """, [.integer(Int64(id))])?.int
        XCTAssertEqual(same, 1, "exactly one sweep run has the same head and metrics")
    }

    func testTableShowsLeaderboardBaselinesAndBest() throws {
        let db = try makeHeadDatabase()
        let r = try runHeadTool(["sweep", "--db", db, "--lr", "0.01", "--epochs", "3", "--optimizer", "adam,sgd"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("top 2 of 2 by val accuracy"), r.stdout)
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

    func testEmptyGridIsOneLine() throws {
        let db = try makeHeadDatabase()
        assertOneLineError(try runHeadTool(["sweep", "--db", db, "--lr", ""]), contains: "--lr is empty: give a comma list of values")
        assertOneLineError(try runHeadTool(["sweep", "--db", db, "--epochs", "5,x"]), contains: "--epochs: 'x' is not a valid value")
    }

    func testJobsHelpDoesNotPrintThisMachinesCoreCount() throws {
        let r = try runHeadTool(["sweep", "--help"])
        let line = r.stdout.split(separator: "\n").first { $0.contains("--jobs") }.map(String.init) ?? ""
        XCTAssertTrue(line.contains("Parallel trainings (default: the usable CPUs)."), r.stdout)
        XCTAssertFalse(line.contains("(default: \(ProcessInfo.processInfo.activeProcessorCount))"), line)
    }
}
