import Foundation
import Synchronization
import XCTest

@testable import Extraction
@testable import Formats
@testable import Head
@testable import Store

/// ToyEmbedder's vectors plus 2x2x3 maps (an input's first 12 values) and a made-up top. With
/// `overflowOnWhite`, an all-white input (every value 1) gets maps beyond float16's range.
final class ToyMapEmbedder: Embedder, @unchecked Sendable {
    let dim = 4
    let inputSize = 4
    let overflowOnWhite: Bool
    private let counts = Mutex((calls: 0, rows: 0, mapRows: 0))
    var rows: Int { counts.withLock { $0.rows } }
    var mapRows: Int { counts.withLock { $0.mapRows } }

    init(overflowOnWhite: Bool = false) { self.overflowOnWhite = overflowOnWhite }

    static let shape = MapShape(height: 2, width: 2, channels: 3)
    var backboneTop: BackboneTop? {
        BackboneTop(map: Self.shape, kernel: (0..<12).map { Float($0) / 8 - 0.5 }, bias: [0.25, -0.5, 1, 0])
    }

    func vectors(_ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>) {
        let n = inputSize * inputSize * 3
        for b in 0..<count {
            let x = UnsafeBufferPointer(start: input + b * n, count: n)
            output[b * dim + 0] = x.reduce(0, +)
            output[b * dim + 1] = x.enumerated().reduce(0) { $0 + $1.element * Float($1.offset % 5) }
            output[b * dim + 2] = x[0]
            output[b * dim + 3] = x[n - 1]
        }
    }

    static func map(of x: UnsafePointer<Float>, overflowOnWhite: Bool) -> [Float] {
        let white = overflowOnWhite && (0..<48).allSatisfy { x[$0] == 1 }
        return (0..<12).map { x[$0] * 3.25 + (white ? 1e5 : 0) }
    }

    func makeWorker() -> EmbedWorker {
        { [self] input, count, output in
            counts.withLock {
                $0.calls += 1
                $0.rows += count
            }
            vectors(input, count: count, into: output)
        }
    }

    func makeMapWorker() -> MapWorker? {
        { [self] input, count, output, maps in
            counts.withLock {
                $0.calls += 1
                $0.rows += count
                $0.mapRows += count
            }
            vectors(input, count: count, into: output)
            for b in 0..<count {
                let map = Self.map(of: input + b * 48, overflowOnWhite: overflowOnWhite)
                for k in 0..<12 { maps[b * 12 + k] = map[k] }
            }
        }
    }
}

/// `extract --maps` through the pipeline with the toy format and network: maps stored with their
/// vectors, added later without touching them, kept consistent by changed content, prune, relabel and merge.
final class MapsPipelineTests: XCTestCase {
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

    static func options(
        maps: Bool = true, views: [View] = [.orig], batch: Int = 32, workers: Int = 1, prune: Bool = false
    ) -> ExtractionOptions {
        var o = ExtractionOptions()
        o.maps = maps
        o.views = views
        o.batchSize = batch
        o.workers = workers
        o.prune = prune
        return o
    }

    /// One extraction of the tree into `db`; `labels` overrides labels by path (as an edited manifest would).
    @discardableResult
    func extract(
        _ db: String, _ options: ExtractionOptions, embedder: ToyMapEmbedder = ToyMapEmbedder(),
        labels: [String: String] = [:]
    ) throws -> ExtractionSummary {
        let store = try EmbeddingStore(path: db)
        let backbone = try store.backboneID(toyKey)
        var scan = try Scanner.scan(root: tree.root)
        for i in scan.candidates.indices {
            scan.candidates[i].label = labels[scan.candidates[i].path] ?? scan.candidates[i].label
        }
        return try Extractor(store: store, backbone: backbone, embedder: embedder, options: options) { ToyPreparer() }
            .run(scan)
    }

    /// Every map row (path, label, view, BLOB) and the tops: equal dumps mean equal maps.
    func mapRows(_ path: String) throws -> [String] {
        let c = try Database.open(path, readOnly: true)
        return try c.rows(
            """
            SELECT m.path || ' ' || m.label || ' ' || m.split || ' ' || m.view || ' ' || b.weights_sha256 || ' ' || hex(m.map)
            FROM labeled_maps m JOIN backbones b ON b.id = m.backbone ORDER BY m.path, m.view
            """
        ).compactMap { $0[0].string }
            + c.rows(
                """
                SELECT b.weights_sha256 || ' ' || t.map_height || 'x' || t.map_width || 'x' || t.map_channels || ' ' || hex(t.conv1)
                FROM backbone_tops t JOIN backbones b ON b.id = t.backbone_id
                """
            ).compactMap { $0[0].string }
    }

    /// Views with a vector and views with a map, per image: equal in a consistent database.
    func assertEveryVectorHasItsMap(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = try Database.open(path, readOnly: true)
        let unmatched = try c.scalar(
            """
            SELECT (SELECT count(*) FROM embeddings e WHERE NOT EXISTS (SELECT 1 FROM maps m WHERE m.image_id = e.image_id
                        AND m.backbone_id = e.backbone_id AND m.view = e.view))
                 + (SELECT count(*) FROM maps m WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = m.image_id
                        AND e.backbone_id = m.backbone_id AND e.view = m.view))
            """)?.int
        XCTAssertEqual(unmatched, 0, "vectors without maps or maps without vectors", file: file, line: line)
    }

    func testMapsAreStoredWithTheirVectorsAndTheBackbonesTop() throws {
        let embedder = ToyMapEmbedder()
        let s = try extract(db, Self.options(views: [.orig, .hflip]), embedder: embedder)
        XCTAssertEqual(s.extracted, 18)
        XCTAssertEqual(s.maps, 36)
        XCTAssertTrue(s.line.contains(", missing 0, maps 36 in "), s.line)
        XCTAssertEqual(embedder.mapRows, 36)
        try assertEveryVectorHasItsMap(db)
        let c = try Database.open(db, readOnly: true)
        XCTAssertEqual(try BackboneTop.load(c, backbone: 1), embedder.backboneTop)
        // The stored map is the toy's map of the prepared input, rounded to float16.
        var preparer = ToyPreparer()
        var input = [Float](repeating: 0, count: 2 * 48)
        _ = try input.withUnsafeMutableBufferPointer {
            try preparer.prepare(
                ToyPreparer.image(101), path: "dog/1.timg", size: 4, views: [.orig, .hflip], into: $0.baseAddress!)
        }
        for (k, view) in ["orig", "hflip"].enumerated() {
            let blob = try XCTUnwrap(
                try c.rows("SELECT map FROM labeled_maps WHERE path = 'dog/1.timg' AND view = ?1", [.text(view)])
                    .first?[0])
            guard case .blob(let bytes) = blob else { return XCTFail("\(blob) is not a BLOB") }
            XCTAssertEqual(bytes.count, MapBlob.byteCount(ToyMapEmbedder.shape))
            let expected = input.withUnsafeBufferPointer {
                ToyMapEmbedder.map(of: $0.baseAddress! + k * 48, overflowOnWhite: false)
            }
            XCTAssertEqual(bytes, MapBlob.bytes(expected, count: 12), view)
        }
        // A run without maps stores no top and reports no map count.
        let plain = tempDB()
        defer { removeDB(plain) }
        let p = try extract(plain, Self.options(maps: false))
        XCTAssertNil(p.maps)
        XCTAssertFalse(p.line.contains("maps"), p.line)
        XCTAssertEqual(try mapRows(plain), [])
    }

    func testMapsAddedLaterRunOnlyTheMissingOnesAndLeaveTheVectorRowsAlone() throws {
        try extract(db, Self.options(maps: false))
        let vectorRows = {
            try Database.open(self.db, readOnly: true).rows(
                "SELECT id, image_id, view, hex(vector) FROM embeddings ORDER BY id")
        }
        let before = try vectorRows()
        XCTAssertEqual(before.count, 18)

        let embedder = ToyMapEmbedder()
        let s = try extract(db, Self.options(), embedder: embedder)
        XCTAssertEqual(s.extracted, 18)
        XCTAssertEqual(s.maps, 18)
        XCTAssertEqual(embedder.rows, 18, "each image runs once, for its map")
        XCTAssertEqual(try vectorRows(), before, "embeddings rows were rewritten")
        try assertEveryVectorHasItsMap(db)

        let again = ToyMapEmbedder()
        let second = try extract(db, Self.options(), embedder: again)
        XCTAssertEqual(second.cached, 18)
        XCTAssertEqual(second.maps, 0)
        XCTAssertEqual(again.rows, 0, "the backbone ran with every map stored")

        // hflip with maps: only the new view runs, its vector and map together.
        let flips = ToyMapEmbedder()
        XCTAssertEqual(try extract(db, Self.options(views: [.orig, .hflip]), embedder: flips).maps, 18)
        XCTAssertEqual(flips.rows, 18)
        XCTAssertEqual(Array(try vectorRows().prefix(18)), before)
        try assertEveryVectorHasItsMap(db)

        let fresh = tempDB()
        defer { removeDB(fresh) }
        try extract(fresh, Self.options(views: [.orig, .hflip]))
        XCTAssertEqual(try mapRows(db), try mapRows(fresh))
        XCTAssertEqual(try dumpRows(db), try dumpRows(fresh))
    }

    func testBatchSizeAndThreadsDoNotChangeTheMaps() throws {
        try extract(db, Self.options(views: [.orig, .hflip], batch: 1, workers: 1))
        XCTAssertEqual(try mapRows(db).count, 36 + 1)
        for (batch, workers) in [(5, 3), (64, 2)] {
            let other = tempDB()
            defer { removeDB(other) }
            try extract(other, Self.options(views: [.orig, .hflip], batch: batch, workers: workers))
            XCTAssertEqual(try mapRows(other), try mapRows(db), "batch \(batch) workers \(workers)")
            XCTAssertEqual(try dumpRows(other), try dumpRows(db), "batch \(batch) workers \(workers)")
        }
    }

    func testChangedContentPruneAndRelabelKeepTheMapsConsistent() throws {
        try extract(db, Self.options())
        // New content without --maps: the old map goes with the old vector; --maps then adds the new one.
        try tree.write("dog/3.timg", ToyPreparer.image(777))
        XCTAssertEqual(try extract(db, Self.options(maps: false)).extracted, 1)
        XCTAssertEqual(
            try Database.open(db, readOnly: true).scalar("SELECT count(*) FROM labeled_maps WHERE path = 'dog/3.timg'")?
                .int, 0)
        let embedder = ToyMapEmbedder()
        XCTAssertEqual(try extract(db, Self.options(), embedder: embedder).maps, 1)
        XCTAssertEqual(embedder.rows, 1)
        // New content with --maps: replaced in one go.
        try tree.write("cat/2.timg", ToyPreparer.image(778))
        XCTAssertEqual(try extract(db, Self.options()).maps, 1)
        try assertEveryVectorHasItsMap(db)

        // Relabel (an edited manifest): the maps stay, under the new label, and nothing runs.
        let relabel = ToyMapEmbedder()
        let r = try extract(db, Self.options(), embedder: relabel, labels: ["fox/4.timg": "dog"])
        XCTAssertEqual(r.relabeled, 1)
        XCTAssertEqual(relabel.rows, 0)
        XCTAssertEqual(
            try Database.open(db, readOnly: true).scalar("SELECT label FROM labeled_maps WHERE path = 'fox/4.timg'")?
                .string, "dog")

        // Gone files with --prune: their maps go too.
        try tree.remove("fox/0.timg")
        try tree.write("fox/1.timg", Array("not an image".utf8))  // becomes a failure: its rows go
        XCTAssertEqual(try extract(db, Self.options(prune: true), labels: ["fox/4.timg": "dog"]).pruned, 1)
        let c = try Database.open(db, readOnly: true)
        XCTAssertEqual(try c.scalar("SELECT count(*) FROM maps")?.int, 16)
        try assertEveryVectorHasItsMap(db)

        let fresh = tempDB()
        defer { removeDB(fresh) }
        try extract(fresh, Self.options(), labels: ["fox/4.timg": "dog"])
        XCTAssertEqual(try mapRows(db), try mapRows(fresh))
        XCTAssertEqual(try dumpRows(db), try dumpRows(fresh))
    }

    /// Decision: a map value float16 cannot hold stops the run with one line naming the file and the view,
    /// after what was committed before it. Storing it as infinity would poison training without a word, and
    /// a failure row would drop a good image for what is the weights' doing (every image would follow).
    func testAMapBeyondFloat16StopsTheRunNamingTheFileAndLeavesTheDatabaseConsistent() throws {
        try tree.write("owl/white.timg", Array("TIMG".utf8) + [UInt8](repeating: 255, count: 48))
        var options = Self.options(views: [.orig, .hflip], batch: 1)
        XCTAssertThrowsError(try extract(db, options, embedder: ToyMapEmbedder(overflowOnWhite: true))) { error in
            XCTAssertEqual(
                "\(error)",
                "cannot store the orig maps of \(tree.path("owl/white.timg")): block_16's output holds 100003.25, "
                    + "beyond float16's range (+-65504); maps of these weights cannot be cached as float16: extract without --maps"
            )
        }
        let c = try Database.open(db, readOnly: true)
        XCTAssertEqual(try c.scalar("SELECT count(*) FROM images WHERE path = 'owl/white.timg'")?.int, 0)
        try assertEveryVectorHasItsMap(db)
        // Without --maps the same file is fine.
        options.maps = false
        XCTAssertEqual(try extract(db, options, embedder: ToyMapEmbedder(overflowOnWhite: true)).failedCount, 0)
        XCTAssertEqual(try c.scalar("SELECT count(*) FROM images WHERE path = 'owl/white.timg'")?.int, 1)
    }

    func testShardsWithMapsMergeToOneExtractionAndMixedInputsAreRefused() throws {
        try extract(db, Self.options(views: [.orig, .hflip]))
        var shards: [String] = []
        defer { shards.forEach(removeDB) }
        for k in 1...3 {
            shards.append(tempDB())
            var options = Self.options(views: [.orig, .hflip])
            options.shard = (k, 3)
            try extract(shards[k - 1], options)
        }
        let merged = tempDB()
        defer { removeDB(merged) }
        let report = try ShardMerge.merge(into: merged, from: shards)
        XCTAssertEqual(report.maps, 36)
        XCTAssertEqual(try mapRows(merged), try mapRows(db))
        XCTAssertEqual(try dumpRows(merged), try dumpRows(db))

        let plain = tempDB()
        let out = tempDB()
        defer { [plain, out].forEach(removeDB) }
        var options = Self.options(maps: false, views: [.orig, .hflip])
        options.shard = (1, 3)
        try extract(plain, options)
        XCTAssertThrowsError(try ShardMerge.merge(into: out, from: [shards[1], plain])) {
            XCTAssertEqual(
                "\($0)",
                "cannot merge: \(plain) has no maps but \(shards[1]) has maps of views hflip,orig: "
                    + "run `tlearn extract --maps` on \(plain) first (it computes only the maps)")
        }
    }

    func testMapsLoadForTrainingInEmbeddingOrderAndAWrongSizedBlobIsRefused() throws {
        try extract(db, Self.options(views: [.orig, .hflip]))
        let c = try Database.open(db)
        let m = try EmbeddingSet.load(from: c, backbone: 1, maps: true)
        XCTAssertEqual(m.map, ToyMapEmbedder.shape)
        XCTAssertEqual(m.count, 36)
        XCTAssertEqual(m.vectors.count, 36)
        XCTAssertEqual(m.width, 12)
        let order = try c.rows("SELECT image_id, view FROM embeddings ORDER BY image_id, view").map {
            "\($0[0].int!) \($0[1].string!)"
        }
        XCTAssertEqual(zip(m.imageIDs, m.views).map { "\($0) \($1.rawValue)" }, order)
        let row = try XCTUnwrap(m.paths.indices.first { m.paths[$0] == "fox/2.timg" && m.views[$0] == .hflip })
        XCTAssertEqual(m.classes[Int(m.labels[row])], "fox")
        guard
            case .blob(let bytes) = try c.rows(
                "SELECT map FROM labeled_maps WHERE path = 'fox/2.timg' AND view = 'hflip'")[0][0]
        else {
            return XCTFail("no BLOB")
        }
        XCTAssertEqual(
            Array(UnsafeBufferPointer(start: m.vectors.row(row), count: 12)),
            bytes.withUnsafeBytes { MapBlob.floats($0) })

        try c.run("UPDATE maps SET map = zeroblob(22) WHERE id = (SELECT max(id) FROM maps)")
        XCTAssertThrowsError(try EmbeddingSet.load(from: c, backbone: 1, maps: true)) { error in
            XCTAssertTrue(
                "\(error)".hasSuffix("map of fox/5.timg has 22 bytes, expected 24 (2x2x3 float16)"), "\(error)")
        }
        try c.run("DELETE FROM backbone_tops")
        XCTAssertThrowsError(try EmbeddingSet.load(from: c, backbone: 1, maps: true)) {
            XCTAssertEqual("\($0)", "\(self.db!) has no maps of backbone 1: extract them with `tlearn extract --maps`")
        }
    }
}
