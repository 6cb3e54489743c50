import Foundation
import Store
import TestSupport

/// A temporary directory removed by the caller.
func makeTempDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A tlearn database filled with plain INSERTs that follow schema.sql.
final class SyntheticDatabase {
    let path: String
    let db: Connection

    init(at path: String) throws {
        self.path = path
        db = try Database.open(path)
    }

    func addClasses(_ names: [String]) throws {
        for n in names { try db.run("INSERT INTO classes(name) VALUES (?1)", [.text(n)]) }
    }

    func addBackbone(dim: Int, sha: String = "abc123", input: Int = 224) throws -> Int64 {
        try db.run("""
            INSERT INTO backbones(weights_sha256, alpha, input_size, preprocessing, dim, weights_name)
            VALUES (?1, 1.0, ?2, 'pillow-bilinear;x/127.5-1', ?3, 'mobilenet.h5')
            """, [.text(sha), .integer(Int64(input)), .integer(Int64(dim))])
        return db.lastInsertRowID
    }

    @discardableResult
    func addImage(path: String, className: String, split: String, vector: [Float]?, backbone: Int64, view: String = "orig") throws -> Int64 {
        try db.run("""
            INSERT INTO images(path, class_id, sha256, bytes, split)
            VALUES (?1, (SELECT id FROM classes WHERE name = ?2), 'sha-' || ?1, 1000, ?3)
            """, [.text(path), .text(className), .text(split)])
        let id = db.lastInsertRowID
        if let vector {
            try db.run("INSERT INTO embeddings(image_id, backbone_id, view, vector) VALUES (?1, ?2, ?3, ?4)",
                       [.integer(id), .integer(backbone), .text(view), blob(vector)])
        }
        return id
    }

    func addRun(backbone: Int64, classes: [String], dim: Int, w: [Float], b: [Float]) throws -> Int64 {
        let json = "[" + classes.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        try db.run("""
            INSERT INTO runs(backbone_id, config, seed, split_fingerprint, classes, dim, head, metrics, seconds, val_accuracy)
            VALUES (?1, '{"lr":0.01,"epochs":3}', 7, 'fp', ?2, ?3, ?4, '{}', 1.5, 0.5)
            """, [.integer(backbone), .text(json), .integer(Int64(dim)), blob(w + b)])
        return db.lastInsertRowID
    }

    /// A small flowers-like set: 3 classes x 4 images, train/val/test, dim 8, one run.
    static func small(at path: String, dim: Int = 8, seed: UInt64 = 1) throws -> (SyntheticDatabase, run: Int64) {
        let s = try SyntheticDatabase(at: path)
        let classes = ["daisy", "roses", "tulips"]
        try s.addClasses(classes)
        let backbone = try s.addBackbone(dim: dim)
        var rng = SplitMix(seed: seed)
        try s.db.transaction {
            for (c, name) in classes.enumerated() {
                for i in 0..<4 {
                    // Class c has a large component c, so the head below separates them.
                    var v = rng.vector(dim).map { abs($0) }
                    v[c] += 3
                    let split = ["train", "train", "val", "test"][i]
                    try s.addImage(path: "\(name)/\(i).jpg", className: name, split: split, vector: v, backbone: backbone)
                }
            }
        }
        var w = [Float](repeating: 0, count: dim * classes.count)
        for c in classes.indices { w[c * classes.count + c] = 1 }
        // The bias makes tulips/3.jpg-like vectors misclassified sometimes; keep it small.
        let run = try s.addRun(backbone: backbone, classes: classes, dim: dim, w: w, b: [0.1, 0, -0.1])
        return (s, run)
    }
}
