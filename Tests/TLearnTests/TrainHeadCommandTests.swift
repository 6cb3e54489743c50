import Foundation
import XCTest

@testable import Store

final class TrainHeadCommandTests: XCTestCase {
    func testJSONHasRunIDAndAccuraciesAndTheRunIsSaved() throws {
        let db = try makeHeadDatabase()
        let r = try runHeadTool(["train-head", "--db", db, "--json", "--epochs", "8", "--lr", "0.1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try headJSONObject(r.stdout)
        XCTAssertEqual(j["run_id"] as? Int, 1)
        XCTAssertEqual(j["val_accuracy"] as? Double, 1)
        XCTAssertEqual(j["test_accuracy"] as? Double, 1)
        XCTAssertEqual((j["epochs"] as? [Any])?.count, 8)
        XCTAssertEqual(j["classes"] as? [String], ["class0", "class1", "class2"])
        let conn = try Database.open(db)
        XCTAssertEqual(try conn.scalar("SELECT count(*) FROM run_epochs WHERE run_id = 1")?.int, 8)
        XCTAssertEqual(try conn.scalar("SELECT length(head) FROM runs WHERE id = 1")?.int, Int64(4 * (16 * 3 + 3)))
        XCTAssertEqual(try conn.scalar("SELECT json_extract(config, '$.lr') FROM runs WHERE id = 1")?.double, 0.1)
    }

    func testSameSeedTwiceGivesTheSameHeadBitForBit() throws {
        let db = try makeHeadDatabase()
        let args = [
            "train-head", "--db", db, "--json", "--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "--batch-size",
            "7",
            "--l2", "1e-3", "--label-smoothing", "0.1", "--class-weight", "balanced", "--seed", "5",
        ]
        for _ in 0..<2 { XCTAssertEqual(try runHeadTool(args).status, 0) }
        let conn = try Database.open(db)
        XCTAssertEqual(try conn.scalar("SELECT count(DISTINCT head) FROM runs")?.int, 1)
        XCTAssertEqual(try conn.scalar("SELECT count(DISTINCT metrics) FROM runs")?.int, 1)
        XCTAssertEqual(try conn.scalar("SELECT count(*) FROM runs")?.int, 2)
    }

    func testTablesShowEpochsMetricsAndConfusion() throws {
        let db = try makeHeadDatabase(classNames: ["daisy", "roses", "tulips"])
        let r = try runHeadTool(["train-head", "--db", db, "--epochs", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("epoch  train loss  train acc  val loss  val acc"), r.stdout)
        XCTAssertTrue(r.stdout.contains("val: accuracy"))
        XCTAssertTrue(r.stdout.contains("test: accuracy"))
        XCTAssertTrue(r.stdout.contains("confusion (rows: true class, columns: predicted)"))
        XCTAssertTrue(r.stdout.contains("saved run 1 in \(db)"))
    }

    func testNegativeLearningRateIsOneLine() throws {
        let db = try makeHeadDatabase()
        assertOneLineError(
            try runHeadTool(["train-head", "--db", db, "--lr=-0.1"]),
            contains: "learning rate must be a positive number, got -0.1")
    }

    func testMissingDatabaseIsOneLine() throws {
        assertOneLineError(
            try runHeadTool(["train-head", "--db", "/nonexistent/x.sqlite"]),
            contains: "no database at /nonexistent/x.sqlite")
    }

    func testDatabaseWithoutVectorsIsOneLine() throws {
        let path = try headTemporaryDirectory("tlearn-empty").appendingPathComponent("empty.sqlite").path
        _ = try Database.open(path)
        assertOneLineError(
            try runHeadTool(["train-head", "--db", path]), contains: "\(path) has no embeddings: run `tlearn extract")
    }

    func testClassWithoutTrainingRowsIsOneLine() throws {
        let db = try makeHeadDatabase(perClass: [20, 20], classNames: ["a", "b"]) { k, i in
            k == 1 ? (i < 10 ? "val" : "test") : (i % 5 == 0 ? "val" : "train")
        }
        assertOneLineError(
            try runHeadTool(["train-head", "--db", db]),
            contains: "class 'b' has no training images (0 train, 10 val, 10 test)")
    }

    func testEmptyValidationWarnsAndRefusesEarlyStopping() throws {
        let db = try makeHeadDatabase(perClass: [20, 20]) { _, i in i % 4 == 0 ? "test" : "train" }
        let ok = try runHeadTool(["train-head", "--db", db, "--json"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stderr.contains("warning: the val split of \(db) is empty: no validation metrics"), ok.stderr)
        XCTAssertTrue(try headJSONObject(ok.stdout)["val_accuracy"] is NSNull)
        assertOneLineError(
            try runHeadTool(["train-head", "--db", db, "--early-stopping", "2"]),
            contains: "--early-stopping needs validation rows")
    }

    func testAdamWithMomentumIsRefused() throws {
        let db = try makeHeadDatabase()
        assertOneLineError(
            try runHeadTool(["train-head", "--db", db, "--momentum", "0.9"]), contains: "--momentum applies to sgd only"
        )
    }
}
