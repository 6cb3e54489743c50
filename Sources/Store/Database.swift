import CSQLite3

/// Opens tlearn databases: applies `schema.sql`, WAL, foreign keys and a busy timeout.
public enum Database {
    /// The schema this binary was built with (top-level `schema.sql`).
    public static let schema = String(decoding: PackageResources.schema_sql, as: UTF8.self)
    /// The `PRAGMA user_version` that `schema` sets.
    public static let version: Int64 = 1

    /// Opens `path` for tlearn, creating and migrating it unless `readOnly`.
    public static func open(_ path: String, readOnly: Bool = false, busyTimeoutMS: Int32 = 5000) throws -> Connection {
        let db = try Connection(path: path, readOnly: readOnly, create: !readOnly)
        sqlite3_busy_timeout(db.handle, busyTimeoutMS)
        try db.execute("PRAGMA foreign_keys = ON")
        let found = try db.scalar("PRAGMA user_version")?.int ?? 0
        if found > version {
            throw StoreError.invalid("\(path) has schema version \(found); this tlearn knows up to \(version): upgrade tlearn")
        }
        if !readOnly {
            // WAL lets the sqlite3 shell read while an extraction writes.
            try db.execute("PRAGMA journal_mode = WAL")
            if found < version { try db.transaction { try db.execute(schema) } }
        } else if found == 0 {
            let tables = try db.scalar("SELECT count(*) FROM sqlite_schema")?.int ?? 0
            throw StoreError.invalid(tables == 0 ? "\(path) is not a tlearn database (it is empty)" : "\(path) is not a tlearn database (no schema version)")
        }
        return db
    }
}
