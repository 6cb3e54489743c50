import Foundation
import TestSupport
import XCTest

@testable import Store

final class DuplicatesCommandTests: XCTestCase {
    var dir: URL!
    var path: String { dir.appendingPathComponent("t.sqlite").path }

    override func setUpWithError() throws {
        dir = try makeTempDirectory()
        let s = try SyntheticDatabase(at: path)
        try s.addClasses(["a", "b"])
        let backbone = try s.addBackbone(dim: 32)
        var rng = SplitMix(seed: 77)
        var vectors: [[Float]] = []
        try s.db.transaction {
            for i in 0..<120 {
                var v = rng.vector(32).map { abs($0) }  // ReLU-like: all positive, cosines around 0.75
                var split = ["train", "train", "val", "test"][i % 4]
                if i == 100 {
                    v = vectors[4].map { $0 * 1.001 + 0.0001 }
                    split = "test"
                }  // image 5 (train) re-appears in test
                if i == 101 {
                    v = vectors[8]
                    split = "train"
                }  // a duplicate within train
                vectors.append(v)
                try s.addImage(
                    path: "img\(i).jpg", className: i % 2 == 0 ? "a" : "b", split: split, vector: v, backbone: backbone)
            }
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testPlantedDuplicatesAreFoundAndTheCrossSplitOneIsALeak() throws {
        let r = try runTool(["duplicates", "--db", path, "--threshold", "0.999", "--csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = r.stdout.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        XCTAssertEqual(rows.map { "\($0[2])-\($0[6]) leak=\($0[1])" }, ["9-102 leak=0", "5-101 leak=1"])
        XCTAssertEqual(rows[0][0], "1.0")
        XCTAssertEqual(rows[1][5], "train")
        XCTAssertEqual(rows[1][9], "test")
        XCTAssertTrue(
            r.stderr.contains("2 pairs with cosine >= 0.999 among 120 images; 1 straddle splits (leaks)"), r.stderr)
        let leaks = try runTool(["duplicates", "--db", path, "--threshold", "0.999", "--leaks-only", "--csv"])
        XCTAssertEqual(leaks.stdout.split(separator: "\r\n").count, 2)
    }

    func testPairsEqualTheSQLSelfJoin() throws {
        for threshold in ["0.9", "0.8"] {
            let r = try runTool(["duplicates", "--db", path, "--threshold", threshold, "--csv"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let got = Set(
                r.stdout.split(separator: "\r\n").dropFirst().map { l -> String in
                    let f = l.split(separator: ",")
                    return "\(f[2]),\(f[6]),\(f[0])"
                })
            let q = try runTool([
                "query", "--db", path, "--csv", "--param", threshold,
                """
                SELECT a.image_id, b.image_id, vec_cosine(a.vector, b.vector)
                FROM embeddings a JOIN embeddings b ON a.image_id < b.image_id
                WHERE vec_cosine(a.vector, b.vector) >= ?1
                """,
            ])
            XCTAssertEqual(q.status, 0, q.stderr)
            let want = Set(q.stdout.split(separator: "\r\n").dropFirst().map(String.init))
            XCTAssertGreaterThan(want.count, 2, "threshold \(threshold) should find more than the planted pairs")
            XCTAssertEqual(got, want, "threshold \(threshold): pairs and cosines to the last digit")
        }
        let bad = try runTool(["duplicates", "--db", path, "--threshold", "1.5"])
        XCTAssertTrue(bad.stderr.contains("--threshold must be in (-1, 1]"), bad.stderr)
    }
}
