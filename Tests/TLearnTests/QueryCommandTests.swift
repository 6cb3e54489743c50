import Foundation
import TestSupport
import XCTest

@testable import Store

final class QueryCommandTests: XCTestCase {
    var dir: URL!
    var path: String { dir.appendingPathComponent("t.sqlite").path }
    var run: Int64 = 0

    override func setUpWithError() throws {
        dir = try makeTempDirectory()
        run = try SyntheticDatabase.small(at: path).run
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testTableAlignsColumnsAndRightAlignsNumbers() throws {
        let r = try runTool([
            "query", "--db", path,
            """
            SELECT c.name AS label, count(*) AS n, 0.5 * count(*) AS half, NULL AS empty, X'0000803F' AS v
            FROM images i JOIN classes c ON c.id = i.class_id GROUP BY c.name ORDER BY c.name
            """,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(
            r.stdout,
            """
            label   n  half  empty  v
            ------  -  ----  -----  ----------
            daisy   4   2.0  NULL   <blob 4 B>
            roses   4   2.0  NULL   <blob 4 B>
            tulips  4   2.0  NULL   <blob 4 B>

            """)
    }

    func testCSVQuotesPerRFC4180AndWritesVectorsAsJSONArrays() throws {
        let r = try runTool([
            "query", "--db", path, "--csv",
            #"SELECT 'a,b' AS x, 'say "hi"' AS y, 'two' || char(10) || 'lines' AS z, NULL AS n, 0.1 AS r, vec_from_json('[1.5,-2]') AS v, X'01' AS b"#,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(
            r.stdout, "x,y,z,n,r,v,b\r\n\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,0.1,\"[1.5,-2.0]\",AQ==\r\n")
    }

    func testJSONIsAnArrayOfObjectsWithVectorsAsFloatArrays() throws {
        let r = try runTool([
            "query", "--db", path, "--json",
            "SELECT i.path, e.vector, i.id * 1.0 AS r, NULL AS n FROM images i JOIN embeddings e ON e.image_id = i.id ORDER BY i.id LIMIT 2",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0]["path"] as? String, "daisy/0.jpg")
        XCTAssertTrue(rows[0]["n"] is NSNull)
        XCTAssertEqual(rows[1]["r"] as? Double, 2.0)
        let stored = try Database.open(path, readOnly: true).scalar(
            "SELECT vector FROM embeddings ORDER BY image_id LIMIT 1")
        guard case .blob(let bytes)? = stored else { return XCTFail("no vector") }
        let expected = stride(from: 0, to: bytes.count, by: 4).map { i in
            Float(
                bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(
                    bytes[i + 3]) << 24)
        }
        let got = try XCTUnwrap(rows[0]["vector"] as? [Double]).map { Float($0) }
        XCTAssertEqual(got, expected, "every float32 survives the JSON round trip")
        let empty = try runTool(["query", "--db", path, "--json", "SELECT 1 WHERE 0"])
        XCTAssertEqual(empty.stdout, "[]\n")
    }

    func testPositionalAndNamedParametersAreTyped() throws {
        let r = try runTool([
            "query", "--db", path, "--csv", "--param", "2", "--param", "0.25", "--param", "NULL", "--param", "007",
            "SELECT typeof(?1), ?1 + 1, typeof(?2), ?3 IS NULL, typeof(?4), ?4",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\r\n").last, "integer,3,real,1,text,007")
        let named = try runTool([
            "query", "--db", path, "--csv", "--param", ":label=roses", "--param", "@n=2",
            "SELECT count(*) FROM labeled_embeddings WHERE label = :label AND image_id > @n",
        ])
        XCTAssertEqual(named.status, 0, named.stderr)
        XCTAssertEqual(named.stdout.split(separator: "\r\n").last, "4")
        let missing = try runTool(["query", "--db", path, "SELECT ?1, ?2", "--param", "1"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(
            missing.stderr.contains("statement 1 uses ?2 but only 1 positional --param is given"), missing.stderr)
        let unused = try runTool(["query", "--db", path, "SELECT 1", "--param", "1"])
        XCTAssertEqual(unused.status, 0)
        XCTAssertTrue(unused.stderr.contains("warning: --param for ?1 is not used by any statement"), unused.stderr)
    }

    func testReadOnlyByDefaultAndWriteAllowsChanges() throws {
        let r = try runTool(["query", "--db", path, "DELETE FROM embeddings"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("attempt to write a readonly database"), r.stderr)
        XCTAssertTrue(r.stderr.contains("pass --write to allow changes"), r.stderr)
        XCTAssertEqual(try Database.open(path, readOnly: true).scalar("SELECT count(*) FROM embeddings")?.int, 12)
        let w = try runTool([
            "query", "--db", path, "--write",
            "DELETE FROM embeddings WHERE image_id = 1; SELECT count(*) AS n FROM embeddings",
        ])
        XCTAssertEqual(w.status, 0, w.stderr)
        XCTAssertEqual(w.stdout, " n\n--\n11\n")
    }

    func testBadSQLNamesTheFailingStatement() throws {
        let r = try runTool(["query", "--db", path, "SELECT 1; SELEC 2; SELECT 3"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains(#"near "SELEC": syntax error - while executing `SELEC 2`"#), r.stderr)
        let f = try runTool(["query", "--db", path, "SELECT vec_dot(vector, X'00') FROM embeddings"])
        XCTAssertTrue(
            f.stderr.contains("vec_dot: argument 2 is a BLOB of 1 bytes, not a whole number of float32 values"),
            f.stderr)
        let none = try runTool(["query", "--db", path, "  ;  "])
        XCTAssertTrue(none.stderr.contains("no SQL statement to run"), none.stderr)
    }

    func testNegativeParameterValuesNeedNoEqualsSign() throws {
        let r = try runTool([
            "query", "--db", path, "--csv", "SELECT ?1 AS a, ?2 AS b", "--param", "-1", "--param", "-0.5",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "a,b\r\n-1,-0.5\r\n")
    }

    func testJSONOfAQueryFailingOnItsFirstRowPrintsNothingButTheError() throws {
        let r = try runTool(["query", "--db", path, "--json", "SELECT vec_dot(vector, X'00') AS d FROM embeddings"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stdout, "", "a stray '[' before the error")
        XCTAssertTrue(r.stderr.contains("vec_dot: argument 2"), r.stderr)
        let empty = try runTool(["query", "--db", path, "--json", "SELECT 1 AS a WHERE 0"])
        XCTAssertEqual(empty.stdout, "[]\n")
    }

    func testSeveralStatementsPrintSeveralTablesButOneJSONResult() throws {
        let r = try runTool(["query", "--db", path, "SELECT 1 AS a; SELECT 2 AS b;"])
        XCTAssertEqual(r.stdout, "a\n-\n1\n\nb\n-\n2\n")
        let j = try runTool(["query", "--db", path, "--json", "SELECT 1 AS a; SELECT 2 AS b"])
        XCTAssertNotEqual(j.status, 0)
        XCTAssertTrue(j.stderr.contains("--json prints one result set, but statement 2 also returns rows"), j.stderr)
    }

    func testFlagsAreValidatedBeforeOpening() throws {
        let r = try runTool(["query", "--db", path, "--csv", "--json", "SELECT 1"])
        XCTAssertTrue(r.stderr.contains("--csv and --json cannot be used together"), r.stderr)
        let m = try runTool(["query", "--db", dir.appendingPathComponent("missing.sqlite").path, "SELECT 1"])
        XCTAssertTrue(m.stderr.contains("no database at"), m.stderr)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("missing.sqlite").path),
            "query must not create a database")
    }
}
