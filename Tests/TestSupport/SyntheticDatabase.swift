import Store

/// A tlearn database filled with plain INSERTs that follow schema.sql, independently of the code
/// under test.
public final class SyntheticDatabase {
    public let path: String
    public let db: Connection

    /// Opens `path` with `Database.open`, or uses `connection` (e.g. one with the vector functions).
    public init(at path: String, connection: Connection? = nil) throws {
        self.path = path
        db = try connection ?? Database.open(path)
    }

    public func addClasses(_ names: [String]) throws {
        for n in names { try db.run("INSERT INTO classes(name) VALUES (?1)", [.text(n)]) }
    }

    public func addBackbone(dim: Int, sha: String = "abc123", input: Int = 224) throws -> Int64 {
        try db.run(
            """
            INSERT INTO backbones(weights_sha256, alpha, input_size, preprocessing, dim, weights_name)
            VALUES (?1, 1.0, ?2, 'pillow-bilinear;x/127.5-1', ?3, 'mobilenet.h5')
            """, [.text(sha), .integer(Int64(input)), .integer(Int64(dim))])
        return db.lastInsertRowID
    }

    @discardableResult
    public func addImage(
        path: String, className: String, split: String, vector: [Float]?, backbone: Int64, view: String = "orig"
    ) throws -> Int64 {
        try db.run(
            """
            INSERT INTO images(path, class_id, sha256, bytes, split)
            VALUES (?1, (SELECT id FROM classes WHERE name = ?2), 'sha-' || ?1, 1000, ?3)
            """, [.text(path), .text(className), .text(split)])
        let id = db.lastInsertRowID
        if let vector {
            try db.run(
                "INSERT INTO embeddings(image_id, backbone_id, view, vector) VALUES (?1, ?2, ?3, ?4)",
                [.integer(id), .integer(backbone), .text(view), blob(vector)])
        }
        return id
    }

    /// A run whose head is W (dim x classes, row-major) then b.
    public func addRun(backbone: Int64, classes: [String], dim: Int, w: [Float], b: [Float]) throws -> Int64 {
        let json = "[" + classes.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        try db.run(
            """
            INSERT INTO runs(backbone_id, config, seed, split_fingerprint, classes, dim, head, metrics, seconds, val_accuracy)
            VALUES (?1, '{"lr":0.01,"epochs":3}', 7, 'fp', ?2, ?3, ?4, '{}', 1.5, 0.5)
            """, [.integer(backbone), .text(json), .integer(Int64(dim)), blob(w + b)])
        return db.lastInsertRowID
    }
}
