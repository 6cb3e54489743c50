import Foundation
import TestSupport
import XCTest

@testable import Store

final class ExportCommandTests: XCTestCase {
    var dir: URL!
    var path: String { dir.appendingPathComponent("t.sqlite").path }
    var run: Int64 = 0

    override func setUpWithError() throws {
        dir = try makeTempDirectory()
        let (s, run) = try SyntheticDatabase.small(at: path, dim: 8)
        self.run = run
        // A path that needs CSV quoting.
        try s.db.run("UPDATE images SET path = 'roses/a, \"b\".jpg' WHERE id = 5")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// The stored vectors in image-id order, read back with plain SQL.
    func storedVectors() throws -> [[UInt8]] {
        try Database.open(path, readOnly: true).rows("SELECT vector FROM embeddings ORDER BY image_id").map {
            guard case .blob(let b) = $0[0] else { throw CocoaError(.fileReadCorruptFile) }
            return b
        }
    }

    func testNpyHasAVersion1HeaderAndTheRawVectors() throws {
        let out = dir.appendingPathComponent("npy")
        let r = try runTool(["export", "--db", path, "--format", "npy", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let bytes = [UInt8](try Data(contentsOf: out.appendingPathComponent("vectors.npy")))
        XCTAssertEqual(Array(bytes[0..<6]), [0x93] + Array("NUMPY".utf8), "magic")
        XCTAssertEqual(Array(bytes[6..<8]), [1, 0], "version 1.0")
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        let dataStart = 10 + headerLength
        XCTAssertEqual(dataStart % 64, 0, "data aligned to 64 bytes as numpy writes it")
        let header = String(decoding: bytes[10..<dataStart], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (12, 8), }"), header)
        XCTAssertTrue(header.hasSuffix("\n"))
        XCTAssertEqual(
            header.dropLast().trimmingCharacters(in: .whitespaces),
            "{'descr': '<f4', 'fortran_order': False, 'shape': (12, 8), }")
        XCTAssertEqual(
            Array(bytes[dataStart...]), try storedVectors().flatMap { $0 }, "row i is the BLOB of the i-th image by id")
        let meta = try String(contentsOf: out.appendingPathComponent("meta.csv"), encoding: .utf8)
        let lines = meta.components(separatedBy: "\r\n")
        XCTAssertEqual(lines[0], "image_id,path,label,split")
        XCTAssertEqual(lines[1], "1,daisy/0.jpg,daisy,train")
        XCTAssertEqual(lines[5], #"5,"roses/a, ""b"".jpg",roses,train"#)
        XCTAssertEqual(lines.count, 14, "header, 12 rows, empty after the last CRLF")
    }

    func testCSVVectorsReadBackToTheSameFloats() throws {
        let out = dir.appendingPathComponent("csv")
        let r = try runTool(["export", "--db", path, "--format", "csv", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try String(contentsOf: out.appendingPathComponent("vectors.csv"), encoding: .utf8).components(
            separatedBy: "\r\n")
        XCTAssertEqual(lines[0], "x0,x1,x2,x3,x4,x5,x6,x7")
        for (line, stored) in zip(lines.dropFirst(), try storedVectors()) {
            let values = line.split(separator: ",").map { Float(String($0))! }
            var bytes: [UInt8] = []
            for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
            XCTAssertEqual(bytes, stored)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("meta.csv").path))
    }

    func testHeadJSONReproducesHeadPredict() throws {
        let file = dir.appendingPathComponent("head.json")
        let r = try runTool(["export", "\(run)", "--db", path, "--out", file.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        let classes = try XCTUnwrap(doc["classes"] as? [String])
        XCTAssertEqual(classes, ["daisy", "roses", "tulips"])
        XCTAssertEqual(doc["dim"] as? Int, 8)
        let w = try XCTUnwrap(doc["W"] as? [[Double]])
        let b = try XCTUnwrap(doc["b"] as? [Double])
        XCTAssertEqual(w.count, 8)
        XCTAssertTrue(w.allSatisfy { $0.count == 3 })
        XCTAssertEqual(b.map(Float.init), [0.1, 0, -0.1])
        let backbone = try XCTUnwrap(doc["backbone"] as? [String: Any])
        XCTAssertEqual(backbone["weights_sha256"] as? String, "abc123")
        XCTAssertEqual(backbone["input_size"] as? Int, 224)
        XCTAssertEqual(backbone["alpha"] as? Double, 1.0)
        XCTAssertEqual(backbone["preprocessing"] as? String, "pillow-bilinear;x/127.5-1")
        XCTAssertEqual(backbone["dim"] as? Int, 8)
        XCTAssertEqual((doc["config"] as? [String: Any])?["epochs"] as? Int, 3)
        // logits = x W + b from the JSON alone gives the same class as head_predict.
        let q = try runTool([
            "query", "--db", path, "--json", "--param", "\(run)",
            "SELECT vector, head_predict(?1, vector) AS predicted FROM embeddings ORDER BY image_id",
        ])
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.count, 12)
        for row in rows {
            let x = try XCTUnwrap(row["vector"] as? [Double])
            let logits = (0..<3).map { j in (0..<8).reduce(Double(Float(b[j]))) { $0 + x[$1] * Double(Float(w[$1][j])) }
            }
            let best = logits.indices.max { logits[$0] < logits[$1] }!
            XCTAssertEqual(classes[best], row["predicted"] as? String)
        }
    }

    func testDamagedStoredConfigIsAnErrorNotBrokenJSON() throws {
        try Database.open(path).run("UPDATE runs SET config = '{' WHERE id = ?1", [.integer(run)])
        let out = dir.appendingPathComponent("head.json").path
        let result = try runTool(["export", "\(run)", "--db", path, "--out", out])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("run \(run): config is not a JSON object"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testUnknownRunErrorStaysShortWithManyRuns() throws {
        let db = try Database.open(path)
        for _ in 0..<14 {
            try db.run(
                "INSERT INTO runs(backbone_id, config, seed, split_fingerprint, classes, dim, head, metrics, seconds) "
                    + "SELECT backbone_id, config, seed, split_fingerprint, classes, dim, head, metrics, seconds FROM runs WHERE id = ?1",
                [.integer(run)])
        }
        let ids = try db.rows("SELECT id FROM runs ORDER BY id").compactMap { $0[0].int }.map(String.init)
        XCTAssertEqual(ids.count, 15)
        let result = try runTool(["export", "999", "--db", path, "--out", dir.appendingPathComponent("h.json").path])
        let expected =
            "has no run 999 (runs: \(ids.prefix(5).joined(separator: ", ")), …, \(ids.suffix(5).joined(separator: ", ")))"
        XCTAssertTrue(result.stderr.contains(expected), result.stderr)
    }

    func testBadRequestsSayWhatIsWrong() throws {
        let out = dir.appendingPathComponent("x").path
        XCTAssertTrue(try runTool(["export", "--db", path, "--out", out]).stderr.contains("give --format npy|csv"))
        XCTAssertTrue(
            try runTool(["export", "--db", path, "--format", "parquet", "--out", out]).stderr.contains(
                "--format must be npy or csv, not parquet"))
        XCTAssertTrue(
            try runTool(["export", "42", "--db", path, "--out", out]).stderr.contains("has no run 42 (runs: \(run))"))
        XCTAssertTrue(
            try runTool(["export", "1", "--db", path, "--format", "npy", "--out", out]).stderr.contains(
                "--format is for vectors"))
        XCTAssertTrue(
            try runTool(["export", "1", "--db", path, "--out", dir.appendingPathComponent("no/such/head.json").path])
                .stderr.contains("no directory"))
        XCTAssertTrue(
            try runTool(["export", "--db", path, "--format", "npy", "--out", path]).stderr.contains(
                "is a file; vectors go to a directory"))
        let noFlips = try runTool(["export", "--db", path, "--format", "npy", "--view", "hflip", "--out", out])
        XCTAssertEqual(noFlips.status, 1)
        XCTAssertTrue(noFlips.stderr.contains("has no hflip vectors for backbone"), noFlips.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        // A folder as the head's --out was a multi-line NSError dump.
        let folder = try runTool(["export", "\(run)", "--db", path, "--out", dir.path])
        XCTAssertEqual(folder.status, 64)
        XCTAssertTrue(
            folder.stderr.hasPrefix("error: --out \(dir.path) is a directory; a run's head goes to a JSON file"),
            folder.stderr)
    }
}
