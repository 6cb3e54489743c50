import Foundation
import XCTest

@testable import Extraction
@testable import Store

/// The extraction pipeline with a toy format and network: incremental runs, failures, splits,
/// shards and merge. The real decoder and backbone are exercised in RealExtractionTests.
final class PipelineTests: XCTestCase {
    var tree: TempTree!
    var db: String!

    override func setUpWithError() throws {
        tree = try TempTree()
        db = tempDB()
        for (c, label) in ["cat", "dog", "fox"].enumerated() {
            for i in 0..<6 { try tree.write("\(label)/\(i).timg", ToyPreparer.image(c * 100 + i)) }
        }
    }

    override func tearDown() {
        tree.cleanUp()
        removeDB(db)
    }

    func testSecondRunExtractsNothingAndRunsNoBackbone() throws {
        var e = ToyEmbedder()
        let first = try toyExtract(tree.root, db: db, embedder: &e)
        XCTAssertEqual(first.extracted, 18)
        XCTAssertEqual(first.failedCount, 0)
        let before = try dumpRows(db)
        XCTAssertEqual(before.count, 18 + 3, "\(before)")
        var e2 = ToyEmbedder()
        let second = try toyExtract(tree.root, db: db, embedder: &e2)
        XCTAssertEqual(second.extracted, 0)
        XCTAssertEqual(second.cached, 18)
        XCTAssertEqual(e2.calls, 0, "the backbone ran on a second run over an unchanged tree")
        XCTAssertEqual(try dumpRows(db), before)
    }

    func testAddedFilesAreTheOnlyOnesExtracted() throws {
        try toyExtract(tree.root, db: db)
        try tree.write("cat/new1.timg", ToyPreparer.image(901))
        try tree.write("owl/new2.timg", ToyPreparer.image(902))
        var e = ToyEmbedder()
        let s = try toyExtract(tree.root, db: db, embedder: &e)
        XCTAssertEqual(s.extracted, 2)
        XCTAssertEqual(s.cached, 18)
        XCTAssertEqual(e.rows, 2)
    }

    func testChangedContentIsExtractedAgainEvenWithSameSizeAndMtime() throws {
        try toyExtract(tree.root, db: db)
        let path = tree.path("dog/3.timg")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let changed = ToyPreparer.image(777)
        XCTAssertEqual(changed.count, try Data(contentsOf: URL(fileURLWithPath: path)).count)
        try tree.write("dog/3.timg", changed)
        try FileManager.default.setAttributes([.modificationDate: attributes[.modificationDate]!], ofItemAtPath: path)
        var e = ToyEmbedder()
        let s = try toyExtract(tree.root, db: db, embedder: &e)
        XCTAssertEqual(s.extracted, 1)
        XCTAssertEqual(e.rows, 1)
        let fresh = tempDB()
        defer { removeDB(fresh) }
        try toyExtract(tree.root, db: fresh)
        XCTAssertEqual(try dumpRows(db), try dumpRows(fresh))
    }

    func testBatchSizeAndThreadsDoNotChangeTheResult() throws {
        try tree.write("cat/bad.txt", Array("hello".utf8))
        try toyExtract(tree.root, db: db)
        for (batch, workers) in [(1, 1), (5, 3), (64, 2)] {
            let other = tempDB()
            defer { removeDB(other) }
            var options = ExtractionOptions()
            options.batchSize = batch
            options.workers = workers
            try toyExtract(tree.root, db: other, options: options)
            XCTAssertEqual(try dumpRows(other), try dumpRows(db), "batch \(batch) workers \(workers)")
        }
    }

    func testBadFilesBecomeFailureRowsAndAreRetried() throws {
        try tree.write("cat/notes.txt", Array("not an image\n".utf8))
        try tree.write("cat/empty.timg", [])
        try tree.write("cat/short.timg", Array("TIMG12".utf8))
        try FileManager.default.createSymbolicLink(
            atPath: tree.path("dog/gone.timg"), withDestinationPath: tree.path("nowhere.timg"))
        let s = try toyExtract(tree.root, db: db)
        XCTAssertEqual(s.extracted, 18)
        XCTAssertEqual(s.failed, ["not_image": 1, "empty": 1, "truncated": 1, "unreadable": 1])
        let rows = try Database.open(db).rows("SELECT path, reason FROM failures ORDER BY path").map {
            "\($0[0].string!) \($0[1].string!)"
        }
        XCTAssertEqual(
            rows,
            ["cat/empty.timg empty", "cat/notes.txt not_image", "cat/short.timg truncated", "dog/gone.timg unreadable"])

        // Fixed files succeed on the next run and lose their failure rows; the rest are retried.
        try tree.write("cat/short.timg", ToyPreparer.image(55))
        try tree.remove("dog/gone.timg")
        try tree.write("dog/gone.timg", ToyPreparer.image(56))
        let again = try toyExtract(tree.root, db: db)
        XCTAssertEqual(again.extracted, 2)
        XCTAssertEqual(again.recovered, 2)
        XCTAssertEqual(again.failed, ["not_image": 1, "empty": 1])
        XCTAssertEqual(try Database.open(db).scalar("SELECT count(*) FROM failures")?.int, 2)
    }

    func testGoodImageTurnedBadLosesItsRow() throws {
        try toyExtract(tree.root, db: db)
        try tree.write("fox/2.timg", Array("garbage!".utf8))
        let s = try toyExtract(tree.root, db: db)
        XCTAssertEqual(s.failed, ["not_image": 1])
        let conn = try Database.open(db)
        XCTAssertEqual(try conn.scalar("SELECT count(*) FROM images WHERE path = 'fox/2.timg'")?.int, 0)
        XCTAssertEqual(try conn.scalar("SELECT count(*) FROM embeddings")?.int, 17)
    }

    func testMissingFilesAreReportedAndRemovedOnlyWithPrune() throws {
        try toyExtract(tree.root, db: db)
        try tree.remove("dog/0.timg")
        try tree.remove("fox")
        let kept = try toyExtract(tree.root, db: db)
        XCTAssertEqual(kept.missing, 7)
        XCTAssertEqual(try Database.open(db).scalar("SELECT count(*) FROM images")?.int, 18)
        var options = ExtractionOptions()
        options.prune = true
        let pruned = try toyExtract(tree.root, db: db, options: options)
        XCTAssertEqual(pruned.pruned, 7)
        let conn = try Database.open(db)
        XCTAssertEqual(try conn.scalar("SELECT count(*) FROM images")?.int, 11)
        XCTAssertEqual(try conn.scalar("SELECT count(*) FROM embeddings")?.int, 11)
        XCTAssertEqual(
            try conn.rows("SELECT name FROM classes ORDER BY name").compactMap { $0[0].string }, ["cat", "dog"])
        let fresh = tempDB()
        defer { removeDB(fresh) }
        try toyExtract(tree.root, db: fresh)
        XCTAssertEqual(try dumpRows(db), try dumpRows(fresh))
    }

    func testHflipViewIsStoredAndAddedLaterWithoutRedoingOrig() throws {
        try toyExtract(tree.root, db: db)
        var options = ExtractionOptions()
        options.views = [.orig, .hflip]
        var e = ToyEmbedder()
        let s = try toyExtract(tree.root, db: db, options: options, embedder: &e)
        XCTAssertEqual(s.extracted, 18)
        XCTAssertEqual(e.rows, 18, "only the hflip view should run")
        let conn = try Database.open(db)
        XCTAssertEqual(try conn.scalar("SELECT count(*) FROM embeddings WHERE view = 'hflip'")?.int, 18)
        let both = tempDB()
        defer { removeDB(both) }
        try toyExtract(tree.root, db: both, options: options)
        XCTAssertEqual(try dumpRows(db), try dumpRows(both))
        let o = try EmbeddingStore(path: db).vector(path: "cat/1.timg", backbone: 1, view: "orig")!
        let h = try EmbeddingStore(path: db).vector(path: "cat/1.timg", backbone: 1, view: "hflip")!
        XCTAssertEqual(o[0], h[0], accuracy: 1e-3)  // same pixels, reversed
        XCTAssertNotEqual(o[2], h[2])
    }

    func testSplitsAreStratifiedAndFollowTheRule() throws {
        try tree.write("tiny/only.timg", ToyPreparer.image(5))
        try toyExtract(tree.root, db: db)
        let conn = try Database.open(db)
        for label in ["cat", "dog", "fox"] {
            let splits = try conn.rows(
                "SELECT i.split FROM images i JOIN classes c ON c.id = i.class_id WHERE c.name = ?1", [.text(label)]
            ).compactMap { $0[0].string }
            for s in ["train", "val", "test"] { XCTAssertTrue(splits.contains(s), "\(label): \(splits)") }
        }
        XCTAssertEqual(try conn.scalar("SELECT split FROM images WHERE path = 'tiny/only.timg'")?.string, "train")
        // Stored splits equal the pure rule over the stored paths.
        let rows = try conn.rows("SELECT i.path, c.name, i.split FROM images i JOIN classes c ON c.id = i.class_id")
        for label in ["cat", "dog", "fox", "tiny"] {
            let members = rows.filter { $0[1].string == label }.map { ($0[0].string!, PathHash(path: $0[0].string!)) }
            let expected = SplitPolicy.standard.assign(members)
            for r in rows where r[1].string == label {
                XCTAssertEqual(r[2].string, expected[r[0].string!]?.rawValue, r[0].string!)
            }
        }
    }

    func testChangedPercentagesResplitAndPersist() throws {
        for i in 6..<60 { try tree.write("cat/\(i).timg", ToyPreparer.image(i)) }
        try toyExtract(tree.root, db: db, policy: try SplitPolicy(valPercent: 30, testPercent: 30))
        let count = { (s: String) in
            try Database.open(self.db).scalar(
                "SELECT count(*) FROM images i JOIN classes c ON c.id = i.class_id WHERE c.name = 'cat' AND split = ?1",
                [.text(s)])?.int ?? 0
        }
        XCTAssertGreaterThan(try count("val"), 8)
        XCTAssertEqual(try EmbeddingStore(path: db).policy, try SplitPolicy(valPercent: 30, testPercent: 30))
        // Back to the default: re-split on open, and the stored rows follow the rule again.
        _ = try EmbeddingStore(path: db, policy: .standard)
        XCTAssertLessThan(try count("val"), 12)
        XCTAssertGreaterThan(try count("val"), 0)
    }

    func testShardsMergeToTheSameRowsAsOneExtraction() throws {
        try tree.write("cat/bad.txt", Array("nope".utf8))
        try toyExtract(tree.root, db: db)
        var shards: [String] = []
        defer { shards.forEach(removeDB) }
        var total = 0
        for k in 1...3 {
            let s = tempDB()
            shards.append(s)
            var options = ExtractionOptions()
            options.shard = (k, 3)
            let summary = try toyExtract(tree.root, db: s, options: options)
            total += summary.total
        }
        XCTAssertEqual(total, 19, "shards must partition the files")
        let merged = tempDB()
        defer { removeDB(merged) }
        let report = try ShardMerge.merge(into: merged, from: shards)
        XCTAssertEqual(report.images, 18)
        XCTAssertEqual(report.failures, 1)
        XCTAssertEqual(report.warnings, [])
        let partial = tempDB()
        defer { removeDB(partial) }
        XCTAssertEqual(
            try ShardMerge.merge(into: partial, from: Array(shards.prefix(2))).warnings,
            ["shard 3 of 3 not among the inputs: the merged database lacks their images"])
        XCTAssertEqual(try dumpRows(merged), try dumpRows(db))
    }

    func testMergeAcceptsTheSameImageTwiceAndRefusesConflicts() throws {
        let a = tempDB()
        let b = tempDB()
        let out = tempDB()
        defer { [a, b, out].forEach(removeDB) }
        try toyExtract(tree.root, db: a)
        try toyExtract(tree.root, db: b)
        let report = try ShardMerge.merge(into: out, from: [a, b])
        XCTAssertEqual(report.duplicates, 18)
        XCTAssertEqual(try dumpRows(out), try dumpRows(a))

        XCTAssertThrowsError(try ShardMerge.merge(into: out, from: [a, b])) {
            XCTAssertTrue("\($0)".contains("already holds rows"), "\($0)")
        }

        try tree.write("cat/0.timg", ToyPreparer.image(4242))
        let c = tempDB()
        let out2 = tempDB()
        defer { [c, out2].forEach(removeDB) }
        try toyExtract(tree.root, db: c)
        XCTAssertThrowsError(try ShardMerge.merge(into: out2, from: [a, c])) {
            XCTAssertTrue("\($0)".contains("cat/0.timg has different content"), "\($0)")
        }
    }

    func testMergeRefusesDifferentBackbones() throws {
        let a = tempDB()
        let b = tempDB()
        let out = tempDB()
        defer { [a, b, out].forEach(removeDB) }
        try toyExtract(tree.root, db: a)
        let store = try EmbeddingStore(path: b)
        var other = toyKey
        other.weightsSHA256 = String(repeating: "cd", count: 32)
        _ = try store.backboneID(other)
        XCTAssertThrowsError(try ShardMerge.merge(into: out, from: [a, b])) {
            XCTAssertTrue("\($0)".contains("different backbone"), "\($0)")
        }
    }

    func testWriterLockRefusesASecondWriterAndNamesThePID() throws {
        let lock = try WriterLock(databasePath: db)
        XCTAssertThrowsError(try WriterLock(databasePath: db)) { error in
            XCTAssertEqual(error as? StoreError, .locked(path: db, pid: Int(getpid())))
            XCTAssertTrue("\(error)".contains("pid \(getpid())"), "\(error)")
        }
        withExtendedLifetime(lock) {}
    }

    func testWriterLockIsFreeAgainAfterRelease() throws {
        do { _ = try WriterLock(databasePath: db) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: db + ".lock"))
        _ = try WriterLock(databasePath: db)
    }

    func testLooseFilesAndHiddenFilesAreNotCandidates() throws {
        try tree.write("README.md", Array("x".utf8))
        try tree.write(".hidden/a.timg", ToyPreparer.image(1))
        try tree.write("cat/.DS_Store", [0, 0, 0, 1])
        try tree.write("cat/Thumbs.db", [1])
        try tree.write("cat/sub/deeper.timg", ToyPreparer.image(3))
        let scan = try Scanner.scan(root: tree.root)
        XCTAssertEqual(scan.looseFiles, ["README.md"])
        XCTAssertEqual(scan.candidates.count, 19)
        XCTAssertEqual(scan.candidates.first { $0.path == "cat/sub/deeper.timg" }?.label, "cat")
        XCTAssertFalse(
            scan.candidates.contains {
                $0.path.contains(".DS_Store") || $0.path.contains("Thumbs") || $0.path.contains(".hidden")
            })
    }

    func testScanOfMissingFolderSaysSo() {
        XCTAssertThrowsError(try Scanner.scan(root: tree.path("nope"))) {
            XCTAssertTrue("\($0)".contains("nope"), "\($0)")
        }
    }
}
