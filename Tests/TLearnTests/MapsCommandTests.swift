import Foundation
import XCTest

@testable import Store

/// `tlearn extract --maps` as a subprocess on the fixture images with the tiny weights (alpha 0.35 at
/// 96 px: 3x3x112 maps, 2016 bytes each), and what `info` and `merge` make of the maps.
final class MapsCommandTests: XCTestCase {
    /// Every map row (path, view, BLOB) and the tops, without ids.
    func mapRows(_ db: String) throws -> [String] {
        let c = try Database.open(db, readOnly: true)
        return try c.rows(
            "SELECT path || ' ' || view || ' ' || backbone || ' ' || hex(map) FROM labeled_maps ORDER BY path, view, backbone"
        )
        .compactMap { $0[0].string }
            + c.rows(
                "SELECT backbone_id || ' ' || map_height || 'x' || map_width || 'x' || map_channels || ' ' || hex(conv1) FROM backbone_tops"
            )
            .compactMap { $0[0].string }
    }

    /// Image views with a vector but no map, or a map but no vector.
    func unmatched(_ db: String) throws -> Int64 {
        try Database.open(db, readOnly: true).scalar(
            """
            SELECT (SELECT count(*) FROM embeddings e WHERE NOT EXISTS (SELECT 1 FROM maps m WHERE m.image_id = e.image_id
                        AND m.backbone_id = e.backbone_id AND m.view = e.view))
                 + (SELECT count(*) FROM maps m WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = m.image_id
                        AND e.backbone_id = m.backbone_id AND e.view = m.view))
            """)?.int ?? -1
    }

    func testMapsAreStoredWithTheTopShownByInfoAndBitIdenticalWhateverTheBatchAndThreads() throws {
        let root = try goodFixtureTree(self)
        let dir = try scratchFolder(self)
        let one = dir + "/one.sqlite"
        let two = dir + "/two.sqlite"
        let run = try extractTool(
            root, one, ["--maps", "--views", "orig,hflip", "--threads", "1", "--batch-size", "1"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("extracted 11, cached 0, failed 0, missing 0, maps 22 in "), run.stdout)
        XCTAssertEqual(
            try extractTool(root, two, ["--maps", "--views", "orig,hflip", "--threads", "2", "--batch-size", "5"])
                .status, 0)
        let rows = try mapRows(one)
        XCTAssertEqual(rows.count, 22 + 1)
        XCTAssertEqual(rows, try mapRows(two), "maps depend on the batch size or thread count")
        XCTAssertEqual(try unmatched(one), 0)
        let c = try Database.open(one, readOnly: true)
        XCTAssertEqual(try c.rows("SELECT DISTINCT length(map) FROM maps").compactMap { $0[0].int }, [3 * 3 * 112 * 2])
        XCTAssertEqual(
            try c.scalar(
                "SELECT map_height || 'x' || map_width || 'x' || map_channels || ' ' || length(conv1) FROM backbone_tops"
            )?.string,
            "3x3x112 \(4 * (112 * 1280 + 1280))")

        let info = try runTlearn(["info", "--db", one])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(
            info.stdout.contains("      views hflip 11, orig 11\n      maps hflip 11 (21.7 KB), orig 11 (21.7 KB)\n"),
            info.stdout)
        let plain = dir + "/plain.sqlite"
        XCTAssertEqual(try extractTool(root, plain).status, 0)
        XCTAssertFalse(try runTlearn(["info", "--db", plain]).stdout.contains("maps"))
    }

    func testMapsAddedLaterComputeOnlyTheMissingOnesAndKeepTheEmbeddingRows() throws {
        let root = try goodFixtureTree(self)
        let dir = try scratchFolder(self)
        let db = dir + "/e.sqlite"
        XCTAssertEqual(try extractTool(root, db).status, 0)
        let vectors = {
            try Database.open(db, readOnly: true).rows(
                "SELECT id || ' ' || image_id || ' ' || view || ' ' || hex(vector) FROM embeddings ORDER BY id")
        }
        let before = try vectors()
        let added = try extractTool(root, db, ["--maps"])
        XCTAssertEqual(added.status, 0, added.stderr)
        XCTAssertTrue(added.stdout.hasPrefix("extracted 11, cached 0, failed 0, missing 0, maps 11 in "), added.stdout)
        XCTAssertEqual(try vectors(), before, "adding maps rewrote the embeddings rows")
        XCTAssertEqual(try unmatched(db), 0)
        let again = try extractTool(root, db, ["--maps"])
        XCTAssertTrue(again.stdout.hasPrefix("extracted 0, cached 11, failed 0, missing 0, maps 0 in "), again.stdout)
        let fresh = dir + "/fresh.sqlite"
        XCTAssertEqual(try extractTool(root, fresh, ["--maps"]).status, 0)
        XCTAssertEqual(try mapRows(db), try mapRows(fresh))
        XCTAssertEqual(try extractRows(db), try extractRows(fresh))
    }

    func testKilledMapsRunsLeaveEveryVectorWithItsMapAndResumeToAnUninterruptedRun() throws {
        let root = try scratchFolder(self) + "/images"
        for i in 0..<400 {
            let name = goodFixtures[i % goodFixtures.count]
            try copyFixture(name, to: root, as: "c\(i % 4)/\(i)-\(name)")
        }
        let reference = try scratchFolder(self) + "/reference.sqlite"
        XCTAssertEqual(
            try extractTool(root, reference, ["--maps", "--views", "orig,hflip", "--batch-size", "4"]).status, 0)
        let expected = (try extractRows(reference), try mapRows(reference))
        XCTAssertEqual(expected.1.count, 800 + 1)

        let db = try scratchFolder(self) + "/killed.sqlite"
        var killedAt: [Int] = []
        for target in [0, 60, 300] {
            let (process, _, _) = try startTlearn([
                "extract", "--images", root, "--db", db, "--weights", tinyWeights, "--input-size", "96",
                "--quiet", "--batch-size", "4", "--threads", "1", "--maps", "--views", "orig,hflip",
            ])
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && Date() < deadline {
                let n = (try? Database.open(db, readOnly: true).scalar("SELECT count(*) FROM maps")?.int) ?? 0
                if n >= target { break }
                usleep(2000)
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            XCTAssertEqual(
                process.terminationReason, .uncaughtSignal, "the run finished before the kill at \(target) maps")
            guard FileManager.default.fileExists(atPath: db) else {
                killedAt.append(0)
                continue
            }
            let conn = try Database.open(db, readOnly: true)
            XCTAssertEqual(try conn.scalar("PRAGMA integrity_check")?.string, "ok")
            XCTAssertEqual(try unmatched(db), 0, "killed at \(target): a vector without its map or the reverse")
            let maps = Int(try conn.scalar("SELECT count(*) FROM maps")?.int ?? -1)
            if maps > 0 {
                XCTAssertEqual(try conn.scalar("SELECT count(*) FROM backbone_tops")?.int, 1, "maps without their top")
            }
            killedAt.append(maps)
        }
        print("killed with \(killedAt) maps committed")
        XCTAssertLessThan(killedAt.last!, 800)
        let resumed = try extractTool(
            root, db, ["--maps", "--views", "orig,hflip", "--batch-size", "7", "--threads", "2"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try extractRows(db), expected.0)
        XCTAssertEqual(try mapRows(db), expected.1)
    }

    func testShardsWithMapsMergeAndAShardWithoutMapsIsRefused() throws {
        let root = try goodFixtureTree(self)
        let dir = try scratchFolder(self)
        let whole = dir + "/whole.sqlite"
        XCTAssertEqual(try extractTool(root, whole, ["--maps"]).status, 0)
        let parts = (1...2).map { dir + "/part-\($0).sqlite" }
        for (k, part) in parts.enumerated() {
            XCTAssertEqual(try extractTool(root, part, ["--maps", "--shard", "\(k + 1)/2"]).status, 0)
        }
        let merged = dir + "/merged.sqlite"
        let run = try runTlearn(["merge", merged] + parts)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, "merged 2 databases into \(merged): 11 images, 11 vectors, 11 maps, 0 failures\n")
        XCTAssertEqual(try mapRows(merged), try mapRows(whole))
        XCTAssertEqual(try extractRows(merged), try extractRows(whole))

        let plain = dir + "/plain-2.sqlite"
        XCTAssertEqual(try extractTool(root, plain, ["--shard", "2/2"]).status, 0)
        let mixed = try runTlearn(["merge", dir + "/mixed.sqlite", parts[0], plain])
        XCTAssertEqual(mixed.status, 1)
        XCTAssertEqual(
            mixed.stderr,
            "error: cannot merge: \(plain) has no maps but \(parts[0]) has maps of views orig: "
                + "run `tlearn extract --maps` on \(plain) first (it computes only the maps)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/mixed.sqlite"))
    }
}

extension MapsCommandTests {
    /// predict of a finetune run: new files go through the backbone up to block_16 (ImageEmbedder's maps,
    /// float16-rounded as stored), so a file in the database gets exactly SQL's head_proba on its stored map;
    /// with --tta, the mean over its two stored views.
    func testPredictOfAFinetuneRunEqualsHeadProbaOnTheFilesStoredMaps() throws {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/f.sqlite"
        XCTAssertEqual(try extractTool(root, db, ["--maps", "--views", "orig,hflip"]).status, 0)
        let train = try runTlearn(["train-head", "--db", db, "--model", "finetune", "--epochs", "2"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let files = ["cats/rgb_64x48.jpg", "dogs/rgb_37x23.jpg", "owls/rgba_30x20.png"]
        for tta in [false, true] {
            let run = try runTlearn(
                ["predict", "latest", "--db", db, "--weights", tinyWeights, "--json", "--top", "3"]
                    + (tta ? ["--tta"] : []) + files.map { root + "/" + $0 })
            XCTAssertEqual(run.status, 0, run.stderr)
            let results = try XCTUnwrap(
                try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
            XCTAssertEqual(results.count, files.count)
            for (file, result) in zip(files, results) {
                let predictions = try XCTUnwrap(result["predictions"] as? [[String: Any]])
                XCTAssertEqual(predictions.count, 3)
                for p in predictions {
                    let name = try XCTUnwrap(p["class"] as? String)
                    let q = try runTlearn([
                        "query", "--db", db, "--csv", "--param", file, "--param", name, "--param",
                        tta ? "hflip" : "orig",
                        "SELECT avg(head_proba(1, map, ?2)) FROM labeled_maps WHERE path = ?1 AND view IN ('orig', ?3)",
                    ])
                    XCTAssertEqual(q.status, 0, q.stderr)
                    let sql = try XCTUnwrap(Double(q.stdout.split(separator: "\r\n")[1]))
                    XCTAssertEqual(
                        sql, try XCTUnwrap(p["probability"] as? Double), accuracy: 1e-12, "\(file) \(name) tta \(tta)")
                }
            }
        }
    }
}
