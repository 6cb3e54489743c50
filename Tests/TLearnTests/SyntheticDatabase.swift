import Foundation
import TestSupport

@testable import Store

/// A temporary directory removed by the caller.
func makeTempDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

extension SyntheticDatabase {
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
                    try s.addImage(
                        path: "\(name)/\(i).jpg", className: name, split: split, vector: v, backbone: backbone)
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
