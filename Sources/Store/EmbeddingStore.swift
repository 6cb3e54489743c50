import CSQLite3
import Formats

/// What makes two embeddings comparable: vectors of different keys never mix.
public struct BackboneKey: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var weightsSHA256: String
    public var alpha: Double
    public var inputSize: Int
    public var preprocessing: String
    public var dim: Int
    /// The weights file name, for people; not part of the key.
    public var weightsName: String?

    public init(
        weightsSHA256: String, alpha: Double, inputSize: Int, preprocessing: String, dim: Int,
        weightsName: String? = nil
    ) {
        self.weightsSHA256 = weightsSHA256
        self.alpha = alpha
        self.inputSize = inputSize
        self.preprocessing = preprocessing
        self.dim = dim
        self.weightsName = weightsName
    }

    public static func == (a: BackboneKey, b: BackboneKey) -> Bool {
        a.weightsSHA256 == b.weightsSHA256 && a.alpha == b.alpha && a.inputSize == b.inputSize
            && a.preprocessing == b.preprocessing && a.dim == b.dim
    }

    public func hash(into h: inout Hasher) {
        h.combine(weightsSHA256)
        h.combine(inputSize)
        h.combine(preprocessing)
    }

    public var description: String {
        "weights \(weightsName ?? "?") (sha256 \(weightsSHA256.prefix(12))), alpha \(Float(alpha)), input \(inputSize), dim \(dim), preprocessing '\(preprocessing)'"
    }
}

/// An image as the database knows it.
public struct CatalogEntry: Equatable, Sendable {
    public var id: Int64
    public var label: String
    public var sha256: String
    public var bytes: Int
    public var split: Split
    /// Views stored for the backbone the catalog was read for.
    public var views: Set<String>
    /// Views whose maps are stored for that backbone.
    public var mapViews: Set<String> = []
}

/// The facts about one successfully decoded image file.
public struct ImageRecord: Sendable {
    public var path: String
    public var label: String
    public var sha256: String
    public var bytes: Int
    public var width: Int
    public var height: Int

    public init(path: String, label: String, sha256: String, bytes: Int, width: Int, height: Int) {
        self.path = path
        self.label = label
        self.sha256 = sha256
        self.bytes = bytes
        self.width = width
        self.height = height
    }
}

/// One vector of one view of an image.
public struct ViewVector: Sendable {
    public var view: String
    public var vector: [Float]
    public init(view: String, vector: [Float]) {
        self.view = view
        self.vector = vector
    }
}

/// One view's map (block_16's output) as its `maps` BLOB (`MapBlob`).
public struct ViewMap: Sendable {
    public var view: String
    public var blob: [UInt8]
    public init(view: String, blob: [UInt8]) {
        self.view = view
        self.blob = blob
    }
}

/// One change an extraction makes; a batch of them commits in one transaction.
public enum StoreChange: Sendable {
    /// New or changed content: the row is created or replaced and every old embedding dropped.
    case image(ImageRecord, [ViewVector])
    /// Same content, views this backbone did not have yet.
    case addViews(path: String, [ViewVector])
    /// Same content, new label (manifest edited).
    case relabel(path: String, label: String)
    /// The file could not be used; any image row for the path goes.
    case failure(path: String, reason: String, message: String)
    /// The file is gone (`--prune`): image row and failure row go.
    case remove(path: String)
    /// Maps of an image row (made or kept by an earlier change of the same batch), replacing any of those views.
    case maps(path: String, [ViewMap])
}

/// The extraction side of a tlearn database: backbones, images, embeddings, failures and splits.
/// Keeps each class's member paths in memory so splits stay correct after every commit.
public final class EmbeddingStore {
    public let db: Connection
    public let path: String
    public private(set) var policy: SplitPolicy
    private var classIDs: [String: Int64] = [:]
    /// label -> path -> hash, for every image row.
    private var members: [String: [String: PathHash]] = [:]
    private var splits: [String: Split] = [:]
    private var labels: [String: String] = [:]

    /// Opens (creating) the database at `path` for writing. `policy` nil means the split
    /// percentages stored in the database (10/10 for a new one); a different one re-splits now.
    public init(path: String, policy: SplitPolicy? = nil) throws {
        self.path = path
        db = try Self.open(path)
        let v = try db.scalar("SELECT value FROM meta WHERE key = 'val_percent'")?.string.flatMap(Double.init)
        let t = try db.scalar("SELECT value FROM meta WHERE key = 'test_percent'")?.string.flatMap(Double.init)
        let stored = try (v != nil || t != nil) ? SplitPolicy(valPercent: v ?? 10, testPercent: t ?? 10) : nil
        self.policy = stored ?? .standard
        try reload()
        if stored == nil || (policy != nil && policy != stored) { try setPolicy(policy ?? .standard, force: true) }
    }

    /// Uses `newPolicy` from now on: stores it in `meta` (later runs without flags keep it) and
    /// re-splits every class if it changed.
    public func setPolicy(_ newPolicy: SplitPolicy, force: Bool = false) throws {
        guard force || newPolicy != policy else { return }
        policy = newPolicy
        try db.transaction {
            try setMeta("val_percent", "\(newPolicy.valPercent)")
            try setMeta("test_percent", "\(newPolicy.testPercent)")
            try resplit(Set(members.keys))
        }
    }

    /// Reads the in-memory class and split state from the database (again after a rollback).
    private func reload() throws {
        classIDs = [:]
        members = [:]
        splits = [:]
        labels = [:]
        for row in try db.rows("SELECT id, name FROM classes") {
            if let id = row[0].int, let name = row[1].string { classIDs[name] = id }
        }
        for row in try db.rows("SELECT i.path, c.name, i.split FROM images i JOIN classes c ON c.id = i.class_id") {
            guard let p = row[0].string, let label = row[1].string else { continue }
            members[label, default: [:]][p] = PathHash(path: p)
            labels[p] = label
            splits[p] = row[2].string.flatMap(Split.init(rawValue:)) ?? .train
        }
    }

    /// `Database.open` with a plain message for a file that is not SQLite at all.
    public static func open(_ path: String, readOnly: Bool = false) throws -> Connection {
        do {
            return try Database.open(path, readOnly: readOnly)
        } catch let StoreError.sqlite(code, _, _) where code & 0xFF == SQLITE_NOTADB {
            throw StoreError.invalid("\(path) is not a tlearn database (not an SQLite file)")
        }
    }

    // MARK: meta

    /// A value from the `meta` table.
    public func meta(_ key: String) throws -> String? {
        try db.scalar("SELECT value FROM meta WHERE key = ?1", [.text(key)])?.string
    }

    /// Sets (or with nil deletes) a `meta` value.
    public func setMeta(_ key: String, _ value: String?) throws {
        if let value {
            try db.run(
                "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [.text(key), .text(value)])
        } else {
            try db.run("DELETE FROM meta WHERE key = ?1", [.text(key)])
        }
    }

    // MARK: backbones

    /// The id of `key`'s row, inserting it when new.
    public func backboneID(_ key: BackboneKey) throws -> Int64 {
        let found = try db.rows(
            "SELECT id, alpha, dim FROM backbones WHERE weights_sha256 = ?1 AND input_size = ?2 AND preprocessing = ?3",
            [.text(key.weightsSHA256), .integer(Int64(key.inputSize)), .text(key.preprocessing)])
        if let row = found.first, let id = row[0].int {
            if row[1].double != key.alpha || row[2].int != Int64(key.dim) {
                throw StoreError.invalid(
                    "\(path): backbone #\(id) has the same weights but alpha \(row[1].double ?? 0) and dim \(row[2].int ?? 0), not alpha \(key.alpha) and dim \(key.dim)"
                )
            }
            return id
        }
        try db.run(
            "INSERT INTO backbones(weights_sha256, alpha, input_size, preprocessing, dim, weights_name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            [
                .text(key.weightsSHA256), .real(key.alpha), .integer(Int64(key.inputSize)), .text(key.preprocessing),
                .integer(Int64(key.dim)), key.weightsName.map(SQLValue.text) ?? .null,
            ])
        return db.lastInsertRowID
    }

    /// Every backbone row, by id.
    public func backbones() throws -> [(id: Int64, key: BackboneKey)] {
        try Self.backbones(db)
    }

    static func backbones(_ db: Connection) throws -> [(id: Int64, key: BackboneKey)] {
        try db.rows(
            "SELECT id, weights_sha256, alpha, input_size, preprocessing, dim, weights_name FROM backbones ORDER BY id"
        ).map { r in
            (
                r[0].int ?? 0,
                BackboneKey(
                    weightsSHA256: r[1].string ?? "", alpha: r[2].double ?? 0, inputSize: Int(r[3].int ?? 0),
                    preprocessing: r[4].string ?? "", dim: Int(r[5].int ?? 0), weightsName: r[6].string)
            )
        }
    }

    // MARK: reading

    /// Every image row with the views stored for `backbone`, by path.
    public func catalog(backbone: Int64) throws -> [String: CatalogEntry] {
        var out: [String: CatalogEntry] = [:]
        // Both subqueries read only the (image_id, backbone_id, view) indexes, never a BLOB.
        let s = try db.prepare(
            """
            SELECT i.id, i.path, c.name, i.sha256, i.bytes, i.split,
                   (SELECT group_concat(view) FROM embeddings WHERE image_id = i.id AND backbone_id = ?1),
                   (SELECT group_concat(view) FROM maps WHERE image_id = i.id AND backbone_id = ?1)
            FROM images i JOIN classes c ON c.id = i.class_id
            """, [.integer(backbone)])
        while try s.step() {
            guard let p = s.text(1) else { continue }
            let views = s.text(6).map { Set($0.split(separator: ",").map(String.init)) } ?? []
            let mapViews = s.text(7).map { Set($0.split(separator: ",").map(String.init)) } ?? []
            out[p] = CatalogEntry(
                id: s.int(0), label: s.text(2) ?? "", sha256: s.text(3) ?? "", bytes: Int(s.int(4)),
                split: s.text(5).flatMap(Split.init(rawValue:)) ?? .train, views: views, mapViews: mapViews)
        }
        return out
    }

    /// Paths of the failures table.
    public func failurePaths() throws -> Set<String> {
        Set(try db.rows("SELECT path FROM failures").compactMap { $0[0].string })
    }

    /// The vector of one image's view, or nil.
    public func vector(path: String, backbone: Int64, view: String = "orig") throws -> [Float]? {
        let s = try db.prepare(
            "SELECT e.vector FROM embeddings e JOIN images i ON i.id = e.image_id WHERE i.path = ?1 AND e.backbone_id = ?2 AND e.view = ?3",
            [.text(path), .integer(backbone), .text(view)])
        guard try s.step() else { return nil }
        return VectorBlob.floats(s.blob(0))
    }

    /// The split currently stored for `path`, if it has an image row.
    public func split(of path: String) -> Split? { splits[path] }

    // MARK: writing

    /// Applies `changes` for `backbone` in one BEGIN IMMEDIATE transaction, then re-applies the
    /// split rule to every class the changes touched.
    public func commit(_ changes: [StoreChange], backbone: Int64) throws {
        guard !changes.isEmpty else { return }
        do {
            try apply(changes, backbone: backbone)
        } catch {
            try? reload()
            throw error
        }
    }

    private func apply(_ changes: [StoreChange], backbone: Int64) throws {
        try db.transaction {
            var touched = Set<String>()
            for change in changes {
                switch change {
                case .image(let record, let vectors):
                    try writeImage(record, vectors, backbone: backbone, touched: &touched)
                case .addViews(let p, let vectors):
                    guard let id = try db.scalar("SELECT id FROM images WHERE path = ?1", [.text(p)])?.int else {
                        throw StoreError.invalid("\(path): no image row for \(p) to add views to")
                    }
                    try insertVectors(vectors, image: id, backbone: backbone)
                case .relabel(let p, let label):
                    let cid = try classID(label)
                    try db.run("UPDATE images SET class_id = ?1 WHERE path = ?2", [.integer(cid), .text(p)])
                    move(p, to: label, touched: &touched)
                case .failure(let p, let reason, let message):
                    try removeImage(p, touched: &touched)
                    try db.run(
                        """
                        INSERT INTO failures(path, reason, message) VALUES (?1, ?2, ?3)
                        ON CONFLICT(path) DO UPDATE SET reason = excluded.reason, message = excluded.message,
                            at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                        """, [.text(p), .text(reason), .text(message)])
                case .remove(let p):
                    try removeImage(p, touched: &touched)
                    try db.run("DELETE FROM failures WHERE path = ?1", [.text(p)])
                case .maps(let p, let maps):
                    guard let id = try db.scalar("SELECT id FROM images WHERE path = ?1", [.text(p)])?.int else {
                        throw StoreError.invalid("\(path): no image row for \(p) to add maps to")
                    }
                    try insertMaps(maps, image: id, backbone: backbone)
                }
            }
            try resplit(touched)
        }
    }

    /// Re-applies the split rule to every class (after a policy change or a merge).
    /// Rereads the image rows first, so it also fixes rows written with plain SQL (merge).
    func resplitAll(policy newPolicy: SplitPolicy? = nil) throws {
        if let newPolicy { policy = newPolicy }
        try reload()
        try db.transaction { try resplit(Set(members.keys)) }
    }

    /// Deletes classes no image refers to (after pruning).
    public func dropEmptyClasses() throws {
        try db.run("DELETE FROM classes WHERE id NOT IN (SELECT DISTINCT class_id FROM images)")
        classIDs = classIDs.filter { members[$0.key]?.isEmpty == false }
    }

    private func writeImage(_ r: ImageRecord, _ vectors: [ViewVector], backbone: Int64, touched: inout Set<String>)
        throws
    {
        let cid = try classID(r.label)
        let split = policy.baseSplit(PathHash(path: r.path))
        let id: Int64
        if let existing = try db.scalar("SELECT id FROM images WHERE path = ?1", [.text(r.path)])?.int {
            id = existing
            try db.run(
                "UPDATE images SET class_id = ?1, sha256 = ?2, bytes = ?3, width = ?4, height = ?5 WHERE id = ?6",
                [
                    .integer(cid), .text(r.sha256), .integer(Int64(r.bytes)), .integer(Int64(r.width)),
                    .integer(Int64(r.height)), .integer(id),
                ])
            try db.run("DELETE FROM embeddings WHERE image_id = ?1", [.integer(id)])
            try db.run("DELETE FROM maps WHERE image_id = ?1", [.integer(id)])
        } else {
            try db.run(
                "INSERT INTO images(path, class_id, sha256, bytes, width, height, split) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                [
                    .text(r.path), .integer(cid), .text(r.sha256), .integer(Int64(r.bytes)), .integer(Int64(r.width)),
                    .integer(Int64(r.height)), .text(split.rawValue),
                ])
            id = db.lastInsertRowID
            splits[r.path] = split
        }
        try db.run("DELETE FROM failures WHERE path = ?1", [.text(r.path)])
        try insertVectors(vectors, image: id, backbone: backbone)
        move(r.path, to: r.label, touched: &touched)
    }

    private func insertVectors(_ vectors: [ViewVector], image: Int64, backbone: Int64) throws {
        let s = try db.prepare(
            "INSERT OR REPLACE INTO embeddings(image_id, backbone_id, view, vector) VALUES (?1, ?2, ?3, ?4)")
        for v in vectors {
            s.reset()
            try s.bind([.integer(image), .integer(backbone), .text(v.view)])
            try VectorBlob.withBytes(v.vector) { try s.bindBlob($0, at: 4) }
            while try s.step() {}
        }
    }

    private func insertMaps(_ maps: [ViewMap], image: Int64, backbone: Int64) throws {
        let s = try db.prepare("INSERT OR REPLACE INTO maps(image_id, backbone_id, view, map) VALUES (?1, ?2, ?3, ?4)")
        for m in maps {
            s.reset()
            try s.bind([.integer(image), .integer(backbone), .text(m.view)])
            try m.blob.withUnsafeBytes { try s.bindBlob($0, at: 4) }
            while try s.step() {}
        }
    }

    private func removeImage(_ p: String, touched: inout Set<String>) throws {
        try db.run("DELETE FROM images WHERE path = ?1", [.text(p)])
        if let old = labels.removeValue(forKey: p) {
            members[old]?[p] = nil
            touched.insert(old)
        }
        splits[p] = nil
    }

    private func move(_ p: String, to label: String, touched: inout Set<String>) {
        if let old = labels[p], old != label {
            members[old]?[p] = nil
            touched.insert(old)
        }
        labels[p] = label
        members[label, default: [:]][p] = PathHash(path: p)
        touched.insert(label)
    }

    private func classID(_ label: String) throws -> Int64 {
        if let id = classIDs[label] { return id }
        try db.run("INSERT INTO classes(name) VALUES (?1) ON CONFLICT(name) DO NOTHING", [.text(label)])
        guard let id = try db.scalar("SELECT id FROM classes WHERE name = ?1", [.text(label)])?.int else {
            throw StoreError.invalid("\(path): class \(label) vanished while inserting it")
        }
        classIDs[label] = id
        return id
    }

    private func resplit(_ classes: Set<String>) throws {
        let update = try db.prepare("UPDATE images SET split = ?1 WHERE path = ?2")
        for label in classes.sorted() {
            let group = members[label] ?? [:]
            let assigned = policy.assign(group.map { ($0.key, $0.value) })
            for (p, s) in assigned where splits[p] != s {
                update.reset()
                try update.bind([.text(s.rawValue), .text(p)])
                while try update.step() {}
                splits[p] = s
            }
        }
    }
}
