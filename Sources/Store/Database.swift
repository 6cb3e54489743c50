import CSQLite3

#if canImport(Glibc)
    import Glibc
#endif

/// Opens tlearn databases: applies `schema.sql`, WAL, foreign keys and a busy timeout.
public enum Database {
    /// The schema this binary was built with (top-level `schema.sql`).
    public static let schema = String(decoding: PackageResources.schema_sql, as: UTF8.self)
    /// The `PRAGMA user_version` that `schema` sets.
    public static let version: Int64 = 3

    /// Opens `path` for tlearn, creating and migrating it unless `readOnly`.
    public static func open(_ path: String, readOnly: Bool = false, busyTimeoutMS: Int32 = 5000) throws -> Connection {
        var s = stat()
        if stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR {
            throw StoreError.open(path: path, message: "it is a directory, not a database file")
        }
        // Readers open read-write without create and set query_only: a read-only connection that
        // closes last leaves empty -wal/-shm files behind; this one removes them. SQLite still opens
        // a write-protected file read-only by itself.
        let db = try Connection(path: path, readOnly: false, create: !readOnly)
        db.setBusyTimeout(milliseconds: busyTimeoutMS)
        if readOnly { try db.execute("PRAGMA query_only = ON") }
        let found: Int64
        do {
            try db.execute("PRAGMA foreign_keys = ON")
            found = try db.scalar("PRAGMA user_version")?.int ?? 0
        } catch let StoreError.sqlite(code, _, _) where code & 0xFF == SQLITE_NOTADB {
            throw StoreError.invalid("\(path) is not a tlearn database (not an SQLite file)")
        }
        if found > version {
            throw StoreError.invalid(
                "\(path) has schema version \(found); this tlearn knows up to \(version): upgrade tlearn")
        }
        if !readOnly {
            // WAL lets the sqlite3 shell read while an extraction writes.
            if found == 0 {
                // Writing the schema into someone else's SQLite file would change it behind their back.
                let tables = try db.rows(
                    "SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name LIMIT 4"
                ).compactMap { $0[0].string }
                if !tables.isEmpty {
                    throw StoreError.invalid(
                        "\(path) is not a tlearn database (it holds other tables: \(tables.joined(separator: ", ")))")
                }
            }
            try db.execute("PRAGMA journal_mode = WAL")
            // A killed process loses nothing committed with NORMAL in WAL mode; only a power cut
            // can drop the last commits, and the database stays consistent either way. FULL would
            // wait for the disk at every commit (runs, sweep points, extraction batches).
            try db.execute("PRAGMA synchronous = NORMAL")
            if found < version { try db.transaction { try db.execute(schema) } }
        } else if found == 0 {
            let tables = try db.scalar("SELECT count(*) FROM sqlite_schema")?.int ?? 0
            throw StoreError.invalid(
                tables == 0
                    ? "\(path) is not a tlearn database (it is empty)"
                    : "\(path) is not a tlearn database (no schema version)")
        }
        return db
    }
}
