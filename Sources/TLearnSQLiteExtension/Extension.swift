import CSQLite3
import VectorSQL

/// Entry point SQLite looks for when loading `libtlearn_sqlite.so`: "sqlite3_" + the lower-cased
/// letters of the file name after a leading "lib", up to the first "." + "_init" (sqlite3_load_extension docs).
// swift-format-ignore: AlwaysUseLowerCamelCase
// SQLite finds the entry point by this exact name.
@_cdecl("sqlite3_tlearnsqlite_init")
public func sqlite3_tlearnsqlite_init(
    _ db: OpaquePointer?, _ message: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ api: UnsafeRawPointer?
) -> Int32 {
    guard let db else { return SQLITE_ERROR }
    if let api, !VectorSQL.isLinkedSQLite(routines: api) {
        return fail(
            message,
            "tlearn_sqlite: this program uses its own copy of SQLite, not the shared libsqlite3.so.0 the extension is linked to; load it from a program that uses the system SQLite (the sqlite3 shell, Debian's python3)"
        )
    }
    do { try VectorSQL.register(on: db) } catch { return fail(message, "tlearn_sqlite: \(error)") }
    return SQLITE_OK
}

/// Hands `message` to SQLite in memory from sqlite3_malloc, as the loader frees it with sqlite3_free.
private func fail(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ message: String) -> Int32 {
    if let out {
        let bytes = Array(message.utf8) + [0]
        if let p = sqlite3_malloc(Int32(bytes.count))?.assumingMemoryBound(to: CChar.self) {
            bytes.withUnsafeBytes { p.update(from: $0.bindMemory(to: CChar.self).baseAddress!, count: bytes.count) }
            out.pointee = p
        }
    }
    return SQLITE_ERROR
}
