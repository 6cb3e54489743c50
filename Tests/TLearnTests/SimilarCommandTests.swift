import Foundation
import TestSupport
import XCTest

@testable import Store

final class SimilarCommandTests: XCTestCase {
    var dir: URL!
    var path: String { dir.appendingPathComponent("t.sqlite").path }
    var vectors: [[Float]] = []
    var backbone: Int64 = 0
    var synthetic: SyntheticDatabase!

    override func setUpWithError() throws {
        dir = try makeTempDirectory()
        synthetic = try SyntheticDatabase(at: path)
        try synthetic.addClasses(["a", "b", "c"])
        backbone = try synthetic.addBackbone(dim: 24)
        var rng = SplitMix(seed: 21)
        try synthetic.db.transaction {
            for i in 0..<200 {
                var v = rng.vector(24)
                if i == 50 { v = vectors[10] }  // a tie for the query 10's neighbours
                vectors.append(v)
                try synthetic.addImage(
                    path: "c\(i % 3)/\(i).jpg", className: ["a", "b", "c"][i % 3],
                    split: ["train", "val", "test"][i % 3], vector: v, backbone: backbone)
            }
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func csvRows(_ text: String) -> [[String]] {
        text.split(separator: "\r\n").dropFirst().map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
    }

    func testSimilarEqualsBruteForceSQL() throws {
        for (id, k) in [(1, 10), (11, 5), (51, 3), (200, 7)] {
            let r = try runTool(["similar", "--db", path, "--id", "\(id)", "-k", "\(k)", "--csv"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let sql = """
                SELECT e.image_id, vec_cosine(e.vector, (SELECT vector FROM embeddings WHERE image_id = ?1)) AS c, i.path
                FROM embeddings e JOIN images i ON i.id = e.image_id
                WHERE e.image_id != ?1 ORDER BY c DESC, e.image_id LIMIT ?2
                """
            let q = try runTool(["query", "--db", path, "--csv", "--param", "\(id)", "--param", "\(k)", sql])
            XCTAssertEqual(q.status, 0, q.stderr)
            let got = csvRows(r.stdout)
            let want = csvRows(q.stdout)
            XCTAssertEqual(got.count, k)
            XCTAssertEqual(got.map { $0[0] }, (1...k).map(String.init), "ranks")
            XCTAssertEqual(got.map { $0[2] }, want.map { $0[0] }, "ids for query \(id)")
            XCTAssertEqual(got.map { $0[1] }, want.map { $0[1] }, "cosines to the last digit for query \(id)")
            XCTAssertEqual(got.map { $0[3] }, want.map { $0[2] }, "paths")
            // And against a cosine computed here in Double.
            for row in got {
                let j = Int(row[2])! - 1
                let q = vectors[id - 1]
                let ab = zip(q, vectors[j]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let aa = q.reduce(0.0) { $0 + Double($1) * Double($1) }
                let bb = vectors[j].reduce(0.0) { $0 + Double($1) * Double($1) }
                XCTAssertEqual(Double(row[1])!, ab / (aa * bb).squareRoot(), accuracy: 1e-12)
            }
        }
        let tie = csvRows(try runTool(["similar", "--db", path, "--id", "11", "-k", "1", "--csv"]).stdout)
        XCTAssertEqual(tie.first?[2], "51", "the copy of image 11 is its nearest neighbour")
        XCTAssertEqual(tie.first?[1], "1.0")
        XCTAssertEqual(tie.first?[4], "c")
        XCTAssertEqual(tie.first?[5], "test")
    }

    func testTableOutputAndErrors() throws {
        let r = try runTool(["similar", "--db", path, "--id", "11", "-k", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(
            lines.first?.split(separator: " ").map(String.init), ["rank", "cosine", "id", "path", "label", "split"])
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(
            try runTool(["similar", "--db", path, "--id", "999"]).stderr.contains("has no image with id 999"))
        XCTAssertTrue(try runTool(["similar", "--db", path]).stderr.contains("give either an IMAGE or --id N"))
        XCTAssertTrue(
            try runTool(["similar", "--db", path, "--id", "1", "-k", "0"]).stderr.contains("-k must be at least 1"))
        let imagePath = dir.appendingPathComponent("x.jpg").path
        _ = FileManager.default.createFile(atPath: imagePath, contents: Data([0xFF, 0xD8]))
        XCTAssertTrue(try runTool(["similar", "--db", path, imagePath]).stderr.contains("IMAGE needs --weights FILE"))
    }

    func testSeveralBackbonesNeedAChoice() throws {
        let second = try synthetic.addBackbone(dim: 4, sha: "other")
        try synthetic.db.run(
            "INSERT INTO embeddings(image_id, backbone_id, vector) VALUES (1, ?1, ?2), (2, ?1, ?3)",
            [.integer(second), blob([1, 0, 0, 0]), blob([1, 1, 0, 0])])
        let r = try runTool(["similar", "--db", path, "--id", "1"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("holds vectors of 2 backbones"), r.stderr)
        XCTAssertTrue(r.stderr.contains("choose one with --backbone ID"), r.stderr)
        let chosen = try runTool(["similar", "--db", path, "--id", "1", "--backbone", "\(second)", "--csv"])
        XCTAssertEqual(chosen.status, 0, chosen.stderr)
        XCTAssertEqual(csvRows(chosen.stdout).map { $0[2] }, ["2"])
        XCTAssertEqual(Double(csvRows(chosen.stdout)[0][1])!, 1 / 2.0.squareRoot(), accuracy: 1e-15)
        XCTAssertTrue(
            try runTool(["similar", "--db", path, "--id", "1", "--backbone", "9"]).stderr.contains("has no backbone 9"))
    }
}

/// `tlearn similar IMAGE --weights W`: the image is embedded with the backbone's network.
final class SimilarImageTests: XCTestCase {
    var dir: URL!
    var path: String { dir.appendingPathComponent("t.sqlite").path }
    let weights = repositoryRoot().appendingPathComponent("fixtures/weights/tiny_a035_keras3.h5").path
    let image = repositoryRoot().appendingPathComponent("fixtures/images/rgb_192x128.jpg").path

    override func setUpWithError() throws { dir = try makeTempDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testAnExtractedImageFindsItselfAtCosineExactlyOne() throws {
        // Embedded exactly as `tlearn extract` stored it: bit-identical vectors, cosine 1.0.
        let root = try goodFixtureTree(self)
        let extracted = try extractTool(root, path, ["--views", "orig,hflip"])
        XCTAssertEqual(extracted.status, 0, extracted.stderr)
        for name in ["dogs/rgb_37x23.jpg", "cats/rgb_64x48.jpg", "owls/rgba_30x20.png"] {
            for view in ["orig", "hflip"] {
                let r = try runTool([
                    "similar", "--db", path, root + "/" + name, "--weights", weights, "--view", view, "-k", "2",
                    "--csv",
                ])
                XCTAssertEqual(r.status, 0, r.stderr)
                let rows = r.stdout.split(separator: "\r\n").dropFirst().map {
                    $0.split(separator: ",").map(String.init)
                }
                XCTAssertEqual(rows.first?[3], name, "\(name) \(view)")
                XCTAssertEqual(rows.first?[1], "1.0", "\(name) \(view)")
                XCTAssertNotEqual(rows.last?[1], "1.0")
            }
        }
    }

    func testImageEmbeddingIsRecoveredThroughTheStandardBasis() throws {
        // With the basis vectors e_0 ... e_1279 stored, the cosines of the query with them are
        // its normalized components: all of them, listed with -k 1280.
        let s = try SyntheticDatabase(at: path)
        try s.addClasses(["basis"])
        let backbone = try s.addBackbone(dim: 1280, sha: try SHA256.hexOfFile(weights), input: 96)
        try s.db.run("UPDATE backbones SET alpha = 0.35, weights_name = 'tiny_a035_keras3.h5'")
        try s.db.transaction {
            for i in 0..<1280 {
                var e = [Float](repeating: 0, count: 1280)
                e[i] = 1
                try s.addImage(path: "e\(i)", className: "basis", split: "train", vector: e, backbone: backbone)
            }
        }
        let r = try runTool(["similar", "--db", path, image, "--weights", weights, "-k", "1280", "--csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let cosines = r.stdout.split(separator: "\r\n").dropFirst().map { Double($0.split(separator: ",")[1])! }
        XCTAssertEqual(cosines.count, 1280)
        XCTAssertTrue(cosines.allSatisfy { $0 >= 0 }, "average-pooled ReLU6 outputs are non-negative")
        XCTAssertEqual(cosines.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-9, "the components of a unit vector")
        XCTAssertGreaterThan(cosines[0], cosines[1279])
        XCTAssertEqual(
            try runTool(["similar", "--db", path, image, "--weights", weights, "-k", "1280", "--csv"]).stdout, r.stdout,
            "deterministic")
    }

    func testWeightsThatDidNotMakeTheVectorsAreRefused() throws {
        let s = try SyntheticDatabase(at: path)
        try s.addClasses(["a"])
        let backbone = try s.addBackbone(dim: 1280, sha: "0123456789abcdef", input: 96)
        try s.addImage(
            path: "a.jpg", className: "a", split: "train", vector: [Float](repeating: 1, count: 1280),
            backbone: backbone)
        let r = try runTool(["similar", "--db", path, image, "--weights", weights])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(
            r.stderr.contains("is not the weights file of backbone 1 (mobilenet.h5, SHA-256 0123456789ab…)"), r.stderr)
        try s.db.run("UPDATE backbones SET weights_sha256 = ?1, dim = 16", [.text(try SHA256.hexOfFile(weights))])
        try s.db.run("UPDATE embeddings SET vector = ?1", [blob([Float](repeating: 1, count: 16))])
        XCTAssertTrue(
            try runTool(["similar", "--db", path, image, "--weights", weights]).stderr.contains(
                "gives 1280-float embeddings; backbone 1 has 16"))
        try s.db.run("UPDATE backbones SET preprocessing = 'opencv-area;x/255'")
        XCTAssertTrue(
            try runTool(["similar", "--db", path, image, "--weights", weights]).stderr.contains(
                "was made with preprocessing 'opencv-area;x/255'"))
    }
}
