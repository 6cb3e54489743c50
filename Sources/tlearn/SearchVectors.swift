import Store
import VectorSQL

/// The vectors of one backbone and view for similar, duplicates and export: the memory-mapped
/// matrix file beside the database when it can be used (`MatrixFile`), else one plain load from
/// SQLite. Open it inside a read transaction (`readTransaction`) so the paths, labels and splits
/// read afterwards belong to the same state of the database as the vectors.
struct SearchVectors {
    let search: CosineSearch
    /// The plain load, which also holds every row's path, label and split.
    let loaded: VectorMatrix?
    let mapped: MappedMatrix?
    let dim: Int

    var count: Int { search.count }

    static func open(_ db: Connection, database: String, backbone: Int64, view: String) throws -> SearchVectors {
        if let m = try MatrixFile.open(
            db, database: database, backbone: backbone, view: view, rowInverseNorm: CosineSearch.inverseNorm)
        {
            return SearchVectors(search: CosineSearch(m), loaded: nil, mapped: m, dim: m.dim)
        }
        let m = try VectorMatrix.load(db, backbone: backbone, view: view)
        return SearchVectors(search: CosineSearch(m), loaded: m, mapped: nil, dim: m.dim)
    }

    func imageID(_ row: Int) -> Int64 { search.imageID(row) }

    /// The row of `imageID`, if it has a vector here.
    func row(ofImage imageID: Int64) -> Int? { loaded?.row(ofImage: imageID) ?? mapped?.row(ofImage: imageID) }

    /// Row `i` as a copy.
    func vector(_ i: Int) -> [Float] { loaded?.vector(i) ?? mapped!.vector(i) }

    /// Path, label and split of each of `rows`.
    func describe(_ rows: [Int], _ db: Connection) throws -> [Int: (path: String, label: String, split: String)] {
        var out: [Int: (path: String, label: String, split: String)] = [:]
        if let loaded {
            for r in rows { out[r] = (loaded.paths[r], loaded.labels[r], loaded.splits[r]) }
            return out
        }
        let statement = try db.prepare(
            "SELECT i.path, c.name, i.split FROM images i JOIN classes c ON c.id = i.class_id WHERE i.id = ?1")
        for r in Set(rows) {
            statement.reset()
            try statement.bind([.integer(imageID(r))])
            guard try statement.step() else {
                throw StoreError.invalid("\(db.path): image \(imageID(r)) vanished while reading")
            }
            out[r] = (statement.text(0) ?? "", statement.text(1) ?? "", statement.text(2) ?? "")
        }
        return out
    }

    /// Every row's split as a small code (train 0, val 1, test 2, anything else 3), in row order.
    func splitCodes(_ db: Connection) throws -> [UInt8] {
        func code(_ s: String) -> UInt8 { s == "train" ? 0 : s == "val" ? 1 : s == "test" ? 2 : 3 }
        if let loaded { return loaded.splits.map(code) }
        var out = [UInt8](repeating: 3, count: count)
        // Both in increasing image id: one merge pass, no per-row lookups.
        let statement = try db.prepare("SELECT id, split FROM images ORDER BY id")
        var r = 0
        while r < count, try statement.step() {
            let id = statement.int(0)
            while r < count && imageID(r) < id { r += 1 }
            if r < count && imageID(r) == id {
                out[r] = code(statement.text(1) ?? "")
                r += 1
            }
        }
        return out
    }

    /// Calls `body` with each row's (image id, path, label, split), in row order.
    func forEachRow(_ db: Connection, _ body: (Int64, String, String, String) throws -> Void) throws {
        try SearchVectorsRows(loaded: loaded, mapped: mapped).forEachRow(db, body)
    }
}

/// The rows of a plain load or of a mapped matrix, for commands that need no search (export).
struct SearchVectorsRows {
    let loaded: VectorMatrix?
    let mapped: MappedMatrix?

    var count: Int { loaded?.count ?? mapped!.count }
    func imageID(_ i: Int) -> Int64 { loaded?.imageIDs[i] ?? mapped!.imageIDs[i] }

    /// Calls `body` with each row's (image id, path, label, split), in row order, without holding
    /// them all in memory when the matrix is mapped.
    func forEachRow(_ db: Connection, _ body: (Int64, String, String, String) throws -> Void) throws {
        if let loaded {
            for i in 0..<loaded.count {
                try body(loaded.imageIDs[i], loaded.paths[i], loaded.labels[i], loaded.splits[i])
            }
            return
        }
        let statement = try db.prepare(
            """
            SELECT i.id, i.path, c.name, i.split FROM images i JOIN classes c ON c.id = i.class_id
            JOIN embeddings e ON e.image_id = i.id AND e.backbone_id = ?1 AND e.view = ?2 ORDER BY i.id
            """, [.integer(mapped!.backbone), .text(mapped!.view)])
        var r = 0
        while try statement.step() {
            guard r < count, statement.int(0) == imageID(r) else {
                throw StoreError.invalid(
                    "\(db.path): the image rows do not match the vectors of \(mapped!.path); delete that file and retry"
                )
            }
            try body(statement.int(0), statement.text(1) ?? "", statement.text(2) ?? "", statement.text(3) ?? "")
            r += 1
        }
        guard r == count else {
            throw StoreError.invalid("\(db.path): \(r) image rows for \(count) vectors in \(mapped!.path)")
        }
    }
}

/// Runs `body` inside one read transaction (a consistent snapshot under WAL).
func readTransaction<T>(_ db: Connection, _ body: () throws -> T) throws -> T {
    try db.execute("BEGIN")
    defer { try? db.execute("COMMIT") }
    return try body()
}
