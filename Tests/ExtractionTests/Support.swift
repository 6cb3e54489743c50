import Foundation
import Synchronization
import XCTest

@testable import Extraction
@testable import Store

/// A folder tree in the temp directory, removed by `remove()`.
struct TempTree {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-extract-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    func write(_ relative: String, _ bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: root + "/" + relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    func remove(_ relative: String) throws { try FileManager.default.removeItem(atPath: root + "/" + relative) }
    func path(_ relative: String) -> String { root + "/" + relative }
    func cleanUp() { try? FileManager.default.removeItem(atPath: root) }
}

/// A made-up image format for tests of the pipeline alone: "TIMG" then pixel bytes.
/// Deterministic, so vectors can be compared across runs, batch sizes and thread counts.
struct ToyPreparer: ImagePreparer {
    struct Failure: FailureReason, CustomStringConvertible {
        let code: String
        let path: String
        var description: String { "cannot decode \(path): \(code)" }
    }

    static func image(_ seed: Int, length: Int = 40) -> [UInt8] {
        Array("TIMG".utf8) + (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ seed &* 13) }
    }

    mutating func sniff(_ prefix: [UInt8], size: Int, path: String) throws {
        if !prefix.starts(with: Array("TIMG".utf8)) { throw Failure(code: "not_image", path: path) }
    }

    mutating func prepare(
        _ bytes: [UInt8], path: String, size: Int, views: [View], into output: UnsafeMutablePointer<Float>
    ) throws -> (width: Int, height: Int) {
        let pixels = Array(bytes.dropFirst(4))
        if pixels.count < 8 { throw Failure(code: "truncated", path: path) }
        let n = size * size * 3
        for (k, view) in views.enumerated() {
            for i in 0..<n {
                let j = view == .hflip ? n - 1 - i : i
                output[k * n + i] = Float(pixels[j % pixels.count]) / 127.5 - 1
            }
        }
        return (pixels.count, 1)
    }
}

/// A deterministic stand-in network: per-image sums, so batch composition cannot matter. A class,
/// so the counts of what its workers embedded add up in one place.
final class ToyEmbedder: Embedder, @unchecked Sendable {
    let dim = 4
    let inputSize: Int
    private let counts = Mutex((calls: 0, rows: 0))
    /// Times a worker was asked to embed, and the inputs it was given.
    var calls: Int { counts.withLock { $0.calls } }
    var rows: Int { counts.withLock { $0.rows } }

    init(inputSize: Int = 4) { self.inputSize = inputSize }

    func makeWorker() -> EmbedWorker {
        { [self] input, count, output in
            counts.withLock {
                $0.calls += 1
                $0.rows += count
            }
            let n = inputSize * inputSize * 3
            for b in 0..<count {
                let x = UnsafeBufferPointer(start: input + b * n, count: n)
                output[b * dim + 0] = x.reduce(0, +)
                output[b * dim + 1] = x.enumerated().reduce(0) { $0 + $1.element * Float($1.offset % 5) }
                output[b * dim + 2] = x[0]
                output[b * dim + 3] = x[n - 1]
            }
        }
    }
}

let toyKey = BackboneKey(
    weightsSHA256: String(repeating: "ab", count: 32), alpha: 1, inputSize: 4, preprocessing: "toy", dim: 4,
    weightsName: "toy.h5")

/// Runs one toy extraction of `root` into `db`.
@discardableResult
func toyExtract(
    _ root: String, db: String, options: ExtractionOptions = ExtractionOptions(), policy: SplitPolicy? = nil,
    embedder: inout ToyEmbedder
) throws -> ExtractionSummary {
    let store = try EmbeddingStore(path: db, policy: policy)
    let backbone = try store.backboneID(toyKey)
    let extractor = Extractor(store: store, backbone: backbone, embedder: embedder, options: options) { ToyPreparer() }
    let summary = try extractor.run(try Scanner.scan(root: root))
    embedder = extractor.embedder
    return summary
}

@discardableResult
func toyExtract(
    _ root: String, db: String, options: ExtractionOptions = ExtractionOptions(), policy: SplitPolicy? = nil
) throws -> ExtractionSummary {
    var e = ToyEmbedder()
    return try toyExtract(root, db: db, options: options, policy: policy, embedder: &e)
}

/// Every row that matters, without ids and timestamps: equal dumps mean equal databases.
func dumpRows(_ path: String) throws -> [String] {
    let db = try Database.open(path, readOnly: true)
    var out = try db.rows(
        """
        SELECT i.path, c.name, i.sha256, i.bytes, i.width, i.height, i.split, e.view, b.weights_sha256, b.input_size, hex(e.vector)
        FROM images i JOIN classes c ON c.id = i.class_id
        LEFT JOIN embeddings e ON e.image_id = i.id LEFT JOIN backbones b ON b.id = e.backbone_id
        ORDER BY i.path, e.view, b.weights_sha256
        """
    ).map { "image " + $0.map(render).joined(separator: " | ") }
    out += try db.rows("SELECT path, reason FROM failures ORDER BY path").map {
        "failure " + $0.map(render).joined(separator: " | ")
    }
    out += try db.rows("SELECT name FROM classes ORDER BY name").map { "class " + $0.map(render).joined() }
    return out
}

private func render(_ v: SQLValue) -> String {
    switch v {
    case .null: "NULL"
    case .integer(let i): "\(i)"
    case .real(let d): "\(d)"
    case .text(let s): s
    case .blob(let b): "x'\(b.count)'"
    }
}

func tempDB() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-\(UUID().uuidString).sqlite").path
}

func removeDB(_ path: String) {
    for s in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + s) }
}

/// The repository root, from this file's path.
let extractionRepoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
