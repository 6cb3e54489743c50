import TestSupport
import XCTest

@testable import Store
@testable import VectorSQL

final class CosineSearchTests: XCTestCase {
    /// A matrix of `n` random vectors with planted exact duplicates, scaled copies and a zero row.
    func makeDatabase(n: Int, dim: Int, seed: UInt64) throws -> (SyntheticDatabase, [[Float]], Int64) {
        let s = try syntheticDB()
        try s.addClasses(["a", "b"])
        let backbone = try s.addBackbone(dim: dim)
        var rng = SplitMix(seed: seed)
        var vectors: [[Float]] = []
        try s.db.transaction {
            for i in 0..<n {
                var v = rng.vector(dim)
                if i == 5 { v = vectors[2] }  // exact duplicate: a tie
                if i == 9 { v = vectors[3].map { $0 * 3 } }  // same direction
                if i == 11 { v = [Float](repeating: 0, count: dim) }
                vectors.append(v)
                try s.addImage(
                    path: "img\(i).jpg", className: i % 2 == 0 ? "a" : "b", split: ["train", "val", "test"][i % 3],
                    vector: v, backbone: backbone)
            }
        }
        return (s, vectors, backbone)
    }

    /// Brute force in Double, ties by image id (= row + 1 here).
    func bruteForce(_ vectors: [[Float]], query: [Float], k: Int, excluding: Int?) -> [(Int, Double)] {
        func cos(_ a: [Float], _ b: [Float]) -> Double {
            let ab = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let aa = a.reduce(0.0) { $0 + Double($1) * Double($1) }
            let bb = b.reduce(0.0) { $0 + Double($1) * Double($1) }
            return aa == 0 || bb == 0 ? 0 : min(1, max(-1, ab / (aa.squareRoot() * bb.squareRoot())))
        }
        let all = vectors.indices.filter { $0 != excluding }.map { ($0, cos(query, vectors[$0])) }
        return Array(all.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(k))
    }

    func testNearestAgreesWithBruteForceIncludingTiesAndZeroRows() throws {
        let (s, vectors, backbone) = try makeDatabase(n: 700, dim: 48, seed: 9)
        defer { removeDatabase(s.path) }
        let search = CosineSearch(try VectorMatrix.load(s.db, backbone: backbone))
        for (q, k) in [(2, 5), (3, 10), (0, 1), (11, 4), (400, 699), (699, 3)] {
            let got = search.nearest(to: vectors[q], k: k, excluding: q)
            let want = bruteForce(vectors, query: vectors[q], k: k, excluding: q)
            XCTAssertEqual(got.map(\.row), want.map(\.0), "query row \(q), k \(k)")
            for (g, w) in zip(got, want) { assertClose(g.cosine, w.1, rtol: 1e-13, atol: 1e-15, "row \(g.row)") }
        }
        XCTAssertEqual(search.nearest(to: vectors[0], k: 2000).count, 700, "k larger than n lists everything")
        // SQL agrees to the last digit (same VectorMath, same order).
        let sql = try s.db.rows(
            """
            SELECT e.image_id, vec_cosine(e.vector, (SELECT vector FROM embeddings WHERE image_id = 4)) AS c
            FROM embeddings e WHERE e.image_id != 4 ORDER BY c DESC, e.image_id LIMIT 10
            """)
        let got = search.nearest(to: vectors[3], k: 10, excluding: 3)
        XCTAssertEqual(sql.map { $0[0].int! }, got.map { Int64($0.row + 1) })
        XCTAssertEqual(sql.map { $0[1].double! }, got.map(\.cosine))
    }

    func testNearTiesBelowFloat32ResolutionAreOrderedExactly() throws {
        // 300 vectors within 1e-5 of one direction: their cosines with it differ by less than
        // float32 can resolve, so the order comes from the Double re-scoring alone.
        let s = try syntheticDB()
        defer { removeDatabase(s.path) }
        try s.addClasses(["a"])
        let backbone = try s.addBackbone(dim: 1280)
        var rng = SplitMix(seed: 99)
        let base = rng.vector(1280).map { abs($0) + 0.1 }
        var vectors: [[Float]] = []
        try s.db.transaction {
            for i in 0..<300 {
                let v = base.map { $0 * (1 + 1e-5 * rng.float()) }
                vectors.append(v)
                try s.addImage(path: "\(i)", className: "a", split: "train", vector: v, backbone: backbone)
            }
        }
        let search = CosineSearch(try VectorMatrix.load(s.db, backbone: backbone))
        for k in [1, 10, 299] {
            let got = search.nearest(to: base, k: k)
            let want = bruteForce(vectors, query: base, k: k, excluding: nil)
            // Summation order differs from the reference in the last bits, so rows whose cosines
            // are within ~1e-15 may swap (float32 would misorder by 1e-7); the cosine at each rank must hold.
            let reference = Dictionary(
                uniqueKeysWithValues: bruteForce(vectors, query: base, k: 300, excluding: nil).map { ($0.0, $0.1) })
            XCTAssertEqual(got.count, k)
            for (rank, (g, w)) in zip(got, want).enumerated() {
                XCTAssertEqual(reference[g.row]!, w.1, accuracy: 1e-14, "k \(k) rank \(rank)")
            }
            XCTAssertGreaterThan(Set(got.map(\.row)).intersection(want.map(\.0)).count, k * 9 / 10, "k \(k)")
        }
    }

    func testPairsAgreeWithBruteForceAcrossBlockBoundaries() throws {
        let (s, vectors, backbone) = try makeDatabase(n: 60, dim: 16, seed: 4)
        defer { removeDatabase(s.path) }
        let search = CosineSearch(try VectorMatrix.load(s.db, backbone: backbone))
        for threshold in [0.999, 0.6, 0.3] {
            var want: [(Int, Int)] = []
            for i in vectors.indices {
                for j in (i + 1)..<vectors.count
                where bruteForce([vectors[j]], query: vectors[i], k: 1, excluding: nil)[0].1 >= threshold {
                    want.append((i, j))
                }
            }
            for block in [7, 16, 64, 512] {
                let got = try search.pairs(atLeast: threshold, blockRows: block).map { ($0.0, $0.1) }
                XCTAssertEqual(
                    got.sorted { $0 < $1 }.map { "\($0)-\($1)" }, want.map { "\($0)-\($1)" },
                    "threshold \(threshold) block \(block)")
            }
        }
        let dupes = try search.pairs(atLeast: 0.999999)
        XCTAssertEqual(dupes.map { "\($0.0)-\($0.1)" }, ["2-5", "3-9"])
        XCTAssertEqual(dupes[0].2, 1, "a vector's cosine with its copy is exactly 1")
        XCTAssertThrowsError(try search.pairs(atLeast: -0.9, blockRows: 16, limit: 100)) {
            XCTAssertTrue("\($0)".contains("more than 100 pairs have cosine >= -0.9 among 60 vectors"), "\($0)")
        }
        assertClose(dupes[1].2, 1, rtol: 0, atol: 1e-15)
    }
}

final class VectorMatrixTests: XCTestCase {
    func testRowsAreInImageIDOrderWhateverTheInsertOrder() throws {
        let s = try syntheticDB()
        defer { removeDatabase(s.path) }
        try s.addClasses(["a"])
        let backbone = try s.addBackbone(dim: 2)
        for i in 0..<5 {
            try s.addImage(path: "\(i).jpg", className: "a", split: "train", vector: nil, backbone: backbone)
        }
        for id in [4, 2, 5, 1, 3] {  // embeddings rowids in a different order than image ids
            try s.db.run(
                "INSERT INTO embeddings(image_id, backbone_id, vector) VALUES (?1, ?2, ?3)",
                [.integer(Int64(id)), .integer(backbone), blob([Float(id), -Float(id)])])
        }
        try s.db.run(
            "INSERT INTO embeddings(image_id, backbone_id, view, vector) VALUES (1, ?1, 'hflip', ?2)",
            [.integer(backbone), blob([9, 9])])
        let m = try VectorMatrix.load(s.db, backbone: backbone)
        XCTAssertEqual(m.imageIDs, [1, 2, 3, 4, 5])
        XCTAssertEqual(m.values, [1, -1, 2, -2, 3, -3, 4, -4, 5, -5])
        XCTAssertEqual(m.paths, ["0.jpg", "1.jpg", "2.jpg", "3.jpg", "4.jpg"])
        XCTAssertEqual(m.row(ofImage: 4), 3)
        XCTAssertNil(m.row(ofImage: 6))
        XCTAssertEqual(try VectorMatrix.load(s.db, backbone: backbone, view: "hflip").values, [9, 9])
    }

    func testAVectorOfTheWrongSizeNamesTheImage() throws {
        let s = try syntheticDB()
        defer { removeDatabase(s.path) }
        try s.addClasses(["a"])
        let backbone = try s.addBackbone(dim: 3)
        try s.addImage(path: "ok.jpg", className: "a", split: "train", vector: [1, 2, 3], backbone: backbone)
        try s.addImage(path: "short.jpg", className: "a", split: "val", vector: [1, 2], backbone: backbone)
        XCTAssertThrowsError(try VectorMatrix.load(s.db, backbone: backbone)) {
            XCTAssertTrue(
                "\($0)".contains(
                    "the orig vector of image 2 (short.jpg) is 8 bytes; backbone 1 has dim 3, so 12 bytes"), "\($0)")
        }
        XCTAssertThrowsError(try BackboneInfo.choose(s.db, requested: 7)) {
            XCTAssertTrue("\($0)".contains("has no backbone 7 (backbones: 1)"), "\($0)")
        }
    }
}
