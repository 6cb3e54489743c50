import Formats

/// Every stored map of one backbone (all views), decoded from float16 into one contiguous float32
/// matrix, with each row's image, view, split, label and path. Rows are in `EmbeddingSet.load`'s order
/// (image id, then view), so row i here and row i there are the same image and view when both tables
/// hold the same rows.
public struct MapMatrix: Sendable {
    public let backbone: Int64
    /// Shape of every map (the backbone's `backbone_tops` row).
    public let shape: MapShape
    /// count x shape.count floats, row-major; each row one map, NHWC.
    public let values: [Float]
    public let imageIDs: [Int64]
    public let views: [View]
    public let splits: [Split]
    /// Class names.
    public let labels: [String]
    public let paths: [String]

    public var count: Int { imageIDs.count }

    /// Loads every map of `backbone`; each BLOB must hold exactly one map of the backbone's shape.
    public static func load(_ db: Connection, backbone: Int64) throws -> MapMatrix {
        guard let top = try BackboneTop.load(db, backbone: backbone) else {
            throw StoreError.invalid(
                "\(db.path) has no maps of backbone \(backbone): run `tlearn extract --maps` (it computes only the maps)"
            )
        }
        let shape = top.map
        let width = shape.count
        let bytes = MapBlob.byteCount(shape)
        let capacity = Int(
            try db.scalar("SELECT count(*) FROM maps WHERE backbone_id = ?1", [.integer(backbone)])?.int ?? 0)
        try db.execute("PRAGMA mmap_size = 4294967296")
        // As in EmbeddingSet.load: `+m.backbone_id` makes SQLite walk the UNIQUE (image_id, backbone_id, view)
        // index, which yields this order without sorting the BLOBs.
        let s = try db.prepare(
            """
            SELECT m.image_id, i.split, c.name, m.view, i.path, m.map
            FROM maps m JOIN images i ON i.id = m.image_id JOIN classes c ON c.id = i.class_id
            WHERE +m.backbone_id = ?1 ORDER BY m.image_id, m.backbone_id, m.view
            """, [.integer(backbone)])
        var imageIDs: [Int64] = []
        var views: [View] = []
        var splits: [Split] = []
        var labels: [String] = []
        var paths: [String] = []
        var failure: StoreError?
        let values = try [Float](unsafeUninitializedCapacity: capacity * width) { buffer, initialized in
            var rows = 0
            while try s.step() {
                let path = s.text(4) ?? ""
                guard let split = Split(rawValue: s.text(1) ?? ""), let view = View(rawValue: s.text(3) ?? "") else {
                    failure = .invalid("\(db.path): image \(path) has an unknown split or view")
                    break
                }
                let blob = s.blob(5)
                guard blob.count == bytes else {
                    failure = .invalid(
                        "\(db.path): the \(view.rawValue) map of \(path) is \(blob.count) bytes; backbone \(backbone)'s "
                            + "maps are \(shape) float16, \(bytes) bytes")
                    break
                }
                guard rows < capacity else {
                    failure = .invalid("\(db.path) changed while its maps were read")
                    break
                }
                MapBlob.copy(blob, into: buffer.baseAddress! + rows * width)
                rows += 1
                initialized = rows * width
                imageIDs.append(s.int(0))
                splits.append(split)
                labels.append(s.text(2) ?? "")
                views.append(view)
                paths.append(path)
            }
        }
        if let failure { throw failure }
        return MapMatrix(
            backbone: backbone, shape: shape, values: values, imageIDs: imageIDs, views: views, splits: splits,
            labels: labels, paths: paths)
    }
}
