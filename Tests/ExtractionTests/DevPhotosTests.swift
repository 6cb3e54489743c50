import Foundation
import XCTest

@testable import Extraction
@testable import Formats
@testable import Imaging
@testable import MobileNet
@testable import Store

/// End to end on the real dev photos and weights in ../shared: embeddings against Keras+Pillow's.
/// A 40-photo subset runs whenever ../shared is present; the whole 1837-photo set only with
/// TLEARN_DEV_EXTRACT=1 (it takes about 20 s in release, more in debug).
final class DevPhotosTests: XCTestCase {
    static let shared = URL(fileURLWithPath: extractionRepoRoot).deletingLastPathComponent().appendingPathComponent(
        "shared"
    ).path
    static var photos: String { shared + "/data/flower_photos_dev" }
    static var weights: String { shared + "/weights/mnv2_no_top_keras3.h5" }

    func requireShared() throws {
        guard FileManager.default.fileExists(atPath: Self.photos), FileManager.default.fileExists(atPath: Self.weights)
        else {
            throw XCTSkip("../shared not found at \(Self.shared): skipping the dev-photo checks")
        }
    }

    /// Reference rows (dev_paths.txt order) of Keras with Pillow's resize.
    func reference() throws -> [String: [Float]] {
        let paths = try String(contentsOfFile: Self.shared + "/reference/dev_paths.txt", encoding: .utf8).split(
            separator: "\n"
        ).map(String.init)
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.shared + "/reference/dev_embeddings_pil.f32"))
        let floats = data.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
        XCTAssertEqual(floats.count, paths.count * 1280)
        var out: [String: [Float]] = [:]
        for (i, p) in paths.enumerated() { out[p] = Array(floats[(i * 1280)..<((i + 1) * 1280)]) }
        return out
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var ab = 0.0
        var aa = 0.0
        var bb = 0.0
        for i in 0..<a.count {
            ab += Double(a[i]) * Double(b[i])
            aa += Double(a[i]) * Double(a[i])
            bb += Double(b[i]) * Double(b[i])
        }
        return ab / (aa.squareRoot() * bb.squareRoot())
    }

    /// Copies every `step`-th photo of each class into a temp tree.
    func subset(step: Int, into root: String) throws -> Int {
        var n = 0
        for label in try FileManager.default.contentsOfDirectory(atPath: Self.photos).sorted() {
            let files = try FileManager.default.contentsOfDirectory(atPath: Self.photos + "/" + label).sorted()
            try FileManager.default.createDirectory(atPath: root + "/" + label, withIntermediateDirectories: true)
            for (i, f) in files.enumerated() where i % step == 0 {
                try FileManager.default.copyItem(
                    atPath: Self.photos + "/\(label)/\(f)", toPath: root + "/\(label)/\(f)")
                n += 1
            }
        }
        return n
    }

    func extract(_ root: String, db: String, shard: (Int, Int)? = nil) throws -> ExtractionSummary {
        var job = ExtractJob(images: root, manifest: nil, db: db)
        job.options.shard = shard
        return try job.run(
            backbone: { try Backbone.load(weights: Self.weights, inputSize: 224) },
            makePreparer: { ImagingPreparer() }, reporter: ProgressReporter(style: .quiet), warn: { _ in })
    }

    func checkAgainstReference(_ db: String, minimumRows: Int) throws -> (mean: Double, min: Double) {
        let reference = try reference()
        let conn = try Database.open(db, readOnly: true)
        let rows = try conn.rows("SELECT path, vector FROM labeled_embeddings WHERE view = 'orig'")
        XCTAssertGreaterThanOrEqual(rows.count, minimumRows)
        var cosines: [Double] = []
        for r in rows {
            guard let p = r[0].string, case .blob(let bytes)? = Optional(r[1]), let ref = reference[p] else {
                XCTFail("no reference row for \(r[0])")
                continue
            }
            let v = bytes.withUnsafeBytes { VectorBlob.floats($0) }
            cosines.append(Self.cosine(v, ref))
        }
        let mean = cosines.reduce(0, +) / Double(cosines.count)
        let low = cosines.min() ?? 0
        print("dev photos: \(cosines.count) embeddings vs Keras+Pillow: mean cosine \(mean), min \(low)")
        XCTAssertGreaterThanOrEqual(mean, 0.995)
        XCTAssertGreaterThanOrEqual(low, 0.98)
        return (mean, low)
    }

    func testSubsetMatchesKerasPillowReference() throws {
        try requireShared()
        let root = try TempTree()
        defer { root.cleanUp() }
        let db = tempDB()
        defer { removeDB(db) }
        let n = try subset(step: 45, into: root.root)
        let s = try extract(root.root, db: db)
        XCTAssertEqual(s.extracted, n)
        XCTAssertEqual(s.failedCount, 0)
        _ = try checkAgainstReference(db, minimumRows: n)
    }

    func testWholeDevSetIncrementalAndShardedWhenAskedFor() throws {
        try requireShared()
        guard ProcessInfo.processInfo.environment["TLEARN_DEV_EXTRACT"] == "1" else {
            throw XCTSkip("set TLEARN_DEV_EXTRACT=1 to extract all 1837 dev photos (slow)")
        }
        let db = tempDB()
        defer { removeDB(db) }
        let first = try extract(Self.photos, db: db)
        print(
            "dev photos, first run: \(first.line); network alone \(Double(first.forwardRows) / first.forwardSeconds) images/s per worker thread"
        )
        XCTAssertEqual(first.extracted, 1837)
        _ = try checkAgainstReference(db, minimumRows: 1837)
        let second = try extract(Self.photos, db: db)
        print("dev photos, second run: \(second.line)")
        XCTAssertEqual(second.extracted, 0)
        XCTAssertEqual(second.cached, 1837)

        var shards: [String] = []
        defer { shards.forEach(removeDB) }
        for k in 1...3 {
            let s = tempDB()
            shards.append(s)
            _ = try extract(Self.photos, db: s, shard: (k, 3))
        }
        let merged = tempDB()
        defer { removeDB(merged) }
        _ = try ShardMerge.merge(into: merged, from: shards)
        XCTAssertEqual(try dumpRows(merged), try dumpRows(db))
    }
}
