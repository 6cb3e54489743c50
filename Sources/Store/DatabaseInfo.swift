#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `tlearn info` shows about a database.
public struct DatabaseInfo: Sendable {
    public struct ClassCounts: Sendable {
        public var name: String
        public var train = 0
        public var val = 0
        public var test = 0
        public var total: Int { train + val + test }
        public init(name: String) { self.name = name }
    }

    public struct Backbone: Sendable {
        public var id: Int64
        public var key: BackboneKey
        /// Vectors stored per view.
        public var views: [(view: String, count: Int)]
        /// Maps stored per view, with their BLOBs' total size.
        public var maps: [(view: String, count: Int, bytes: Int64)] = []
    }

    /// Database file plus its WAL, in bytes.
    public var fileBytes: Int64 = 0
    public var schemaVersion: Int64 = 0
    public var meta: [String: String] = [:]
    public var classes: [ClassCounts] = []
    public var backbones: [Backbone] = []
    public var failures: [(reason: String, count: Int)] = []
    public var runs = 0

    /// Reads `path` without writing to it.
    public static func read(_ path: String) throws -> DatabaseInfo {
        var info = DatabaseInfo()
        for suffix in ["", "-wal"] {
            var s = stat()
            if stat(path + suffix, &s) == 0 { info.fileBytes += Int64(s.st_size) }
        }
        let db = try EmbeddingStore.open(path, readOnly: true)
        info.schemaVersion = try db.scalar("PRAGMA user_version")?.int ?? 0
        for r in try db.rows("SELECT key, value FROM meta") {
            if let k = r[0].string, let v = r[1].string { info.meta[k] = v }
        }
        var byName: [String: ClassCounts] = [:]
        for r in try db.rows(
            "SELECT c.name, i.split, count(i.id) FROM classes c LEFT JOIN images i ON i.class_id = c.id GROUP BY c.id, i.split"
        ) {
            guard let name = r[0].string else { continue }
            var c = byName[name] ?? ClassCounts(name: name)
            let n = Int(r[2].int ?? 0)
            switch r[1].string {
            case "train": c.train += n
            case "val": c.val += n
            case "test": c.test += n
            default: break
            }
            byName[name] = c
        }
        info.classes = byName.values.sorted { $0.name < $1.name }
        let hasMaps = try hasMapTables(db)
        for b in try EmbeddingStore.backbones(db) {
            let views = try db.rows(
                "SELECT view, count(*) FROM embeddings WHERE backbone_id = ?1 GROUP BY view ORDER BY view",
                [.integer(b.id)]
            )
            .map { (view: $0[0].string ?? "", count: Int($0[1].int ?? 0)) }
            var backbone = Backbone(id: b.id, key: b.key, views: views)
            if hasMaps {
                // length() of a BLOB comes from the record header: the maps themselves are not read.
                backbone.maps = try db.rows(
                    "SELECT view, count(*), sum(length(map)) FROM maps WHERE backbone_id = ?1 GROUP BY view ORDER BY view",
                    [.integer(b.id)]
                )
                .map { (view: $0[0].string ?? "", count: Int($0[1].int ?? 0), bytes: $0[2].int ?? 0) }
            }
            info.backbones.append(backbone)
        }
        info.failures = try db.rows(
            "SELECT reason, count(*) FROM failures GROUP BY reason ORDER BY count(*) DESC, reason"
        )
        .map { (reason: $0[0].string ?? "", count: Int($0[1].int ?? 0)) }
        info.runs = Int(try db.scalar("SELECT count(*) FROM runs")?.int ?? 0)
        return info
    }
}
