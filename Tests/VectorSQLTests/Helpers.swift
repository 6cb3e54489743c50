import TestSupport
import XCTest

@testable import Store
@testable import VectorSQL

func floats(_ value: SQLValue?) -> [Float]? {
    guard case .blob(let b)? = value, b.count % 4 == 0 else { return nil }
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
func assertClose(
    _ a: Double?, _ e: Double, rtol: Double = 1e-12, atol: Double = 1e-12, _ what: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard let a else { return XCTFail("\(what): got nil, expected \(e)", file: file, line: line) }
    XCTAssertLessThanOrEqual(
        abs(a - e), atol + rtol * abs(e), "\(what): got \(a), expected \(e)", file: file, line: line)
}

/// Asserts that `sql` fails with a message containing `fragment`.
func assertSQLError(
    _ db: Connection, _ sql: String, _ args: [SQLValue] = [], contains fragment: String, file: StaticString = #filePath,
    line: UInt = #line
) {
    XCTAssertThrowsError(try db.rows(sql, args), sql, file: file, line: line) { error in
        XCTAssertTrue(
            "\(error)".contains(fragment), "\(sql): \"\(error)\" does not contain \"\(fragment)\"", file: file,
            line: line)
    }
}

/// TestSupport's synthetic database, on a connection with the vector functions registered.
func syntheticDB(path: String = tempPath()) throws -> SyntheticDatabase {
    try SyntheticDatabase(at: path, connection: VectorSQL.open(path))
}
