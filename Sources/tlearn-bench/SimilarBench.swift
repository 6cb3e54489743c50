import Foundation
import Kernels
import Store
import VectorSQL

/// `tlearn similar` at scale: 100,000 synthetic 1280-d vectors in a temporary database; times
/// loading and one query (target: < 100 ms after loading) and checks the answer against SQL
/// `ORDER BY vec_cosine(...) DESC, image_id LIMIT k`. Throws if they disagree.
func similarBench(
    count: Int = 100_000, dim: Int = 1280, k: Int = 10, queries: Int = 5, say: (String) -> Void = { print($0) }
) throws -> Double {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
        "tlearn-similar-bench-\(UUID().uuidString).sqlite"
    ).path
    defer { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
    let clock = ContinuousClock()
    func ms(_ d: Duration) -> String {
        String(format: "%.1f ms", Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
    }

    // Clustered, non-negative vectors like ReLU6 embeddings: cosines bunch up, so near-ties are common.
    let db = try VectorSQL.open(path)
    var rng = SystemRandomNumberGenerator()
    var state = UInt64.random(in: 1...UInt64.max, using: &rng)
    func next() -> Float {  // xorshift64*: fast enough for 128M floats
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return Float((state &* 2_685_821_657_736_338_717) >> 40) / Float(1 << 24)
    }
    let centers = (0..<20).map { _ in (0..<dim).map { _ in next() * 2 - 0.7 } }
    let insertTime = try clock.measure {
        try db.transaction {
            for c in 0..<20 { try db.run("INSERT INTO classes(name) VALUES (?1)", [.text("class\(c)")]) }
            try db.run(
                "INSERT INTO backbones(weights_sha256, alpha, input_size, preprocessing, dim) VALUES ('bench', 1.0, 224, 'synthetic', ?1)",
                [.integer(Int64(dim))])
            let image = try db.prepare(
                "INSERT INTO images(id, path, class_id, sha256, bytes, split) VALUES (?1, ?2, ?3, '', 0, 'train')")
            let embedding = try db.prepare("INSERT INTO embeddings(image_id, backbone_id, vector) VALUES (?1, 1, ?2)")
            var v = [Float](repeating: 0, count: dim)
            for i in 0..<count {
                let c = i % 20
                for j in 0..<dim { v[j] = max(0, centers[c][j] + (next() - 0.5)) }
                image.reset()
                try image.bind([.integer(Int64(i + 1)), .text("c\(c)/\(i).jpg"), .integer(Int64(c + 1))])
                while try image.step() {}
                embedding.reset()
                try embedding.bind(.integer(Int64(i + 1)), at: 1)
                try v.withUnsafeBytes { try embedding.bindBlob($0, at: 2) }
                while try embedding.step() {}
            }
        }
    }
    say("similar: inserted \(count) vectors of \(dim) floats in \(ms(insertTime))")

    var matrix: VectorMatrix?
    let loadTime = try clock.measure { matrix = try VectorMatrix.load(db, backbone: 1) }
    var search: CosineSearch?
    let indexTime = clock.measure { search = CosineSearch(matrix!) }
    say("similar: loaded the matrix in \(ms(loadTime)), norms in \(ms(indexTime))")

    var times: [Duration] = []
    for q in 0..<queries {
        let row = (q * 7919) % count
        let query = matrix!.vector(row)
        var found: [Neighbour] = []
        times.append(clock.measure { found = search!.nearest(to: query, k: k, excluding: row) })
        var sql: [[SQLValue]] = []
        let sqlTime = try clock.measure {
            sql = try db.rows(
                """
                SELECT image_id, vec_cosine(vector, (SELECT vector FROM embeddings WHERE image_id = ?1)) AS c
                FROM embeddings WHERE image_id != ?1 ORDER BY c DESC, image_id LIMIT ?2
                """, [.integer(Int64(row + 1)), .integer(Int64(k))])
        }
        let ids = found.map { matrix!.imageIDs[$0.row] }
        let cosines = found.map(\.cosine)
        guard sql.map({ $0[0].int ?? -1 }) == ids, sql.map({ $0[1].double ?? .nan }) == cosines else {
            throw StoreError.invalid("similar disagrees with SQL for image \(row + 1): \(ids) \(cosines) vs \(sql)")
        }
        say("similar: query \(q + 1): \(ms(times.last!)) (SQL brute force \(ms(sqlTime))), top-\(k) identical to SQL")
    }
    // The floor: the BLAS pass alone, which reads the whole matrix once (memory-bound).
    var y = [Float](repeating: 0, count: count)
    let x = matrix!.vector(0)
    let gemvTime = clock.measure {
        matrix!.values.withUnsafeBufferPointer { m in
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer {
                    gemv(m.baseAddress!, xb.baseAddress!, $0.baseAddress!, m: count, n: dim)
                }
            }
        }
    }
    say(
        "similar: of which the sgemv over \((count * dim * 4) >> 20) MB alone takes \(ms(gemvTime)) (\(BLASThreads.current) BLAS threads)"
    )
    let best = times.min()!
    let median = times.sorted()[times.count / 2]
    say(
        "similar: one query over \(count) x \(dim): median \(ms(median)), best \(ms(best)) (target < 100 ms) \(median < .milliseconds(100) ? "OK" : "SLOW")"
    )
    return Double(median.components.attoseconds) / 1e15 + Double(median.components.seconds) * 1000
}

/// `similar` latency over 100,000 synthetic vectors, checked against brute-force SQL.
enum SimilarSection: BenchSection {
    static let name = "similar"
    static func run(_ c: BenchContext, _ report: inout BenchReport) throws {
        let ms = try similarBench(say: c.say)
        report.fields.append(("similar_100k_query_ms", ms))
    }
}
