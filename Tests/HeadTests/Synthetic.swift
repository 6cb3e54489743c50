import Foundation
import XCTest

@testable import Head
@testable import Store

/// Synthetic vectors: class k is a Gaussian blob around a random centre, like embeddings
/// of distinct classes.
struct Synthetic {
    var dim: Int
    var classes: [String]
    var vectors: [[Float]] = []
    var labels: [Int] = []
    var splits: [Split] = []

    init(dim: Int, perClass: [Int], spread: Float = 0.5, seed: UInt64 = 1, classNames: [String]? = nil) {
        self.dim = dim
        classes = classNames ?? perClass.indices.map { "class\($0)" }
        var rng = SplitMix64(seed: seed)
        func gaussian() -> Float {  // Box-Muller
            let u = max(rng.unitFloat(), 1e-7)
            let v = rng.unitFloat()
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        let centres = perClass.indices.map { _ in (0..<dim).map { _ in 2 * gaussian() } }
        for (k, n) in perClass.enumerated() {
            for i in 0..<n {
                vectors.append(centres[k].map { $0 + spread * gaussian() })
                labels.append(k)
                splits.append(i % 10 == 8 ? .val : i % 10 == 9 ? .test : .train)
            }
        }
    }

    var trainingData: TrainingData {
        func part(_ p: Split) -> LabeledMatrix {
            let rows = splits.indices.filter { splits[$0] == p }
            return LabeledMatrix(x: rows.flatMap { vectors[$0] }, labels: rows.map { Int32(labels[$0]) }, width: dim)
        }
        return TrainingData(classes: classes, dim: dim, train: part(.train), val: part(.val), test: part(.test))
    }

    /// Writes everything into a fresh tlearn database (schema.sql) under backbone 1; with
    /// `hflip`, also a flipped view (the vector negated in its last coordinate).
    func write(to path: String, hflip: Bool = false, backboneID: Int64 = 1) throws -> Connection {
        let db = try Database.open(path)
        try db.transaction {
            try db.run(
                "INSERT OR IGNORE INTO backbones (id, weights_sha256, alpha, input_size, preprocessing, dim, weights_name) VALUES (?1, ?2, 1.0, 224, 'test', ?3, 'synthetic.h5')",
                [.integer(backboneID), .text("sha\(backboneID)"), .integer(Int64(dim))])
            for (k, name) in classes.enumerated() {
                try db.run(
                    "INSERT OR IGNORE INTO classes (id, name) VALUES (?1, ?2)", [.integer(Int64(k + 1)), .text(name)])
            }
            for (i, v) in vectors.enumerated() {
                let path = "\(classes[labels[i]])/img\(i).jpg"
                try db.run(
                    "INSERT OR IGNORE INTO images (id, path, class_id, sha256, bytes, split) VALUES (?1, ?2, ?3, 'x', 1, ?4)",
                    [.integer(Int64(i + 1)), .text(path), .integer(Int64(labels[i] + 1)), .text(splits[i].rawValue)])
                try db.run(
                    "INSERT INTO embeddings (image_id, backbone_id, view, vector) VALUES (?1, ?2, 'orig', ?3)",
                    [.integer(Int64(i + 1)), .integer(backboneID), .blob(v.withUnsafeBytes { Array($0) })])
                if hflip {
                    var f = v
                    f[dim - 1] = -f[dim - 1]
                    try db.run(
                        "INSERT INTO embeddings (image_id, backbone_id, view, vector) VALUES (?1, ?2, 'hflip', ?3)",
                        [.integer(Int64(i + 1)), .integer(backboneID), .blob(f.withUnsafeBytes { Array($0) })])
                }
            }
        }
        return db
    }
}

extension XCTestCase {
    /// A path in a fresh temporary directory that is removed when the test ends.
    func temporaryDatabasePath(_ name: String = "test.sqlite") -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-head-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.appendingPathComponent(name).path
    }
}
