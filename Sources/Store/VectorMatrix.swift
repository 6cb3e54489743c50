import Formats

/// Every vector of one backbone and view, in one contiguous row-major matrix (row i = image i of
/// `imageIDs`, ordered by image id), with the image's path, label and split alongside.
public struct VectorMatrix: Sendable {
    public let backbone: Int64
    public let view: String
    public let dim: Int
    /// count x dim float32, row-major.
    public private(set) var values: [Float]
    public private(set) var imageIDs: [Int64] = []
    public private(set) var paths: [String] = []
    public private(set) var labels: [String] = []
    public private(set) var splits: [String] = []

    public var count: Int { imageIDs.count }

    /// Loads the `view` vectors of `backbone`; each BLOB must hold exactly the backbone's `dim` floats.
    public static func load(_ db: Connection, backbone: Int64, view: String = "orig") throws -> VectorMatrix {
        guard let dim = try db.scalar("SELECT dim FROM backbones WHERE id = ?1", [.integer(backbone)])?.int else {
            throw StoreError.invalid("\(db.path): no backbone with id \(backbone)")
        }
        guard dim > 0 else { throw StoreError.invalid("\(db.path): backbone \(backbone) has dim \(dim)") }
        let n =
            try db.scalar(
                "SELECT count(*) FROM embeddings WHERE backbone_id = ?1 AND view = ?2",
                [.integer(backbone), .text(view)])?.int ?? 0
        var m = VectorMatrix(backbone: backbone, view: view, dim: Int(dim), values: [])
        m.values.reserveCapacity(Int(n) * Int(dim))
        m.imageIDs.reserveCapacity(Int(n))
        // No ORDER BY: sorting would make SQLite copy every 5 KB BLOB through a temporary
        // B-tree. Rows come in rowid order and are put in image-id
        // order below, only if they are not already.
        let statement = try db.prepare(
            """
            SELECT e.image_id, i.path, c.name, i.split, e.vector
            FROM embeddings e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id
            WHERE e.backbone_id = ?1 AND e.view = ?2
            """, [.integer(backbone), .text(view)])
        let d = Int(dim)
        let bytesPerRow = VectorBlob.stride * d
        while try statement.step() {
            let blob = statement.blob(4)
            guard blob.count == bytesPerRow else {
                throw StoreError.invalid(
                    "\(db.path): the \(view) vector of image \(statement.int(0)) (\(statement.text(1) ?? "")) is \(blob.count) bytes; backbone \(backbone) has dim \(dim), so \(bytesPerRow) bytes"
                )
            }
            // SQLite's pointer need not be 4-byte aligned, so the bytes are copied, not bound.
            let start = m.values.count
            m.values.append(contentsOf: repeatElement(0, count: d))
            m.values.withUnsafeMutableBufferPointer { VectorBlob.copy(blob, into: $0.baseAddress! + start) }
            m.imageIDs.append(statement.int(0))
            m.paths.append(statement.text(1) ?? "")
            m.labels.append(statement.text(2) ?? "")
            m.splits.append(statement.text(3) ?? "")
        }
        m.sortByImageID()
        return m
    }

    /// Puts the rows in image-id order (a no-op when they already are, the usual case).
    private mutating func sortByImageID() {
        if zip(imageIDs, imageIDs.dropFirst()).allSatisfy({ $0 < $1 }) { return }
        let order = imageIDs.indices.sorted { imageIDs[$0] < imageIDs[$1] }
        var sorted = [Float]()
        sorted.reserveCapacity(values.count)
        for i in order { sorted.append(contentsOf: values[(i * dim)..<((i + 1) * dim)]) }
        values = sorted
        imageIDs = order.map { imageIDs[$0] }
        paths = order.map { paths[$0] }
        labels = order.map { labels[$0] }
        splits = order.map { splits[$0] }
    }

    /// The row of `imageID`, if it has a vector here.
    public func row(ofImage imageID: Int64) -> Int? {
        // imageIDs is sorted (ORDER BY image_id), so binary search.
        var lo = 0
        var hi = imageIDs.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if imageIDs[mid] < imageID { lo = mid + 1 } else { hi = mid }
        }
        return lo < imageIDs.count && imageIDs[lo] == imageID ? lo : nil
    }

    /// Row `i` as a copy.
    public func vector(_ i: Int) -> [Float] { Array(values[(i * dim)..<((i + 1) * dim)]) }
}

/// One row of the `backbones` table.
public struct BackboneInfo: Sendable, Equatable {
    public let id: Int64
    public let weightsSHA256: String
    public let alpha: Double
    public let inputSize: Int
    public let preprocessing: String
    public let dim: Int
    public let weightsName: String?
    /// How many vectors (all views) it has in `embeddings`.
    public let vectors: Int

    /// Every backbone of `db`, by id.
    public static func all(_ db: Connection) throws -> [BackboneInfo] {
        try db.rows(
            """
            SELECT b.id, b.weights_sha256, b.alpha, b.input_size, b.preprocessing, b.dim, b.weights_name,
                   (SELECT count(*) FROM embeddings e WHERE e.backbone_id = b.id)
            FROM backbones b ORDER BY b.id
            """
        ).map { r in
            BackboneInfo(
                id: r[0].int ?? 0, weightsSHA256: r[1].string ?? "", alpha: r[2].double ?? 0,
                inputSize: Int(r[3].int ?? 0),
                preprocessing: r[4].string ?? "", dim: Int(r[5].int ?? 0), weightsName: r[6].string,
                vectors: Int(r[7].int ?? 0))
        }
    }

    /// The backbone a command should use: `requested` if given (it must exist), else the only
    /// one with vectors; several is an error asking for `--backbone`.
    public static func choose(_ db: Connection, requested: Int64?) throws -> BackboneInfo {
        let all = try all(db)
        if let requested {
            guard let b = all.first(where: { $0.id == requested }) else {
                let ids = all.map { String($0.id) }.joined(separator: ", ")
                throw StoreError.invalid(
                    "\(db.path) has no backbone \(requested) (backbones: \(ids.isEmpty ? "none" : ids))")
            }
            return b
        }
        let used = all.filter { $0.vectors > 0 }
        switch used.count {
        case 0: throw StoreError.invalid("\(db.path) has no embeddings yet: run `tlearn extract` first")
        case 1: return used[0]
        default:
            let list = used.map(\.summary).joined(separator: "; ")
            throw StoreError.invalid(
                "\(db.path) holds vectors of \(used.count) backbones (\(list)): choose one with --backbone ID")
        }
    }

    /// `1 (mobilenet.h5, 224 px, 1837 vectors)`.
    public var summary: String {
        "\(id) (\(weightsName ?? String(weightsSHA256.prefix(12))), \(inputSize) px, \(preprocessing), \(vectors) vectors)"
    }
}
