import CSQLite3

/// An error from SQLite or from the shape of a tlearn database.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    case sqlite(code: Int32, message: String, sql: String?)
    case open(path: String, message: String)
    case invalid(String)
    /// Another process holds the writer lock of `path` (see `WriterLock`).
    case locked(path: String, pid: Int?)

    public var description: String {
        switch self {
        case .sqlite(let code, let message, let sql?): "SQLite error \(code): \(message) - while executing `\(sql)`"
        case .sqlite(let code, let message, nil): "SQLite error \(code): \(message)"
        case .open(let path, let message): "cannot open database \(path): \(message)"
        case .invalid(let message): message
        case .locked(let path, let pid?):
            "another tlearn process is writing \(path) (pid \(pid)); wait for it to finish or stop it"
        case .locked(let path, nil): "another tlearn process is writing \(path); wait for it to finish or stop it"
        }
    }
}

/// A value bound to or read from an SQL statement.
public enum SQLValue: Equatable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One SQLite connection; closes in `deinit` unless it borrows a handle SQLite lent to a function.
public final class Connection {
    /// Package-visible for the function-registration calls (VectorSQL); nothing else touches it.
    package let handle: OpaquePointer
    public let path: String
    private let owned: Bool

    /// Opens (creating when `create`) the database at `path`; read-only when `readOnly`.
    public init(path: String, readOnly: Bool = false, create: Bool = true) throws {
        var flags = SQLITE_OPEN_NOMUTEX
        flags |= readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0)
        var h: OpaquePointer?
        let rc = sqlite3_open_v2(path, &h, flags, nil)
        guard rc == SQLITE_OK, let h else {
            let message = h.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(h)
            throw StoreError.open(path: path, message: message)
        }
        handle = h
        self.path = path
        owned = true
        sqlite3_extended_result_codes(h, 1)
    }

    /// A connection over a handle SQLite hands an SQL function (`sqlite3_context_db_handle`): used
    /// for that call only, never closed here.
    package init(borrowing handle: OpaquePointer) {
        self.handle = handle
        path = sqlite3_db_filename(handle, "main").map { String(cString: $0) } ?? ""
        owned = false
    }

    deinit { if owned { sqlite3_close_v2(handle) } }

    /// How long a statement waits for another connection's lock before failing with SQLITE_BUSY.
    func setBusyTimeout(milliseconds: Int32) {
        sqlite3_busy_timeout(handle, milliseconds)
    }

    /// Whether a read or write transaction is open on the main database.
    public var inTransaction: Bool { sqlite3_txn_state(handle, "main") != SQLITE_TXN_NONE }

    /// The main database's data version (changes when any connection commits to it); nil if unknown.
    public var dataVersion: UInt32? {
        var v: UInt32 = 0
        return sqlite3_file_control(handle, "main", SQLITE_FCNTL_DATA_VERSION, &v) == SQLITE_OK ? v : nil
    }

    /// The message of the last failed call on this connection.
    public var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(error)
            throw StoreError.sqlite(code: rc, message: message, sql: sql)
        }
    }

    /// Prepares `sql`, binds `arguments` to ?1, ?2, ... and returns the statement.
    public func prepare(_ sql: String, _ arguments: [SQLValue] = []) throws -> Statement {
        let statement = try Statement(self, sql: sql)
        try statement.bind(arguments)
        return statement
    }

    /// Prepares the first statement of `script` and returns it (nil when the text up to the next
    /// statement is only whitespace or comments) with the UTF-8 length of the text it consumed.
    public func prepareFirst(of script: Substring) throws -> (statement: Statement?, consumed: Int) {
        let utf8 = Array(script.utf8)
        if utf8.isEmpty { return (nil, 0) }
        var h: OpaquePointer?
        var consumed = 0
        let rc = utf8.withUnsafeBufferPointer { buffer -> Int32 in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v2(handle, base, Int32(buffer.count), &h, &tail)
            consumed = tail.map { $0 - base } ?? buffer.count
            return rc
        }
        guard rc == SQLITE_OK else {
            sqlite3_finalize(h)
            throw StoreError.sqlite(code: rc, message: lastMessage, sql: Self.firstStatement(of: String(script)))
        }
        guard let h else { return (nil, consumed) }
        return (
            Statement(self, handle: h, sql: Self.trimmed(String(decoding: utf8[..<consumed], as: UTF8.self))), consumed
        )
    }

    /// The text up to the first complete statement (for an error message when it does not compile).
    static func firstStatement(of text: String) -> String {
        var end = text.startIndex
        while let semicolon = text[end...].firstIndex(of: ";") {
            end = text.index(after: semicolon)
            if sqlite3_complete(String(text[..<end])) != 0 { return trimmed(String(text[..<end])) }
        }
        return trimmed(text)
    }

    /// A statement's text without surrounding whitespace and trailing semicolons.
    static func trimmed(_ s: String) -> String {
        var t = Substring(s)
        while let c = t.first, c.isWhitespace { t.removeFirst() }
        while let c = t.last, c.isWhitespace || c == ";" { t.removeLast() }
        return String(t)
    }

    /// Runs `sql` with `arguments` and returns every row.
    public func rows(_ sql: String, _ arguments: [SQLValue] = []) throws -> [[SQLValue]] {
        let statement = try prepare(sql, arguments)
        var out: [[SQLValue]] = []
        while try statement.step() { out.append(statement.row()) }
        return out
    }

    /// Runs `sql` with `arguments` and returns the first column of the first row, or nil.
    public func scalar(_ sql: String, _ arguments: [SQLValue] = []) throws -> SQLValue? {
        let statement = try prepare(sql, arguments)
        return try statement.step() ? statement.value(0) : nil
    }

    /// Runs a statement that returns no rows, with arguments.
    public func run(_ sql: String, _ arguments: [SQLValue] = []) throws {
        let statement = try prepare(sql, arguments)
        while try statement.step() {}
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back if it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

/// A prepared statement; finalizes in `deinit`.
public final class Statement {
    let handle: OpaquePointer
    let connection: Connection
    let sql: String

    init(_ connection: Connection, sql: String) throws {
        var h: OpaquePointer?
        let rc = sqlite3_prepare_v2(connection.handle, sql, -1, &h, nil)
        guard rc == SQLITE_OK, let h else {
            throw StoreError.sqlite(code: rc, message: connection.lastMessage, sql: sql)
        }
        handle = h
        self.connection = connection
        self.sql = sql
    }

    /// The statement's text (trimmed), as error messages quote it.
    public var text: String { sql }

    init(_ connection: Connection, handle: OpaquePointer, sql: String) {
        self.handle = handle
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Number of parameters (the largest index).
    public var parameterCount: Int { Int(sqlite3_bind_parameter_count(handle)) }

    /// The name of parameter `index` (1-based) with its prefix (`:id`, `@id`, `$id`, `?3`); nil for a bare `?`.
    public func parameterName(_ index: Int) -> String? {
        sqlite3_bind_parameter_name(handle, Int32(index)).map { String(cString: $0) }
    }

    /// Binds values to ?1, ?2, ... in order.
    public func bind(_ values: [SQLValue]) throws {
        for (i, value) in values.enumerated() { try bind(value, at: Int32(i + 1)) }
    }

    /// Binds one value at a 1-based parameter index.
    public func bind(_ value: SQLValue, at index: Int32) throws {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(handle, index)
        case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
        case .real(let v): rc = sqlite3_bind_double(handle, index, v)
        case .text(let v): rc = sqlite3_bind_text(handle, index, v, -1, tl_sqlite_transient())
        case .blob(let v): rc = bindBlob(v, at: index)
        }
        try check(rc)
    }

    /// Binds raw bytes (an embedding) without an intermediate array.
    public func bindBlob(_ bytes: UnsafeRawBufferPointer, at index: Int32) throws {
        // A zero-length BLOB needs a non-nil pointer, or SQLite stores NULL.
        let base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        try check(sqlite3_bind_blob(handle, index, base, Int32(bytes.count), tl_sqlite_transient()))
    }

    private func bindBlob(_ bytes: [UInt8], at index: Int32) -> Int32 {
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            return sqlite3_bind_blob(handle, index, base, Int32(raw.count), tl_sqlite_transient())
        }
    }

    /// Advances to the next row; false when done.
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw StoreError.sqlite(code: rc, message: connection.lastMessage, sql: sql)
        }
    }

    /// Resets for another execution and clears bindings.
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    public var columnCount: Int { Int(sqlite3_column_count(handle)) }
    public func columnName(_ i: Int) -> String { String(cString: sqlite3_column_name(handle, Int32(i))) }

    /// The value of column `i` of the current row.
    public func value(_ i: Int) -> SQLValue {
        let c = Int32(i)
        switch sqlite3_column_type(handle, c) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, c))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, c))
        case SQLITE_TEXT: return .text(text(i) ?? "")
        case SQLITE_BLOB: return .blob(Array(blob(i)))
        default: return .null
        }
    }

    public func row() -> [SQLValue] { (0..<columnCount).map(value) }
    public func int(_ i: Int) -> Int64 { sqlite3_column_int64(handle, Int32(i)) }
    public func double(_ i: Int) -> Double { sqlite3_column_double(handle, Int32(i)) }
    public func isNull(_ i: Int) -> Bool { sqlite3_column_type(handle, Int32(i)) == SQLITE_NULL }

    public func text(_ i: Int) -> String? {
        guard let p = sqlite3_column_text(handle, Int32(i)) else { return nil }
        return String(cString: p)
    }

    /// The BLOB bytes of column `i`, valid until the next step or reset.
    public func blob(_ i: Int) -> UnsafeRawBufferPointer {
        let n = Int(sqlite3_column_bytes(handle, Int32(i)))
        guard n > 0, let p = sqlite3_column_blob(handle, Int32(i)) else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(start: p, count: n)
    }

    private func check(_ rc: Int32) throws {
        if rc != SQLITE_OK { throw StoreError.sqlite(code: rc, message: connection.lastMessage, sql: sql) }
    }
}

extension SQLValue {
    public var int: Int64? { if case .integer(let v) = self { v } else { nil } }
    public var double: Double? {
        switch self {
        case .real(let v): v
        case .integer(let v): Double(v)
        default: nil
        }
    }
    public var string: String? { if case .text(let v) = self { v } else { nil } }
}
