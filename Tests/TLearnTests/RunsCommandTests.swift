import Foundation
import XCTest

@testable import Store

final class RunsCommandTests: XCTestCase {
    func testListsRunsAsTableAndJSON() throws {
        let db = try makeHeadDatabase()
        let empty = try runHeadTool(["runs", "--db", db])
        XCTAssertEqual(empty.status, 0)
        XCTAssertTrue(empty.stdout.hasPrefix("no runs in \(db) yet"), empty.stdout)
        XCTAssertEqual(try runHeadTool(["train-head", "--db", db, "--l2", "1e-4", "--epochs", "2"]).status, 0)
        let table = try runHeadTool(["runs", "--db", db])
        let lines = table.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(
            lines.first,
            [
                "id", "created", "sweep", "model", "lr", "epochs", "batch", "l2", "smoothing", "val", "acc", "val",
                "loss", "test", "acc",
            ])
        XCTAssertEqual(lines.count, 2, table.stdout)
        XCTAssertEqual(Array(lines[1][3...9]), ["-", "adam", "1e-3", "2", "32", "1e-4", "0"], table.stdout)
        let json = try runHeadTool(["runs", "--db", db, "--json"])
        let runs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(runs.count, 1)
        XCTAssertEqual((runs[0]["config"] as? [String: Any])?["l2"] as? Double, 1e-4)
        XCTAssertEqual(runs[0]["model"] as? String, "softmax")
    }

    func testADamagedRunIsSkippedWithAWarningAndTheOthersListed() throws {
        let db = try makeHeadDatabase()
        for _ in 0..<2 { XCTAssertEqual(try runHeadTool(["train-head", "--db", db, "--epochs", "1"]).status, 0) }
        try Database.open(db).execute("UPDATE runs SET config = '{not json' WHERE id = 1")
        let table = try runHeadTool(["runs", "--db", db])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertEqual(table.stdout.split(separator: "\n").count, 2, table.stdout)  // header + run 2
        XCTAssertEqual(table.stdout.split(separator: "\n").last?.split(separator: " ").first, "2", table.stdout)
        XCTAssertTrue(
            table.stderr.contains("warning: ") && table.stderr.contains("run 1 has an unreadable config"), table.stderr)
        let json = try runHeadTool(["runs", "--db", db, "--json"])
        let runs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(runs.map { $0["id"] as? Int }, [2])
    }
}
