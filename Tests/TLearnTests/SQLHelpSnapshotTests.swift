import Foundation
import XCTest

/// `--help` of query, similar, duplicates and export, kept in Tests/TLearnTests/Snapshots/.
/// `RECORD_SNAPSHOTS=1 swift test --filter SQLHelpSnapshotTests` records them again.
final class SQLHelpSnapshotTests: XCTestCase {
    func testHelpMatchesSnapshots() throws {
        let dir = repositoryRoot().appendingPathComponent("Tests/TLearnTests/Snapshots")
        let record = ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1"
        for command in ["query", "similar", "duplicates", "export"] {
            let r = try runTool([command, "--help"], environment: ["COLUMNS": "80"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let file = dir.appendingPathComponent("\(command)-help.txt")
            if record {
                try Data(r.stdout.utf8).write(to: file)
                continue
            }
            guard let snapshot = try? String(contentsOf: file, encoding: .utf8) else {
                XCTFail("no snapshot \(file.path): run RECORD_SNAPSHOTS=1 swift test --filter SQLHelpSnapshotTests")
                continue
            }
            XCTAssertEqual(
                r.stdout, snapshot,
                "tlearn \(command) --help changed; if intended, record again with RECORD_SNAPSHOTS=1")
        }
    }
}
