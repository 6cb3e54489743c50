import XCTest
import Store
import TestSupport
@testable import VectorSQL

func floats(_ value: SQLValue?) -> [Float]? {
    guard case let .blob(b)? = value, b.count % 4 == 0 else { return nil }
    return stride(from: 0, to: b.count, by: 4).map { i in
        Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
    }
}

func tempPath(_ ext: String = "sqlite") -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-test-\(UUID().uuidString).\(ext)").path
}

func removeDatabase(_ path: String) {
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
}

/// Asserts |a - e| <= atol + rtol |e|, printing both.
func assertClose(_ a: Double?, _ e: Double, rtol: Double = 1e-12, atol: Double = 1e-12, _ what: String = "", file: StaticString = #filePath, line: UInt = #line) {
    guard let a else { return XCTFail("\(what): got nil, expected \(e)", file: file, line: line) }
    XCTAssertLessThanOrEqual(abs(a - e), atol + rtol * abs(e), "\(what): got \(a), expected \(e)", file: file, line: line)
}

/// Asserts that `sql` fails with a message containing `fragment`.
func assertSQLError(_ db: Connection, _ sql: String, _ args: [SQLValue] = [], contains fragment: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try db.rows(sql, args), sql, file: file, line: line) { error in
        XCTAssertTrue("\(error)".contains(fragment), "\(sql): \"\(error)\" does not contain \"\(fragment)\"", file: file, line: line)
    }
}

/// A synthetic tlearn database built with plain INSERTs following schema.sql.
struct SyntheticDB {
    let path: String
    let db: Connection

    init(path: String = tempPath()) throws {
        self.path = path
        db = try VectorSQL.open(path)
    }

    func addClasses(_ names: [String]) throws {
        for n in names { try db.run("INSERT INTO classes(name) VALUES (?1)", [.text(n)]) }
    }

    func addBackbone(dim: Int, sha: String = "abc123", input: Int = 224) throws -> Int64 {
        try db.run("""
            INSERT INTO backbones(weights_sha256, alpha, input_size, preprocessing, dim, weights_name)
            VALUES (?1, 1.0, ?2, 'pillow-bilinear;x/127.5-1', ?3, 'mobilenet.h5')
            """, [.text(sha), .integer(Int64(input)), .integer(Int64(dim))])
        return db.lastInsertRowID
    }

    @discardableResult
    func addImage(path: String, className: String, split: String, vector: [Float]?, backbone: Int64) throws -> Int64 {
        try db.run("""
            INSERT INTO images(path, class_id, sha256, bytes, split)
            VALUES (?1, (SELECT id FROM classes WHERE name = ?2), 'sha-' || ?1, 1000, ?3)
            """, [.text(path), .text(className), .text(split)])
        let id = db.lastInsertRowID
        if let vector {
            try db.run("INSERT INTO embeddings(image_id, backbone_id, vector) VALUES (?1, ?2, ?3)", [.integer(id), .integer(backbone), blob(vector)])
        }
        return id
    }

    func addRun(backbone: Int64, classes: [String], dim: Int, w: [Float], b: [Float]) throws -> Int64 {
        let json = "[" + classes.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        try db.run("""
            INSERT INTO runs(backbone_id, config, seed, split_fingerprint, classes, dim, head, metrics, seconds)
            VALUES (?1, '{"lr":0.01,"epochs":3}', 7, 'fp', ?2, ?3, ?4, '{}', 1.5)
            """, [.integer(backbone), .text(json), .integer(Int64(dim)), blob(w + b)])
        return db.lastInsertRowID
    }
}
