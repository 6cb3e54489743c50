import Foundation
import XCTest

final class EvaluateCommandTests: XCTestCase {
    func testEvaluateReproducesTrainHeadTestAccuracy() throws {
        let db = try makeHeadDatabase(spread: 3)
        let trained = try headJSONObject(try runHeadTool(["train-head", "--db", db, "--json", "--epochs", "2"]).stdout)
        let r = try runHeadTool(["evaluate", "1", "--db", db, "--json", "--misclassified"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try headJSONObject(r.stdout)
        XCTAssertEqual(j["accuracy"] as? Double, trained["test_accuracy"] as? Double)
        let wrong = try XCTUnwrap(j["misclassified"] as? [[String: Any]])
        let count = try XCTUnwrap(j["count"] as? Int)
        XCTAssertEqual(Double(count - wrong.count) / Double(count), j["accuracy"] as! Double, accuracy: 1e-12)
        for w in wrong { XCTAssertNotEqual(w["true"] as? String, w["predicted"] as? String) }
    }

    func testMisclassifiedTableListsPaths() throws {
        let db = try makeHeadDatabase(spread: 6)
        XCTAssertEqual(try runHeadTool(["train-head", "--db", db, "--epochs", "1", "--lr", "1e-4"]).status, 0)
        let r = try runHeadTool(["evaluate", "1", "--db", db, "--misclassified"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("misclassified ("), r.stdout)
        XCTAssertTrue(r.stdout.contains("path"))
    }

    func testUnknownRunIsOneLine() throws {
        let db = try makeHeadDatabase()
        assertOneLineError(
            try runHeadTool(["evaluate", "3", "--db", db]), contains: "no run 3 in \(db): it has no runs yet")
    }

    func testBaselineRunIsRefused() throws {
        let db = try makeHeadDatabase()
        XCTAssertEqual(
            try runHeadTool(["sweep", "--db", db, "--lr", "0.01", "--epochs", "1", "--dropout", "0", "--no-refit"])
                .status, 0)
        assertOneLineError(
            try runHeadTool(["evaluate", "2", "--db", db]), contains: "run 2 is a nearest_centroid baseline of sweep 1")
    }
}
