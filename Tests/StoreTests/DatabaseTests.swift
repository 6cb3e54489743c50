import XCTest

@testable import Store

final class DatabaseTests: XCTestCase {
    func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-\(UUID().uuidString).sqlite").path
    }

    func testOpenAppliesSchemaAndVersion() throws {
        let path = tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let db = try Database.open(path)
        XCTAssertEqual(try db.scalar("PRAGMA user_version")?.int, Database.version)
        XCTAssertEqual(try db.scalar("PRAGMA journal_mode")?.string, "wal")
        let tables = try db.rows("SELECT name FROM sqlite_schema WHERE type IN ('table','view') ORDER BY name")
            .compactMap { $0[0].string }
        for t in [
            "backbones", "classes", "embeddings", "failures", "images", "labeled_embeddings", "runs", "run_epochs",
            "sweeps",
        ] {
            XCTAssertTrue(tables.contains(t), "missing \(t) in \(tables)")
        }
    }

    func testReopenKeepsRowsAndRejectsNewerSchema() throws {
        let path = tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Database.open(path).run("INSERT INTO classes(name) VALUES (?1)", [.text("daisy")])
        XCTAssertEqual(try Database.open(path).scalar("SELECT name FROM classes")?.string, "daisy")
        try Database.open(path).execute("PRAGMA user_version = 99")
        XCTAssertThrowsError(try Database.open(path)) { XCTAssertTrue("\($0)".contains("schema version 99"), "\($0)") }
    }

    func testReadOnlyOpenOfForeignFileSaysNotATlearnDatabase() throws {
        let path = tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Connection(path: path).execute("CREATE TABLE t(x)")
        XCTAssertThrowsError(try Database.open(path, readOnly: true)) {
            XCTAssertTrue("\($0)".contains("not a tlearn database"), "\($0)")
        }
    }

    func testWritableOpenRefusesForeignSQLiteFileAndLeavesItAlone() throws {
        let path = tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Connection(path: path).execute("CREATE TABLE t(x)")
        XCTAssertThrowsError(try Database.open(path)) {
            XCTAssertEqual("\($0)", "\(path) is not a tlearn database (it holds other tables: t)")
        }
        let tables = try Connection(path: path, readOnly: true).rows("SELECT name FROM sqlite_schema").compactMap {
            $0[0].string
        }
        XCTAssertEqual(tables, ["t"])
    }

    func testGarbageFileAndDirectoryErrorsNameThePath() throws {
        let path = tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("hello, not a database\n".utf8).write(to: URL(fileURLWithPath: path))
        for readOnly in [true, false] {
            XCTAssertThrowsError(try Database.open(path, readOnly: readOnly)) {
                XCTAssertEqual("\($0)", "\(path) is not a tlearn database (not an SQLite file)")
            }
        }
        let dir = FileManager.default.temporaryDirectory.path
        XCTAssertThrowsError(try Database.open(dir)) {
            XCTAssertEqual("\($0)", "cannot open database \(dir): it is a directory, not a database file")
        }
    }

    func testReadOnlyOpenLeavesNoWALFilesAndRefusesWrites() throws {
        let path = tempPath()
        defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        try Database.open(path).run("INSERT INTO classes(name) VALUES ('daisy')")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"))
        do {
            let db = try Database.open(path, readOnly: true)
            XCTAssertEqual(try db.scalar("SELECT name FROM classes")?.string, "daisy")
            XCTAssertThrowsError(try db.run("DELETE FROM classes")) {
                XCTAssertTrue("\($0)".contains("readonly"), "\($0)")
            }
        }
        // A read-only connection that closed last used to leave empty -wal and -shm files beside the database.
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-shm"))
    }

    func testErrorNamesStatementAndMessage() throws {
        let db = try Connection(path: ":memory:")
        try db.execute("CREATE TABLE t(x UNIQUE)")
        try db.run("INSERT INTO t VALUES (1)")
        XCTAssertThrowsError(try db.run("INSERT INTO t VALUES (1)")) {
            XCTAssertEqual(
                "\($0)", "SQLite error 2067: UNIQUE constraint failed: t.x - while executing `INSERT INTO t VALUES (1)`"
            )
        }
    }
}
