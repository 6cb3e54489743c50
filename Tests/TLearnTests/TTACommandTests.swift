import Foundation
import XCTest

@testable import Store

/// Test-time flips in evaluate, sweep and predict, and the refusal without hflip vectors.
final class TTACommandTests: XCTestCase {
    func testEvaluateWithFlipsScoresTheMeanOfBothViewsProbabilities() throws {
        let db = try makeHeadDatabase(dim: 8, spread: 2.5, hflip: true)
        XCTAssertEqual(try runHeadTool(["train-head", "--db", db, "--epochs", "3"]).status, 0)
        let plain = try headJSONObject(try runHeadTool(["evaluate", "1", "--db", db, "--json"]).stdout)
        let r = try runHeadTool(["evaluate", "1", "--db", db, "--json", "--tta"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let flipped = try headJSONObject(r.stdout)
        XCTAssertEqual(flipped["tta"] as? Bool, true)
        XCTAssertEqual(plain["tta"] as? Bool, false)
        XCTAssertEqual(flipped["count"] as? Int, plain["count"] as? Int)

        // The same number from SQL: mean of head_proba over the two views, argmax per image.
        let q = try runHeadTool([
            "query", "--db", db, "--csv",
            """
            WITH p AS (
              SELECT o.image_id, o.label, c.name AS class,
                     (head_proba(1, o.vector, c.name) + head_proba(1, f.vector, c.name)) / 2 AS prob
              FROM labeled_embeddings o JOIN labeled_embeddings f ON f.image_id = o.image_id AND f.view = 'hflip'
              CROSS JOIN classes c
              WHERE o.view = 'orig' AND o.split = 'test'
            ), best AS (
              SELECT image_id, label, class, max(prob) FROM p GROUP BY image_id
            )
            SELECT avg(label = class) FROM best
            """,
        ])
        XCTAssertEqual(q.status, 0, q.stderr)
        let sqlAccuracy = try XCTUnwrap(Double(q.stdout.split(separator: "\r\n")[1]))
        XCTAssertEqual(try XCTUnwrap(flipped["accuracy"] as? Double), sqlAccuracy, accuracy: 1e-12)
    }

    func testSweepWithFlipsRecordsItAndRefusesWithoutThem() throws {
        let db = try makeHeadDatabase(dim: 8, hflip: true)
        let r = try runHeadTool([
            "sweep", "--db", db, "--json", "--lr", "0.01,0.1", "--epochs", "2", "--dropout", "0", "--tta",
            "--no-baselines",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let best = try XCTUnwrap(try headJSONObject(r.stdout)["best"] as? [String: Any])
        XCTAssertEqual(best["tta"] as? Bool, true)
        let conn = try Database.open(db)
        XCTAssertEqual(
            try conn.scalar("SELECT count(*) FROM runs WHERE json_extract(metrics, '$.tta') = 1")?.int, 3,
            "two points and the refit were scored with flips")
        XCTAssertEqual(
            try conn.scalar(
                "SELECT count(*) FROM runs WHERE json_extract(config, '$.model') IN ('knn', 'nearest_centroid')")?.int,
            0,
            "--no-baselines")

        let plain = try makeHeadDatabase(dim: 8)
        assertOneLineError(
            try runHeadTool(["sweep", "--db", plain, "--lr", "0.01", "--epochs", "2", "--tta"]),
            contains: "--tta needs the hflip view of every val and test image")
        XCTAssertEqual(try runHeadTool(["train-head", "--db", plain, "--epochs", "2"]).status, 0)
        assertOneLineError(
            try runHeadTool(["evaluate", "1", "--db", plain, "--tta"]),
            contains: "--tta needs the hflip view of every test image")
    }
}
