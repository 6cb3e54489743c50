import Foundation
import XCTest

@testable import Store

final class MergeCommandTests: XCTestCase {
    func testShardsMergedEqualOneExtraction() throws {
        let root = try goodFixtureTree(self)
        try copyFixture("text.jpg", to: root, as: "owls/text.jpg")
        let dir = try scratchFolder(self)
        let whole = dir + "/whole.sqlite"
        XCTAssertEqual(try extractTool(root, whole).status, 3)
        var parts: [String] = []
        var files = 0
        for k in 1...3 {
            let part = dir + "/part-\(k).sqlite"
            parts.append(part)
            let run = try extractTool(root, part, ["--shard", "\(k)/3"])
            XCTAssertTrue([0, 3].contains(run.status), run.stderr)
            files += Int(
                try Database.open(part, readOnly: true).scalar(
                    "SELECT (SELECT count(*) FROM images) + (SELECT count(*) FROM failures)")?.int ?? 0)
        }
        XCTAssertEqual(files, 12, "the shards must partition the 12 files")
        let merged = dir + "/merged.sqlite"
        let run = try runTlearn(["merge", merged] + parts)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, "merged 3 databases into \(merged): 11 images, 11 vectors, 1 failures\n")
        XCTAssertEqual(try extractRows(merged), try extractRows(whole))
    }

    func testMissingShardIsAWarning() throws {
        let root = try goodFixtureTree(self)
        let dir = try scratchFolder(self)
        XCTAssertEqual(try extractTool(root, dir + "/p1.sqlite", ["--shard", "1/2"]).status, 0)
        let run = try runTlearn(["merge", dir + "/m.sqlite", dir + "/p1.sqlite"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(
            run.stderr, "warning: shard 2 of 2 not among the inputs: the merged database lacks their images\n")
    }

    func testMismatchedBackbonesAndExistingOutputAreRefused() throws {
        let root = try goodFixtureTree(self)
        let dir = try scratchFolder(self)
        let a = dir + "/a.sqlite"
        let b = dir + "/b.sqlite"
        XCTAssertEqual(try extractTool(root, a).status, 0)
        XCTAssertEqual(
            try runTlearn([
                "extract", "--images", root, "--db", b, "--weights", tinyWeights, "--input-size", "128", "--quiet",
            ]).status, 0)
        let mismatch = try runTlearn(["merge", dir + "/bad.sqlite", a, b])
        XCTAssertEqual(mismatch.status, 1)
        XCTAssertTrue(
            mismatch.stderr.hasPrefix("error: cannot merge: \(b) was extracted with a different backbone"),
            mismatch.stderr)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: dir + "/bad.sqlite"),
            "a failed merge must not leave its output behind")
        XCTAssertTrue(
            mismatch.stderr.contains("alpha 0.35, input"), "alpha prints as the float32 it is: \(mismatch.stderr)")

        // An empty tlearn database has no backbone: say so instead of printing [].
        let empty = dir + "/empty.sqlite"
        _ = try Database.open(empty)
        let none = try runTlearn(["merge", dir + "/none.sqlite", a, empty])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("different backbone than \(a): [no vectors] vs ["), none.stderr)

        let input = try runTlearn(["merge", a, a, b])
        XCTAssertEqual(input.status, 64)
        XCTAssertTrue(input.stderr.contains("OUT \(a) is also an input"), input.stderr)
        let exists = try runTlearn(["merge", b, a])
        XCTAssertEqual(exists.status, 64)
        XCTAssertTrue(exists.stderr.contains("\(b) exists; merge into a new file"), exists.stderr)
    }

    func testConflictingLabelsAreRefused() throws {
        let dir = try scratchFolder(self)
        let r1 = dir + "/one"
        let r2 = dir + "/two"
        try copyFixture("rgb_64x48.jpg", to: r1, as: "cats/x.jpg")
        try copyFixture("rgb_64x48.jpg", to: r2, as: "x.jpg")
        try "x.jpg,cats\n".write(toFile: r1 + "/m.csv", atomically: true, encoding: .utf8)
        try "x.jpg,dogs\n".write(toFile: r2 + "/m.csv", atomically: true, encoding: .utf8)
        for (csv, db) in [(r1 + "/m.csv", dir + "/a.sqlite"), (r2 + "/m.csv", dir + "/b.sqlite")] {
            let run = try runTlearn([
                "extract", "--manifest", csv, "--images", csv == r1 + "/m.csv" ? r1 + "/cats" : r2,
                "--db", db, "--weights", tinyWeights, "--input-size", "96", "--quiet",
            ])
            XCTAssertEqual(run.status, 0, run.stderr)
        }
        let run = try runTlearn(["merge", dir + "/m.sqlite", dir + "/a.sqlite", dir + "/b.sqlite"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("x.jpg is labeled cats in"), run.stderr)
    }
}
