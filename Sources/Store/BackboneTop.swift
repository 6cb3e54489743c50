import Formats

/// One row of `backbone_tops`: the shape of a backbone's maps and its Conv_1 (Conv_1_bn folded in),
/// which turns a map into the embedding (ReLU6, then the mean over pixels). The one reader and writer
/// of that row; the floats use the vector format (`VectorBlob`).
public struct BackboneTop: Sendable, Equatable {
    /// The maps' shape (block_16's output).
    public let map: MapShape
    /// map.channels x dim, row-major (Keras's (1, 1, channels, dim)).
    public let kernel: [Float]
    /// dim values.
    public let bias: [Float]

    /// Embedding width.
    public var dim: Int { bias.count }

    /// A top for maps of `map`'s shape; kernel must hold map.channels x bias.count floats.
    public init(map: MapShape, kernel: [Float], bias: [Float]) {
        precondition(
            !bias.isEmpty && kernel.count == map.channels * bias.count,
            "BackboneTop: kernel of \(kernel.count) floats and bias of \(bias.count) for \(map) maps")
        self.map = map
        self.kernel = kernel
        self.bias = bias
    }

    /// The `conv1` BLOB: kernel then bias.
    public var blob: [UInt8] { VectorBlob.bytes(kernel + bias) }

    /// Stores the top of `backbone` (replacing a different one; an identical row is left alone).
    public func write(_ db: Connection, backbone: Int64) throws {
        let s = try db.prepare(
            """
            INSERT INTO backbone_tops(backbone_id, map_height, map_width, map_channels, conv1) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT(backbone_id) DO UPDATE SET map_height = excluded.map_height, map_width = excluded.map_width,
                map_channels = excluded.map_channels, conv1 = excluded.conv1
            WHERE map_height IS NOT excluded.map_height OR map_width IS NOT excluded.map_width
                OR map_channels IS NOT excluded.map_channels OR conv1 IS NOT excluded.conv1
            """,
            [
                .integer(backbone), .integer(Int64(map.height)), .integer(Int64(map.width)),
                .integer(Int64(map.channels)),
            ])
        try blob.withUnsafeBytes { try s.bindBlob($0, at: 5) }
        while try s.step() {}
    }

    /// The top of `backbone`, or nil when it has none (no maps extracted, or a version-1 database).
    /// Throws when the stored row does not have the shape the backbone's dim implies.
    public static func load(_ db: Connection, backbone: Int64) throws -> BackboneTop? {
        guard try hasMapTables(db) else { return nil }
        let s = try db.prepare(
            """
            SELECT t.map_height, t.map_width, t.map_channels, t.conv1, b.dim
            FROM backbone_tops t JOIN backbones b ON b.id = t.backbone_id WHERE t.backbone_id = ?1
            """, [.integer(backbone)])
        guard try s.step() else { return nil }
        let (h, w, c, dim) = (Int(s.int(0)), Int(s.int(1)), Int(s.int(2)), Int(s.int(4)))
        let sides = [h, w, c, dim]
        guard sides.allSatisfy({ (1..<(1 << 16)).contains($0) }) else {
            throw StoreError.invalid(
                "\(db.path): backbone_tops row of backbone \(backbone) has maps \(h)x\(w)x\(c) and dim \(dim)")
        }
        let blob = s.blob(3)
        let expected = VectorBlob.stride * (c * dim + dim)
        guard blob.count == expected else {
            throw StoreError.invalid(
                "\(db.path): the conv1 BLOB of backbone \(backbone) is \(blob.count) bytes; "
                    + "\(c) channels x dim \(dim) + bias need \(expected)")
        }
        let floats = VectorBlob.floats(blob)
        return BackboneTop(
            map: MapShape(height: h, width: w, channels: c), kernel: Array(floats[..<(c * dim)]),
            bias: Array(floats[(c * dim)...]))
    }
}

/// Whether `db` has the maps tables (schema version 2 and later) (a version-1 database opened read-only has not).
func hasMapTables(_ db: Connection) throws -> Bool {
    try db.scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('maps', 'backbone_tops')")?.int
        == 2
}
