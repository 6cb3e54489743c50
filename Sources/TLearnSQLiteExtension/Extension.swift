import CSQLite3
import VectorSQL

/// Entry point SQLite looks for when loading `libtlearn_sqlite` (sqlite3_<basename>_init,
/// with the leading "lib" dropped).
@_cdecl("sqlite3_tlearnsqlite_init")
public func sqlite3_tlearnsqlite_init(
    _ db: OpaquePointer?, _ error: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ api: UnsafeRawPointer?
) -> Int32 {
    guard let db else { return SQLITE_ERROR }
    do { try VectorSQL.register(on: db) } catch { return SQLITE_ERROR }
    return SQLITE_OK
}
