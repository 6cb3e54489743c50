import Foundation
import TestSupport
import XCTest

@testable import Store

/// Runs every ```sql example of docs/sql.md exactly as written and checks its result.
final class SQLDocsTests: XCTestCase {
    var dir: URL!
    var path: String { dir.appendingPathComponent("t.sqlite").path }
    var run: Int64 = 0

    override func setUpWithError() throws {
        dir = try makeTempDirectory()
        let (s, run) = try SyntheticDatabase.small(at: path, dim: 8)
        self.run = run
        // A tulip the head takes for a rose, and one it gets right but barely.
        let backbone = try XCTUnwrap(s.db.scalar("SELECT id FROM backbones")?.int)
        try s.addImage(
            path: "tulips/wrong.jpg", className: "tulips", split: "test", vector: [0, 5, 0, 0, 0, 0, 0, 0],
            backbone: backbone)
        try s.addImage(
            path: "tulips/hflip-only.jpg", className: "tulips", split: "test", vector: [0, 9, 0, 0, 0, 0, 0, 0],
            backbone: backbone, view: "hflip")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func examples() throws -> [String] {
        let text = try String(contentsOf: repositoryRoot().appendingPathComponent("docs/sql.md"), encoding: .utf8)
        return text.components(separatedBy: "```sql\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
    }

    func query(_ sql: String, _ params: [String] = []) throws -> [[String]] {
        let r = try runTool(["query", "--db", path, "--csv"] + params.flatMap { ["--param", $0] } + [sql])
        XCTAssertEqual(r.status, 0, "\(sql)\n\(r.stderr)")
        return r.stdout.split(separator: "\r\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
    }

    func testEveryExampleRunsAndGivesTheExpectedRows() throws {
        let sql = try examples()
        XCTAssertEqual(sql.count, 4, "docs/sql.md should hold the four examples")
        guard sql.count == 4 else { return }

        // 1. Counts per class and split: 3 classes x (2 train, 1 val, 1 test) + the extra tulip.
        let counts = try query(sql[0])
        XCTAssertEqual(counts[0], ["label", "split", "images"])
        XCTAssertEqual(counts.count, 1 + 9)
        XCTAssertTrue(counts.contains(["tulips", "test", "3"]), "\(counts)")
        XCTAssertTrue(counts.contains(["daisy", "train", "2"]), "\(counts)")

        // 2. Centroid cosines: 3 pairs, each equal to the cosine of means computed here.
        let centroids = try query(sql[1])
        XCTAssertEqual(centroids[0], ["class_a", "class_b", "cosine"])
        XCTAssertEqual(centroids.count, 1 + 3)
        let db = try Database.open(path, readOnly: true)
        func mean(_ label: String) throws -> [Double] {
            let rows = try db.rows(
                "SELECT vector FROM labeled_embeddings WHERE label = ?1 AND split = 'train' AND view = 'orig'",
                [.text(label)])
            var sum = [Double](repeating: 0, count: 8)
            for r in rows {
                guard case .blob(let b) = r[0] else { continue }
                for j in 0..<8 {
                    sum[j] += Double(
                        Float(
                            bitPattern: UInt32(b[4 * j]) | UInt32(b[4 * j + 1]) << 8 | UInt32(b[4 * j + 2]) << 16
                                | UInt32(b[4 * j + 3]) << 24))
                }
            }
            return sum.map { Double(Float($0 / Double(rows.count))) }
        }
        for row in centroids.dropFirst() {
            let a = try mean(row[0])
            let b = try mean(row[1])
            let cos =
                zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
                / (a.reduce(0) { $0 + $1 * $1 } * b.reduce(0) { $0 + $1 * $1 }).squareRoot()
            XCTAssertEqual(Double(row[2])!, (cos * 10000).rounded() / 10000, accuracy: 1e-12, "\(row)")
        }

        // 3. Neighbours: the same ids and cosines as `tlearn similar`.
        let neighbours = try query(sql[2], [":id=2"])
        XCTAssertEqual(neighbours.count, 1 + 5)
        let similar = try runTool(["similar", "--db", path, "--id", "2", "-k", "5", "--csv"])
        let expected = similar.stdout.split(separator: "\r\n").dropFirst().map {
            $0.split(separator: ",").map(String.init)
        }
        XCTAssertEqual(neighbours.dropFirst().map { [$0[0], $0[4]] }, expected.map { [$0[2], $0[1]] })

        // 4. Misclassified test images: exactly the planted one, predicted as roses.
        let wrong = try query(sql[3], [":run=\(run)"])
        XCTAssertEqual(wrong[0], ["path", "label", "predicted", "p_label"])
        XCTAssertEqual(wrong.dropFirst().map { Array($0[0...2]) }, [["tulips/wrong.jpg", "tulips", "roses"]])
        // p(tulips) for x = 5 e_1: logits (0.1, 5, -0.1).
        let z = [0.1, 5.0, -0.1].map(Foundation.exp)
        XCTAssertEqual(Double(wrong[1][3])!, ((z[2] / z.reduce(0, +)) * 1000).rounded() / 1000)
    }
}
