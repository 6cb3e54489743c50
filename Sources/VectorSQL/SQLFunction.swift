import CSQLite3
import Formats

/// An error raised inside an SQL function; becomes `sqlite3_result_error` with the function's name.
struct SQLFunctionError: Error, CustomStringConvertible {
    var description: String { message }
    let message: String
    init(_ message: String) { self.message = message }
}

/// What an SQL function returns.
enum SQLFunctionResult {
    case null
    case real(Double)
    case integer(Int64)
    case text(String)
    case vector([Float])
}

/// The arguments of one SQL function call, valid only during that call.
struct SQLArguments {
    let values: UnsafeMutablePointer<OpaquePointer?>?
    let count: Int
    let function: String

    func type(_ i: Int) -> Int32 { sqlite3_value_type(values![i]) }
    func isNull(_ i: Int) -> Bool { type(i) == SQLITE_NULL }

    /// Argument `i` as a float32 vector; nil for NULL. Anything but a BLOB of 4*n bytes throws.
    func vector(_ i: Int) throws(SQLFunctionError) -> Vector? {
        guard let raw = try blob(i, expected: "a BLOB of float32 values") else { return nil }
        guard VectorBlob.isWhole(byteCount: raw.count) else {
            throw SQLFunctionError(
                "argument \(i + 1) is a BLOB of \(raw.count) bytes, not a whole number of float32 values (4 bytes each)"
            )
        }
        return Vector(raw)
    }

    /// Argument `i` as BLOB bytes, valid during the call; nil for NULL. Anything but a BLOB throws,
    /// saying what was `expected`.
    func blob(_ i: Int, expected: String) throws(SQLFunctionError) -> UnsafeRawBufferPointer? {
        let value = values![i]
        switch sqlite3_value_type(value) {
        case SQLITE_NULL: return nil
        case SQLITE_BLOB:
            let n = Int(sqlite3_value_bytes(value))
            return UnsafeRawBufferPointer(start: n == 0 ? nil : sqlite3_value_blob(value), count: n)
        case let t:
            throw SQLFunctionError("argument \(i + 1) is \(typeName(t)); expected \(expected)")
        }
    }

    /// Argument `i` as an integer; nil for NULL. REAL values must be whole numbers.
    func integer(_ i: Int, what: String) throws(SQLFunctionError) -> Int64? {
        let value = values![i]
        switch sqlite3_value_type(value) {
        case SQLITE_NULL: return nil
        case SQLITE_INTEGER: return sqlite3_value_int64(value)
        case SQLITE_FLOAT:
            let d = sqlite3_value_double(value)
            guard let v = Int64(exactly: d) else {
                throw SQLFunctionError("argument \(i + 1) (\(what)) is \(d); expected an integer")
            }
            return v
        case let t:
            throw SQLFunctionError("argument \(i + 1) (\(what)) is \(typeName(t)); expected an integer")
        }
    }

    /// Argument `i` as text; nil for NULL. Only TEXT is accepted.
    func text(_ i: Int, what: String) throws(SQLFunctionError) -> String? {
        let value = values![i]
        switch sqlite3_value_type(value) {
        case SQLITE_NULL: return nil
        case SQLITE_TEXT:
            guard let p = sqlite3_value_text(value) else { return "" }
            let n = Int(sqlite3_value_bytes(value))
            return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
        case let t:
            throw SQLFunctionError("argument \(i + 1) (\(what)) is \(typeName(t)); expected TEXT")
        }
    }
}

/// The SQL name of a fundamental datatype code, for error messages.
func typeName(_ type: Int32) -> String {
    switch type {
    case SQLITE_INTEGER: "INTEGER"
    case SQLITE_FLOAT: "REAL"
    case SQLITE_TEXT: "TEXT"
    case SQLITE_BLOB: "BLOB"
    default: "NULL"
    }
}

/// A scalar function's body plus its name; passed to SQLite as user data, released by `xDestroy`.
final class ScalarBox {
    let name: String
    let body: (OpaquePointer, SQLArguments) throws(SQLFunctionError) -> SQLFunctionResult
    init(name: String, body: @escaping (OpaquePointer, SQLArguments) throws(SQLFunctionError) -> SQLFunctionResult) {
        self.name = name
        self.body = body
    }
}

/// Sets the result of `context`, raising an error for NaN (SQLite would store it as a silent NULL).
func setResult(_ result: SQLFunctionResult, on context: OpaquePointer, function: String) {
    switch result {
    case .null: sqlite3_result_null(context)
    case .integer(let v): sqlite3_result_int64(context, v)
    case .real(let v):
        if v.isNaN {
            sqlite3_result_error(context, "\(function): result is NaN (an input vector holds NaN or infinity)", -1)
        } else {
            sqlite3_result_double(context, v)
        }
    case .text(let s):
        var s = s
        s.withUTF8 {
            sqlite3_result_text(
                context, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), Int32($0.count),
                tl_sqlite_transient())
        }
    case .vector(let v):
        let bytes = VectorBlob.bytes(v)
        bytes.withUnsafeBytes { raw in
            // A zero-length BLOB needs a non-nil pointer, or SQLite returns NULL.
            sqlite3_result_blob(
                context, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, Int32(raw.count), tl_sqlite_transient())
        }
    }
}

/// The one C trampoline for every scalar function: the body comes from the user data.
let scalarTrampoline: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = {
    context, argc, argv in
    guard let context else { return }
    let box = Unmanaged<ScalarBox>.fromOpaque(sqlite3_user_data(context)).takeUnretainedValue()
    let args = SQLArguments(values: argv, count: Int(argc), function: box.name)
    do {
        let result = try box.body(context, args)
        setResult(result, on: context, function: box.name)
    } catch {
        sqlite3_result_error(context, "\(box.name): \(error)", -1)
    }
}

/// Releases a box that SQLite held as user data.
let releaseBox: @convention(c) (UnsafeMutableRawPointer?) -> Void = { pointer in
    if let pointer { Unmanaged<AnyObject>.fromOpaque(pointer).release() }
}

/// Registers a scalar function with a fixed number of arguments.
func createScalar(
    _ db: OpaquePointer, _ name: String, arguments: Int32, deterministic: Bool,
    _ body: @escaping (OpaquePointer, SQLArguments) throws(SQLFunctionError) -> SQLFunctionResult
) throws(SQLFunctionError) {
    let box = Unmanaged.passRetained(ScalarBox(name: name, body: body)).toOpaque()
    var flags = SQLITE_UTF8
    if deterministic { flags |= SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS }
    // On failure SQLite calls xDestroy itself, so the box is not leaked.
    let rc = sqlite3_create_function_v2(db, name, arguments, flags, box, scalarTrampoline, nil, nil, releaseBox)
    if rc != SQLITE_OK { throw SQLFunctionError("cannot register \(name): \(String(cString: sqlite3_errstr(rc)))") }
}
