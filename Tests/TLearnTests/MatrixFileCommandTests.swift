import Foundation
import TestSupport
import XCTest

@testable import Store

/// The memory-mapped matrix file beside the database: similar, duplicates and export give the same
/// answers through it as through a plain load, and any change to the vectors, made by tlearn or with
/// plain SQL, is noticed before the file is used.
final class MatrixFileCommandTests: XCTestCase {
    var dir: URL!
    var path: String { dir.appendingPathComponent("m.sqlite").path }
    var matrixFile: String { path + ".matrix-1-orig" }
    let always = ["TLEARN_MATRIX_FILE": "always"], never = ["TLEARN_MATRIX_FILE": "never"]
    var vectors: [[Float]] = []

    override func setUpWithError() throws {
        dir = try makeTempDirectory()
        let s = try SyntheticDatabase(at: path)
        try s.addClasses(["a", "b", "c"])
        let backbone = try s.addBackbone(dim: 24)
        var rng = SplitMix(seed: 5)
        try s.db.transaction {
            // Image rows first, vectors in reverse id order: the file must put rows in id order.
            for i in 0..<150 {
                try s.addImage(
                    path: "c\(i % 3)/\(i).jpg", className: ["a", "b", "c"][i % 3],
                    split: ["train", "val", "test", "train"][i % 4],
                    vector: nil, backbone: backbone)
                vectors.append(rng.vector(24).map { abs($0) })
            }
            vectors[120] = vectors[7].map { $0 * 1.0001 }  // a leak: 8 (test) and 121 (train)
            for i in (0..<150).reversed() {
                try s.db.run(
                    "INSERT INTO embeddings(image_id, backbone_id, view, vector) VALUES (?1, ?2, 'orig', ?3)",
                    [.integer(Int64(i + 1)), .integer(backbone), blob(vectors[i])])
            }
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func similar(_ args: [String], _ env: [String: String]) throws -> String {
        let r = try runTool(["similar", "--db", path, "--csv"] + args, environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout
    }

    /// Plain SQL on a plain connection (no tlearn code, foreign keys off, as in the sqlite3 shell).
    func sql(_ statement: String, _ args: [SQLValue] = []) throws {
        try Connection(path: path).run(statement, args)
    }

    func token() throws -> Int64 {
        try XCTUnwrap(try Connection(path: path).scalar("SELECT token FROM vectors_token")?.int)
    }

    func testSimilarThroughTheFileEqualsThePlainLoadAndNoticesEveryChange() throws {
        let plain = try similar(["--id", "8", "-k", "6"], never)
        XCTAssertFalse(FileManager.default.fileExists(atPath: matrixFile), "never means no file")
        XCTAssertEqual(try similar(["--id", "8", "-k", "6"], always), plain)
        XCTAssertTrue(FileManager.default.fileExists(atPath: matrixFile))
        XCTAssertEqual(try similar(["--id", "8", "-k", "6"], always), plain, "warm, from the file")
        XCTAssertEqual(
            plain.split(separator: "\r\n")[1].split(separator: ",")[2], "121", "image 8's near copy first: \(plain)")

        // An UPDATE of one vector with plain SQL: image 50 becomes a copy of image 8.
        let before = try token()
        try sql("UPDATE embeddings SET vector = ?1 WHERE image_id = 50", [blob(vectors[7])])
        XCTAssertNotEqual(try token(), before, "the trigger changed the token")
        let updated = try similar(["--id", "8", "-k", "6"], always)
        XCTAssertEqual(updated, try similar(["--id", "8", "-k", "6"], never))
        XCTAssertEqual(
            updated.split(separator: "\r\n")[1].split(separator: ",")[1...2].joined(separator: ","), "1.0,50", updated)

        // A DELETE of an image with foreign keys off leaves its vector behind without an image row.
        try sql("DELETE FROM images WHERE id = 50")
        let deleted = try similar(["--id", "8", "-k", "6"], always)
        XCTAssertEqual(deleted, try similar(["--id", "8", "-k", "6"], never))
        XCTAssertFalse(deleted.contains(",50,"), deleted)

        // A DELETE of a vector, and an INSERT of a new one.
        try sql("DELETE FROM embeddings WHERE image_id = 121")
        XCTAssertEqual(try similar(["--id", "8", "-k", "6"], always), try similar(["--id", "8", "-k", "6"], never))
        try sql(
            "INSERT INTO embeddings(image_id, backbone_id, view, vector) VALUES (121, 1, 'orig', ?1)",
            [blob(vectors[7])])
        let inserted = try similar(["--id", "8", "-k", "6"], always)
        XCTAssertEqual(inserted, try similar(["--id", "8", "-k", "6"], never))
        XCTAssertTrue(inserted.contains(",1.0,121,"), inserted)
    }

    func testAFileThatLiesIsRebuiltNotBelieved() throws {
        let plain = try similar(["--id", "3", "-k", "4"], never)
        _ = try similar(["--id", "3", "-k", "4"], always)
        // Row 0 changed in the file behind the database's back: the sample check sees it.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: matrixFile))
        bytes[4096] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: matrixFile))
        XCTAssertEqual(try similar(["--id", "3", "-k", "4"], always), plain)
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: matrixFile)), bytes, "rebuilt")
        // A truncated file, and one that is not a matrix at all.
        try bytes.prefix(5000).write(to: URL(fileURLWithPath: matrixFile))
        XCTAssertEqual(try similar(["--id", "3", "-k", "4"], always), plain)
        try Data("not a matrix".utf8).write(to: URL(fileURLWithPath: matrixFile))
        XCTAssertEqual(try similar(["--id", "3", "-k", "4"], always), plain)
        // Triggers dropped: the token proves nothing, so the file is not used (nor rebuilt).
        try FileManager.default.removeItem(atPath: matrixFile)
        try sql("DROP TRIGGER embeddings_update_token")
        XCTAssertEqual(try similar(["--id", "3", "-k", "4"], always), plain)
        XCTAssertFalse(FileManager.default.fileExists(atPath: matrixFile))
    }

    func testSchemaOneDatabaseOpenedReadOnlyFallsBackToThePlainLoad() throws {
        let plain = try similar(["--id", "3", "-k", "4"], never)
        let c = try Connection(path: path)
        for t in [
            "embeddings_insert_token", "embeddings_update_token", "embeddings_delete_token", "images_delete_token",
            "images_id_token", "classes_delete_token",
        ] { try c.execute("DROP TRIGGER \(t)") }
        try c.execute("DROP TABLE vectors_token; PRAGMA user_version = 1")
        XCTAssertEqual(try similar(["--id", "3", "-k", "4"], always), plain)
        XCTAssertFalse(FileManager.default.fileExists(atPath: matrixFile))
        XCTAssertEqual(
            try Connection(path: path).scalar("PRAGMA user_version")?.int, 1, "a read-only open does not migrate")
        // A writable open migrates it to the current version, with a token; then the file works.
        _ = try runTool(["query", "--db", path, "--write", "SELECT 1"])
        XCTAssertEqual(try Connection(path: path).scalar("PRAGMA user_version")?.int, Database.version)
        XCTAssertEqual(try similar(["--id", "3", "-k", "4"], always), plain)
        XCTAssertTrue(FileManager.default.fileExists(atPath: matrixFile))
    }

    func testManyQueriesEqualOneAtATime() throws {
        let ids = [1, 8, 77, 150]
        let many = try similar(["--ids", ids.map(String.init).joined(separator: ","), "-k", "5"], always)
        var want = "query,query_id,rank,cosine,id,path,label,split\r\n"
        for (q, id) in ids.enumerated() {
            for line in try similar(["--id", "\(id)", "-k", "5"], never).split(separator: "\r\n").dropFirst() {
                want += "\(q + 1),\(id),\(line)\r\n"
            }
        }
        XCTAssertEqual(many, want)
        // The same through a query file, with a vector line (image 8's vector: image 8 is then not left out).
        let file = dir.appendingPathComponent("q.txt").path
        let vectorLine = "[" + vectors[7].map { "\($0)" }.joined(separator: ", ") + "]"
        try "# queries\n1\n\n8\n77\n150\n\(vectorLine)\n".write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try similar(["--query-file", file, "-k", "5"], always)
        XCTAssertTrue(fromFile.hasPrefix(want), fromFile)
        let last = fromFile.split(separator: "\r\n").suffix(5)
        XCTAssertTrue(last.first!.hasPrefix("5,,1,1.0,8,"), "\(last)")
        let bad = dir.appendingPathComponent("bad.txt").path
        try "1\n[1, 2]\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try runTool(["similar", "--db", path, "--query-file", bad])
        XCTAssertTrue(r.stderr.contains("bad.txt:2: a vector of 2 numbers; the backbone's vectors have 24"), r.stderr)
        let r2 = try runTool(["similar", "--db", path, "--ids", "1,x"])
        XCTAssertTrue(r2.stderr.contains("--ids must be image ids separated by commas"), r2.stderr)
    }

    func testDuplicatesAndExportGiveTheSameThroughTheFile() throws {
        for args in [
            ["--threshold", "0.99"], ["--threshold", "0.7", "--leaks-only"], ["--threshold", "0.7", "--leaks"],
        ] {
            let a = try runTool(["duplicates", "--db", path, "--csv"] + args, environment: always)
            let b = try runTool(["duplicates", "--db", path, "--csv"] + args, environment: never)
            XCTAssertEqual(a.status, 0, a.stderr)
            XCTAssertEqual(a.stdout, b.stdout, "\(args)")
        }
        // Sketch candidates + exact re-scoring give exactly the exact search's leaks.
        let sketched = try runTool(["duplicates", "--db", path, "--csv", "--threshold", "0.7", "--leaks"])
        let exact = try runTool(["duplicates", "--db", path, "--csv", "--threshold", "0.7", "--leaks-only"])
        XCTAssertEqual(sketched.stdout, exact.stdout)
        XCTAssertGreaterThan(
            sketched.stdout.split(separator: "\r\n").count, 50, "enough pairs near the threshold to matter")
        XCTAssertTrue(sketched.stderr.contains("candidates re-scored exactly"), sketched.stderr)
        for format in ["npy", "csv"] {
            let outA = dir.appendingPathComponent("a-\(format)").path
            let outB = dir.appendingPathComponent("b-\(format)").path
            XCTAssertEqual(
                try runTool(["export", "--db", path, "--format", format, "--out", outA], environment: always).status, 0)
            XCTAssertEqual(
                try runTool(["export", "--db", path, "--format", format, "--out", outB], environment: never).status, 0)
            for name in ["vectors.\(format)", "meta.csv"] {
                XCTAssertEqual(
                    try Data(contentsOf: URL(fileURLWithPath: outA + "/" + name)),
                    try Data(contentsOf: URL(fileURLWithPath: outB + "/" + name)), name)
            }
        }
        let meta = try String(contentsOfFile: dir.appendingPathComponent("a-npy/meta.csv").path, encoding: .utf8)
        XCTAssertTrue(meta.hasPrefix("image_id,path,label,split\r\n1,c0/0.jpg,a,train\r\n2,c1/1.jpg,b,val\r\n"), meta)
        XCTAssertEqual(meta.split(separator: "\r\n").count, 151)
    }
}
