/// What `ShardMerge.merge` did.
public struct MergeReport: Sendable {
    public var images = 0
    public var embeddings = 0
    public var maps = 0
    public var failures = 0
    /// Images found in more than one input with the same content and label.
    public var duplicates = 0
    /// Things worth a `warning:` line (missing shards, the same shard twice).
    public var warnings: [String] = []
}

/// Combines databases built by `tlearn extract --shard K/N` into one.
///
/// Every input must hold the same backbones (weights hash, alpha, input size, preprocessing,
/// dim), the same views, maps of the same views (all or none: `extract --maps` on an input without
/// them computes only the maps) and the same split percentages. An image in two inputs must have the same
/// content and label. Images are written in path order and splits recomputed over the merged set,
/// so the result holds what one extraction of the whole dataset would.
public enum ShardMerge {
    struct Input {
        let path: String
        let db: Connection
        let backbones: [(id: Int64, key: BackboneKey)]
        let views: Set<String>
        /// Like `views`, for the maps table (empty for a version-1 database).
        let mapViews: Set<String>
        let hasMapTables: Bool
        let val: String?
        let test: String?
        let shard: String?
        let root: String?
        let imageCount: Int
    }

    struct Image {
        let label: String
        let sha256: String
        let bytes: Int64
        let width: SQLValue
        let height: SQLValue
        let source: Int
        let sourceID: Int64
    }

    /// Merges `inputs` into `output`, which must be new or empty; holds `output`'s writer lock.
    public static func merge(into output: String, from inputs: [String]) throws -> MergeReport {
        guard !inputs.isEmpty else { throw StoreError.invalid("merge needs at least one input database") }
        var report = MergeReport()
        let opened = try inputs.map(openInput)
        try checkCompatible(opened, report: &report)

        // Images by path across inputs; the first input holding a path supplies its vectors.
        var images: [String: Image] = [:]
        var failures: [String: (reason: String, message: String, at: String)] = [:]
        for (n, input) in opened.enumerated() {
            for r in try input.db.rows(
                "SELECT i.id, i.path, c.name, i.sha256, i.bytes, i.width, i.height FROM images i JOIN classes c ON c.id = i.class_id"
            ) {
                guard let p = r[1].string, let label = r[2].string, let sha = r[3].string else { continue }
                if let seen = images[p] {
                    let other = opened[seen.source].path
                    if seen.sha256 != sha {
                        throw StoreError.invalid(
                            "cannot merge: \(p) has different content in \(other) and \(input.path) (sha256 \(seen.sha256.prefix(12)) vs \(sha.prefix(12)))"
                        )
                    }
                    if seen.label != label {
                        throw StoreError.invalid(
                            "cannot merge: \(p) is labeled \(seen.label) in \(other) but \(label) in \(input.path)")
                    }
                    report.duplicates += 1
                    continue
                }
                images[p] = Image(
                    label: label, sha256: sha, bytes: r[4].int ?? 0, width: r[5], height: r[6], source: n,
                    sourceID: r[0].int ?? 0)
            }
            for r in try input.db.rows("SELECT path, reason, message, at FROM failures") {
                guard let p = r[0].string, failures[p] == nil else { continue }
                failures[p] = (r[1].string ?? "", r[2].string ?? "", r[3].string ?? "")
            }
        }

        let lock = try WriterLock(databasePath: output)
        defer { withExtendedLifetime(lock) {} }
        let first = opened[0]
        let policy = try SplitPolicy(
            valPercent: first.val.flatMap(Double.init) ?? 10, testPercent: first.test.flatMap(Double.init) ?? 10)
        let store = try EmbeddingStore(path: output, policy: policy)
        let db = store.db
        let existing =
            try db.scalar(
                "SELECT (SELECT count(*) FROM images) + (SELECT count(*) FROM failures) + (SELECT count(*) FROM backbones)"
            )?.int ?? 0
        if existing > 0 {
            throw StoreError.invalid("cannot merge into \(output): it already holds rows; merge into a new file")
        }

        try db.transaction {
            var backboneIDs: [BackboneKey: Int64] = [:]
            for b in first.backbones { backboneIDs[b.key] = try store.backboneID(b.key) }
            var classIDs: [String: Int64] = [:]
            for label in Set(images.values.map(\.label)).sorted() {
                try db.run("INSERT INTO classes(name) VALUES (?1)", [.text(label)])
                classIDs[label] = db.lastInsertRowID
            }
            // Image ids in path order, whatever order the shards finished in.
            var newIDs: [[Int64: Int64]] = Array(repeating: [:], count: opened.count)
            let insertImage = try db.prepare(
                "INSERT INTO images(path, class_id, sha256, bytes, width, height, split) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            )
            for (p, image) in images.sorted(by: { $0.key < $1.key }) {
                insertImage.reset()
                try insertImage.bind([
                    .text(p), .integer(classIDs[image.label]!), .text(image.sha256), .integer(image.bytes),
                    image.width, image.height, .text(policy.baseSplit(PathHash(path: p)).rawValue),
                ])
                while try insertImage.step() {}
                newIDs[image.source][image.sourceID] = db.lastInsertRowID
            }
            report.images = images.count
            let insertVector = try db.prepare(
                "INSERT INTO embeddings(image_id, backbone_id, view, vector) VALUES (?1, ?2, ?3, ?4)")
            let insertMap = try db.prepare("INSERT INTO maps(image_id, backbone_id, view, map) VALUES (?1, ?2, ?3, ?4)")
            for (n, input) in opened.enumerated() {
                let backboneMap = Dictionary(
                    uniqueKeysWithValues: input.backbones.map { ($0.id, backboneIDs[$0.key]!) })
                let rows = try input.db.prepare(
                    "SELECT image_id, backbone_id, view, vector FROM embeddings ORDER BY image_id, backbone_id, view")
                while try rows.step() {
                    guard let image = newIDs[n][rows.int(0)], let backbone = backboneMap[rows.int(1)] else { continue }
                    insertVector.reset()
                    try insertVector.bind([.integer(image), .integer(backbone), .text(rows.text(2) ?? "orig")])
                    try insertVector.bindBlob(rows.blob(3), at: 4)
                    while try insertVector.step() {}
                    report.embeddings += 1
                }
                guard input.hasMapTables else { continue }
                let maps = try input.db.prepare(
                    "SELECT image_id, backbone_id, view, map FROM maps ORDER BY image_id, backbone_id, view")
                while try maps.step() {
                    guard let image = newIDs[n][maps.int(0)], let backbone = backboneMap[maps.int(1)] else { continue }
                    insertMap.reset()
                    try insertMap.bind([.integer(image), .integer(backbone), .text(maps.text(2) ?? "orig")])
                    try insertMap.bindBlob(maps.blob(3), at: 4)
                    while try insertMap.step() {}
                    report.maps += 1
                }
            }
            // Each backbone's top from the first input that has it (extractions of one backbone write the same one).
            for b in first.backbones {
                for input in opened where input.hasMapTables {
                    guard let id = input.backbones.first(where: { $0.key == b.key })?.id,
                        let top = try BackboneTop.load(input.db, backbone: id)
                    else { continue }
                    try top.write(db, backbone: backboneIDs[b.key]!)
                    break
                }
            }
            for (p, f) in failures.sorted(by: { $0.key < $1.key }) where images[p] == nil {
                try db.run(
                    "INSERT INTO failures(path, reason, message, at) VALUES (?1, ?2, ?3, ?4)",
                    [.text(p), .text(f.reason), .text(f.message), .text(f.at)])
                report.failures += 1
            }
            if let root = first.root, opened.allSatisfy({ $0.root == root }) { try store.setMeta("root", root) }
            try store.setMeta("val_percent", "\(policy.valPercent)")
            try store.setMeta("test_percent", "\(policy.testPercent)")
        }
        try store.resplitAll()
        return report
    }

    static func openInput(_ path: String) throws -> Input {
        let db = try EmbeddingStore.open(path, readOnly: true)
        let backbones = try EmbeddingStore.backbones(db)
        let views = Set(
            try db.rows(
                """
                SELECT DISTINCT b.weights_sha256 || ' ' || b.input_size || ' ' || b.preprocessing || ' ' || e.view
                FROM embeddings e JOIN backbones b ON b.id = e.backbone_id
                """
            ).compactMap { $0[0].string })
        let hasMaps = try hasMapTables(db)
        let mapViews =
            hasMaps
            ? Set(
                try db.rows(
                    """
                    SELECT DISTINCT b.weights_sha256 || ' ' || b.input_size || ' ' || b.preprocessing || ' ' || m.view
                    FROM maps m JOIN backbones b ON b.id = m.backbone_id
                    """
                ).compactMap { $0[0].string }) : []
        func meta(_ key: String) throws -> String? {
            try db.scalar("SELECT value FROM meta WHERE key = ?1", [.text(key)])?.string
        }
        return Input(
            path: path, db: db, backbones: backbones, views: views, mapViews: mapViews, hasMapTables: hasMaps,
            val: try meta("val_percent"), test: try meta("test_percent"),
            shard: try meta("shard"), root: try meta("root"),
            imageCount: Int(try db.scalar("SELECT count(*) FROM images")?.int ?? 0))
    }

    static func checkCompatible(_ inputs: [Input], report: inout MergeReport) throws {
        let first = inputs[0]
        let firstKeys = Set(first.backbones.map(\.key))
        for input in inputs.dropFirst() {
            let keys = Set(input.backbones.map(\.key))
            if keys != firstKeys {
                // An input with no backbone at all is an empty database, not an exotic backbone.
                let a =
                    first.backbones.isEmpty ? "no vectors" : first.backbones.map { "\($0.key)" }.joined(separator: "; ")
                let b =
                    input.backbones.isEmpty ? "no vectors" : input.backbones.map { "\($0.key)" }.joined(separator: "; ")
                throw StoreError.invalid(
                    "cannot merge: \(input.path) was extracted with a different backbone than \(first.path): [\(b)] vs [\(a)]"
                )
            }
            func percent(_ s: String?) -> Double { s.flatMap(Double.init) ?? 10 }
            if percent(input.val) != percent(first.val) || percent(input.test) != percent(first.test) {
                throw StoreError.invalid(
                    "cannot merge: \(input.path) splits val \(percent(input.val))% test \(percent(input.test))% but \(first.path) val \(percent(first.val))% test \(percent(first.test))%"
                )
            }
        }
        let withVectors = inputs.filter { !$0.views.isEmpty }
        if let reference = withVectors.first {
            for input in withVectors where input.views != reference.views {
                let a = Set(reference.views.map { String($0.split(separator: " ").last ?? "") }).sorted().joined(
                    separator: ",")
                let b = Set(input.views.map { String($0.split(separator: " ").last ?? "") }).sorted().joined(
                    separator: ",")
                throw StoreError.invalid("cannot merge: \(input.path) has views \(b) but \(reference.path) has \(a)")
            }
            // A merge of inputs with and without maps would hold maps of some images only, which no one
            // extraction makes; the input without them gets them cheaply (`extract --maps` computes only the maps).
            for input in withVectors where input.mapViews != reference.mapViews {
                func describe(_ views: Set<String>) -> String {
                    views.isEmpty
                        ? "no maps"
                        : "maps of views "
                            + Set(views.map { String($0.split(separator: " ").last ?? "") }).sorted().joined(
                                separator: ",")
                }
                let without = input.mapViews.isEmpty ? input.path : reference.mapViews.isEmpty ? reference.path : nil
                throw StoreError.invalid(
                    "cannot merge: \(input.path) has \(describe(input.mapViews)) but \(reference.path) has \(describe(reference.mapViews))"
                        + (without.map { ": run `tlearn extract --maps` on \($0) first (it computes only the maps)" }
                            ?? ""))
            }
        }
        // Shards: all K/N with one N; say which are absent or doubled.
        let shards = inputs.compactMap { input -> (k: Int, n: Int, path: String)? in
            guard let s = input.shard else { return nil }
            let parts = s.split(separator: "/").compactMap { Int($0) }
            return parts.count == 2 ? (parts[0], parts[1], input.path) : nil
        }
        if let n = shards.first?.n {
            if let odd = shards.first(where: { $0.n != n }) {
                throw StoreError.invalid(
                    "cannot merge: \(odd.path) is shard \(odd.k)/\(odd.n) but \(shards[0].path) is shard \(shards[0].k)/\(n)"
                )
            }
            let ks = shards.map(\.k)
            let absent = (1...n).filter { !ks.contains($0) }
            if !absent.isEmpty {
                report.warnings.append(
                    "shard\(absent.count == 1 ? "" : "s") \(absent.map(String.init).joined(separator: ", ")) of \(n) not among the inputs: the merged database lacks their images"
                )
            }
            let doubled = Set(ks.filter { k in ks.filter { $0 == k }.count > 1 })
            for k in doubled.sorted() { report.warnings.append("shard \(k)/\(n) given more than once") }
        }
    }
}
