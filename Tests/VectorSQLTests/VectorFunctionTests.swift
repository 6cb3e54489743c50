import CSQLite3
import TestSupport
import XCTest

@testable import Store
@testable import VectorSQL

final class VectorFunctionTests: XCTestCase {
    var db: Connection!

    override func setUpWithError() throws {
        db = try Connection(path: ":memory:")
        try VectorSQL.register(on: db.handle)
    }

    func value(_ sql: String, _ args: [SQLValue] = []) throws -> SQLValue? { try db.scalar(sql, args) }

    // Independent Double references.
    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
    func norm(_ a: [Float]) -> Double { dot(a, a).squareRoot() }

    func testDimAndAtReadLittleEndianFloatsWithZeroBasedIndex() throws {
        let v: [Float] = [1.5, -2.25, 3e-8, 0, -0.0, 1e30, 7]
        XCTAssertEqual(try value("SELECT vec_dim(?1)", [blob(v)])?.int, 7)
        for (i, x) in v.enumerated() {
            XCTAssertEqual(
                try value("SELECT vec_at(?1, ?2)", [blob(v), .integer(Int64(i))])?.double, Double(x), "index \(i)")
        }
        // The bytes of 1.0f little-endian, written by hand.
        XCTAssertEqual(try value("SELECT vec_at(X'0000803F', 0)")?.double, 1.0)
        XCTAssertEqual(try value("SELECT vec_dim(X'')")?.int, 0)
        XCTAssertEqual(try value("SELECT vec_at(?1, 2.0)", [blob(v)])?.double, Double(v[2]))
    }

    func testUnalignedBlobIsReadCorrectly() throws {
        // substr of a BLOB starting at byte 2 makes SQLite hand over a pointer at an odd offset
        // of the record; the reading must not assume alignment.
        let v: [Float] = [0.5, -1.25, 3]
        guard case .blob(var bytes) = blob(v) else { return XCTFail() }
        bytes.insert(0xAA, at: 0)
        XCTAssertEqual(
            try value("SELECT vec_dot(substr(?1, 2), substr(?1, 2))", [.blob(bytes)])?.double, 0.25 + 1.5625 + 9)
    }

    func testDotNormCosineL2MatchDoubleReferenceForTailSizes() throws {
        var rng = SplitMix(seed: 42)
        for n in [1, 3, 4, 7, 8, 9, 42, 1280] {
            let a = rng.vector(n)
            let b = rng.vector(n)
            let args = [blob(a), blob(b)]
            let one = [blob(a)]
            let ab = dot(a, b)
            assertClose(try value("SELECT vec_dot(?1, ?2)", args)?.double, ab, "dot n=\(n)")
            assertClose(try value("SELECT vec_norm(?1)", one)?.double, norm(a), "norm n=\(n)")
            assertClose(try value("SELECT vec_cosine(?1, ?2)", args)?.double, ab / (norm(a) * norm(b)), "cosine n=\(n)")
            let l2 = zip(a, b).reduce(0.0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }
                .squareRoot()
            assertClose(try value("SELECT vec_l2(?1, ?2)", args)?.double, l2, "l2 n=\(n)")
        }
    }

    func testCosineConventions() throws {
        let v: [Float] = [0.3, -0.7, 2]
        let zero: [Float] = [0, 0, 0]
        XCTAssertEqual(
            try value("SELECT vec_cosine(?1, ?2)", [blob(zero), blob(v)])?.double, 0,
            "zero vector has cosine 0 with anything")
        XCTAssertEqual(try value("SELECT vec_cosine(?1, ?1)", [blob(zero)])?.double, 0)
        XCTAssertEqual(try value("SELECT vec_cosine(?1, ?1)", [blob(v)])?.double, 1, "clamped to exactly 1")
        XCTAssertEqual(try value("SELECT vec_cosine(?1, ?2)", [blob(v), blob(v.map { -$0 })])?.double, -1)
        XCTAssertEqual(try value("SELECT vec_l2(?1, ?1)", [blob(v)])?.double, 0)
        XCTAssertEqual(try value("SELECT vec_cosine(X'', X'')")?.double, 0)
    }

    func testNullInGivesNullOut() throws {
        let v = blob([1, 2])
        for sql in [
            "vec_dim(NULL)", "vec_at(NULL, 0)", "vec_at(?1, NULL)", "vec_dot(NULL, ?1)", "vec_dot(?1, NULL)",
            "vec_norm(NULL)", "vec_cosine(?1, NULL)", "vec_l2(NULL, ?1)", "vec_json(NULL)", "vec_from_json(NULL)",
            "head_predict(NULL, ?1)", "head_proba(NULL, ?1, 'a')", "head_proba(1, NULL, 'a')",
            "head_proba(1, ?1, NULL)",
        ] {
            XCTAssertEqual(try value("SELECT \(sql)", sql.contains("?1") ? [v] : []), .null, sql)
        }
    }

    func testBadArgumentsRaiseClearErrors() throws {
        let three = blob([1, 2, 3])
        let four = blob([1, 2, 3, 4])
        assertSQLError(
            db, "SELECT vec_dim(X'0102030405')",
            contains: "vec_dim: argument 1 is a BLOB of 5 bytes, not a whole number of float32 values")
        assertSQLError(
            db, "SELECT vec_dot(?1, ?2)", [three, four],
            contains: "vec_dot: vectors have different sizes: 3 and 4 floats")
        assertSQLError(
            db, "SELECT vec_cosine(?1, ?2)", [three, four], contains: "vec_cosine: vectors have different sizes")
        assertSQLError(
            db, "SELECT vec_l2(?1, ?2)", [four, three], contains: "vec_l2: vectors have different sizes: 4 and 3")
        assertSQLError(
            db, "SELECT vec_norm('[1,2]')", contains: "vec_norm: argument 1 is TEXT; expected a BLOB of float32 values")
        assertSQLError(
            db, "SELECT vec_dot(?1, 3)", [three], contains: "vec_dot: argument 2 is INTEGER; expected a BLOB")
        assertSQLError(db, "SELECT vec_dim(1.5)", contains: "vec_dim: argument 1 is REAL")
        assertSQLError(
            db, "SELECT vec_at(?1, 3)", [three],
            contains: "vec_at: index 3 is out of range for a vector of 3 floats (indices are 0-based)")
        assertSQLError(db, "SELECT vec_at(?1, -1)", [three], contains: "index -1 is out of range")
        assertSQLError(
            db, "SELECT vec_at(?1, 'x')", [three], contains: "vec_at: argument 2 (index) is TEXT; expected an integer")
        assertSQLError(
            db, "SELECT vec_at(?1, 0.5)", [three], contains: "argument 2 (index) is 0.5; expected an integer")
        assertSQLError(
            db, "SELECT vec_from_json(X'00')", contains: "vec_from_json: argument 1 (JSON array) is BLOB; expected TEXT"
        )
        assertSQLError(
            db, "SELECT vec_from_json('[1, 2,]')",
            contains: "vec_from_json: not a JSON array of numbers: expected a number at offset 6, found ']'")
        assertSQLError(db, "SELECT vec_from_json('1, 2')", contains: "expected '[' at offset 0")
        assertSQLError(db, "SELECT vec_from_json('[1, \"a\"]')", contains: "expected a number at offset 4")
        assertSQLError(db, "SELECT vec_from_json('[1e39]')", contains: "1e39 at offset 1 is out of float32 range")
        assertSQLError(db, "SELECT vec_from_json('[NaN]')", contains: "expected a number")
        assertSQLError(db, "SELECT vec_from_json('[1] x')", contains: "unexpected 'x' at offset 4 after the array")
        assertSQLError(
            db, "SELECT vec_json(?1)", [blob([1, .nan])],
            contains: "vec_json: element 1 is nan, which JSON cannot represent")
        assertSQLError(db, "SELECT vec_dot(?1, ?1)", [blob([1, .nan])], contains: "vec_dot: result is NaN")
        assertSQLError(db, "SELECT vec_at(?1, 1)", [blob([1, .nan])], contains: "vec_at: element 1 is NaN")
        assertSQLError(
            db, "SELECT vec_mean(v) FROM (SELECT ?1 AS v UNION ALL SELECT ?2)", [three, four],
            contains: "vec_mean: vectors have different sizes: 3 and 4 floats")
        assertSQLError(db, "SELECT vec_mean('abc')", contains: "vec_mean: argument 1 is TEXT")
        assertSQLError(
            db, "SELECT vec_dim(?1, ?1)", [three], contains: "wrong number of arguments to function vec_dim()")
    }

    func testJSONRoundTripsEveryFloatExactly() throws {
        var rng = SplitMix(seed: 7)
        var v = rng.vector(300).map { $0 * 1e-3 }
        v += [
            0, -0.0, 1, -1, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0.1, 1e-7,
            123456.79,
        ]
        let json = try XCTUnwrap(value("SELECT vec_json(?1)", [blob(v)])?.string)
        XCTAssertTrue(json.hasPrefix("[") && json.hasSuffix("]"))
        let back = try floats(value("SELECT vec_from_json(?1)", [.text(json)]))
        XCTAssertEqual(back.map { $0.map(\.bitPattern) }, v.map(\.bitPattern))
        XCTAssertEqual(
            try value("SELECT vec_json(vec_from_json(' [ 1 , 2.5e-1,-0.0, 3E2 ] '))")?.string, "[1.0,0.25,-0.0,300.0]")
        XCTAssertEqual(try value("SELECT vec_json(X'')")?.string, "[]")
        XCTAssertEqual(try value("SELECT hex(vec_from_json('[]'))")?.string, "")
        XCTAssertEqual(try value("SELECT typeof(vec_from_json('[]'))")?.string, "blob")
        XCTAssertEqual(try value("SELECT hex(vec_from_json('[1]'))")?.string, "0000803F")
    }

    func testMeanIsElementwiseMeanPerGroupAndSkipsNulls() throws {
        try db.execute("CREATE TABLE t(g TEXT, v BLOB)")
        var rng = SplitMix(seed: 3)
        var groups: [String: [[Float]]] = [:]
        for i in 0..<200 {
            let g = ["a", "b", "c"][i % 3]
            let v = rng.vector(9).map { $0 * 1000 + 0.001 }
            groups[g, default: []].append(v)
            try db.run("INSERT INTO t VALUES (?1, ?2)", [.text(g), blob(v)])
        }
        try db.run("INSERT INTO t VALUES ('a', NULL)")
        let rows = try db.rows("SELECT g, vec_mean(v) FROM t GROUP BY g ORDER BY g")
        XCTAssertEqual(rows.count, 3)
        for row in rows {
            let g = try XCTUnwrap(row[0].string)
            let got = try XCTUnwrap(floats(row[1]))
            let vs = groups[g]!
            for j in 0..<9 {
                let mean = vs.reduce(0.0) { $0 + Double($1[j]) } / Double(vs.count)
                XCTAssertEqual(got[j], Float(mean), "group \(g) element \(j)")
            }
        }
        XCTAssertEqual(try value("SELECT vec_mean(v) FROM t WHERE g = 'none'"), .null)
        XCTAssertEqual(try value("SELECT vec_mean(NULL)"), .null)
        XCTAssertEqual(try value("SELECT hex(vec_mean(X''))")?.string, "")
    }

    func testEveryFunctionIsRegisteredAndDocumented() throws {
        let registered = try db.rows(
            """
            SELECT name, narg FROM pragma_function_list WHERE name LIKE 'vec\\_%' ESCAPE '\\' OR name LIKE 'head\\_%' ESCAPE '\\'
            ORDER BY name
            """
        ).map { "\($0[0].string!)/\($0[1].int!)" }
        XCTAssertEqual(registered, VectorSQL.functions.map { "\($0.name)/\($0.arguments)" }.sorted())
        let docs = try String(
            contentsOf: URL(fileURLWithPath: "\(#filePath)").deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/sql.md"),
            encoding: .utf8)
        for f in VectorSQL.functions {
            XCTAssertTrue(docs.contains("| `\(f.name)("), "docs/sql.md does not list \(f.name)")
        }
    }

    func testPureFunctionsAreDeterministicAndUsableInIndexes() throws {
        // SQLite only allows DETERMINISTIC functions in expression indexes.
        try db.execute("CREATE TABLE t(v BLOB)")
        try db.execute("CREATE INDEX t_norm ON t(vec_norm(v))")
        try db.run("INSERT INTO t VALUES (?1)", [blob([3, 4])])
        XCTAssertEqual(try value("SELECT count(*) FROM t WHERE vec_norm(v) = 5")?.int, 1)
    }
}

final class ExtensionHostCheckTests: XCTestCase {
    func testRoutinesTableOfAnotherSQLiteIsRefused() {
        // The real loader's table is accepted in ExtensionTests (sqlite3 shell); here, a table
        // whose first entry is some other function, and one whose first entry is ours.
        var foreign: [UnsafeRawPointer?] = [UnsafeRawPointer(bitPattern: 0x1234), nil]
        XCTAssertFalse(foreign.withUnsafeBytes { VectorSQL.isLinkedSQLite(routines: $0.baseAddress!) })
        let ours = unsafeBitCast(
            sqlite3_aggregate_context as @convention(c) (OpaquePointer?, Int32) -> UnsafeMutableRawPointer?,
            to: UnsafeRawPointer.self)
        foreign[0] = ours
        XCTAssertTrue(foreign.withUnsafeBytes { VectorSQL.isLinkedSQLite(routines: $0.baseAddress!) })
    }
}
