import Foundation
import XCTest

@testable import Extraction
@testable import Formats
@testable import Imaging
@testable import MobileNet
@testable import Store

/// `ImageEmbedder` (the path of predict, evaluate --images and TTA) gives a file the maps and vectors
/// `extract --maps` stored for it, bit for bit, with the real decoder and the tiny fixture weights.
final class ImageEmbedderMapsTests: XCTestCase {
    func testMapsAndVectorsOfFilesEqualTheirStoredRowsBitForBit() throws {
        let tree = try TempTree()
        defer { tree.cleanUp() }
        let db = tempDB()
        defer { removeDB(db) }
        let names = ["rgb_64x48.jpg", "rgb_192x128.jpg", "progressive_96x72.jpg", "rgba_30x20.png", "exif6_40x24.jpg"]
        for (i, name) in names.enumerated() {
            try tree.write(
                "\(["a", "b"][i % 2])/\(name)",
                Array(try Data(contentsOf: URL(fileURLWithPath: extractionRepoRoot + "/fixtures/images/" + name))))
        }
        let weights = extractionRepoRoot + "/fixtures/weights/tiny_a035_keras3.h5"
        var job = ExtractJob(images: tree.root, manifest: nil, db: db)
        job.options.maps = true
        job.options.views = [.orig, .hflip]
        job.options.workers = 2
        let preprocessing = ImagingPreparer(minSide: 96).identifier
        let summary = try job.run(
            backbone: { try Backbone.load(weights: weights, inputSize: 96, preprocessing: preprocessing) },
            makePreparer: { ImagingPreparer(minSide: 96) }, reporter: ProgressReporter(style: .quiet), warn: { _ in })
        XCTAssertEqual(summary.maps, 10)

        let conn = try Database.open(db, readOnly: true)
        let backbone = try BackboneInfo.choose(conn, requested: nil)
        let embedder = try Backbone.embedder(for: backbone, weights: weights)
        XCTAssertEqual(try BackboneTop.load(conn, backbone: backbone.id), embedder.net.backboneTop)
        let files = try conn.rows("SELECT path FROM images ORDER BY path").compactMap { $0[0].string }
        let both = embedder.embed(
            files.map(tree.path), views: [.orig, .hflip], outputs: [.vectors, .maps], threads: 2)
        let mapsOnly = embedder.embed(files.map(tree.path), views: [.orig, .hflip], outputs: .maps, threads: 1)
        for (k, file) in files.enumerated() {
            let e = try both[k].get()
            let m = try mapsOnly[k].get()
            XCTAssertEqual(m.vectors, [])
            for (v, view) in ["orig", "hflip"].enumerated() {
                let row = try conn.rows(
                    "SELECT e.vector, m.map FROM embeddings e JOIN maps m USING (image_id, backbone_id, view) "
                        + "JOIN images i ON i.id = e.image_id WHERE i.path = ?1 AND e.view = ?2",
                    [.text(file), .text(view)])
                guard case .blob(let vector)? = row.first?[0], case .blob(let map)? = row.first?[1] else {
                    return XCTFail("\(file) \(view): no rows")
                }
                XCTAssertEqual(
                    e.vectors[v].map(\.bitPattern), vector.withUnsafeBytes { VectorBlob.floats($0) }.map(\.bitPattern),
                    "\(file) \(view) vector")
                let stored = map.withUnsafeBytes { MapBlob.floats($0) }
                XCTAssertEqual(stored.count, 3 * 3 * 112)
                XCTAssertEqual(e.maps[v].map(\.bitPattern), stored.map(\.bitPattern), "\(file) \(view) map")
                XCTAssertEqual(m.maps[v].map(\.bitPattern), stored.map(\.bitPattern), "\(file) \(view) map alone")
            }
        }
    }
}
