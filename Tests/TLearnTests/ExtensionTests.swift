import Foundation
import TestSupport
import XCTest

/// The loadable extension in the stock sqlite3 shell (a C program linked to the system libsqlite3).
final class ExtensionTests: XCTestCase {
    var dir: URL!
    var path: String { dir.appendingPathComponent("t.sqlite").path }
    var run: Int64 = 0

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") else {
            throw XCTSkip("/usr/bin/sqlite3 not found: install the Debian package sqlite3 to test the extension")
        }
        dir = try makeTempDirectory()
        run = try SyntheticDatabase.small(at: path).run
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(at: dir) } }

    var library: String {
        // Without the suffix: the shell adds ".so", and the entry point name is derived from
        // the file name (sqlite3_tlearnsqlite_init).
        productsDirectory().appendingPathComponent("libtlearn_sqlite").path
    }

    func shell(_ sql: String) throws -> ToolResult {
        guard FileManager.default.fileExists(atPath: library + ".so") else {
            XCTFail("no \(library).so: build it with `swift build --product tlearn_sqlite`")
            throw CocoaError(.fileNoSuchFile)
        }
        return try runProcess("/usr/bin/sqlite3", ["-csv", "-header", path], stdin: ".load \(library)\n\(sql);\n")
    }

    func testShellGivesTheSameResultsAsTlearnQuery() throws {
        let sql = """
            SELECT i.path, c.name AS label, i.split, vec_dim(e.vector) AS dim,
                   printf('%.12f', vec_norm(e.vector)) AS norm,
                   printf('%.12f', vec_cosine(e.vector, (SELECT vector FROM embeddings WHERE image_id = 1))) AS cos,
                   printf('%.12f', vec_l2(e.vector, (SELECT vector FROM embeddings WHERE image_id = 1))) AS l2,
                   printf('%.9f', vec_at(e.vector, 3)) AS x3,
                   head_predict(\(run), e.vector) AS predicted,
                   printf('%.12f', head_proba(\(run), e.vector, 'roses')) AS p_roses,
                   hex(vec_from_json(vec_json(e.vector))) = hex(e.vector) AS json_round_trip
            FROM embeddings e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id
            ORDER BY i.id
            """
        let s = try shell(sql)
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertEqual(s.stderr, "")
        let t = try runTool(["query", "--db", path, "--csv", sql])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertEqual(s.stdout.split(whereSeparator: \.isNewline).count, 13)
        XCTAssertEqual(
            s.stdout.replacingOccurrences(of: "\r\n", with: "\n"), t.stdout.replacingOccurrences(of: "\r\n", with: "\n")
        )
        let centroids =
            "SELECT c.name, hex(vec_mean(e.vector)) FROM embeddings e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id GROUP BY c.name"
        XCTAssertEqual(
            try shell(centroids).stdout.replacingOccurrences(of: "\r\n", with: "\n"),
            try runTool(["query", "--db", path, "--csv", centroids]).stdout.replacingOccurrences(of: "\r\n", with: "\n")
        )
    }

    func testShellReportsFunctionErrors() throws {
        let s = try shell("SELECT vec_dot(X'0000803F', X'00')")
        XCTAssertTrue(s.stderr.contains("vec_dot: argument 2 is a BLOB of 1 bytes"), s.stderr)
        let h = try shell("SELECT head_predict(99, X'0000803F')")
        XCTAssertTrue(h.stderr.contains("head_predict: no run with id 99"), h.stderr)
    }
}
