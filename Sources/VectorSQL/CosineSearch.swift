import Formats
import Kernels
import Store

/// One neighbour: a row of the matrix and its cosine similarity to the query.
public struct Neighbour: Sendable, Equatable {
    public let row: Int
    public let cosine: Double
}

/// Exact cosine search over a `VectorMatrix` or a `MappedMatrix`: one BLAS pass in float32 finds
/// the candidates, then each candidate is scored again in Double with `VectorMath.cosine`, so the
/// cosines and their order are exactly those of SQL `ORDER BY vec_cosine(...) DESC, image_id`.
public struct CosineSearch {
    /// Where the rows live: an array loaded from SQLite, or the memory-mapped matrix file.
    enum Rows {
        case loaded(VectorMatrix, inverseNorms: [Float])
        case mapped(MappedMatrix)
    }

    let rows: Rows
    public let count: Int
    public let dim: Int

    /// Float32 error allowance for candidates. A float32 dot product of n terms of unit vectors is
    /// off by at most about n·u (u = 2^-24) plus a few u for the norms; twice that, n·2^-23
    /// (1.5e-4 for 1280 floats), leaves a margin, so nothing that belongs to the result is missed.
    var slack: Float { Float(dim + 16) * Float.ulpOfOne }

    /// Computes the row norms once; the matrix is used as is (no normalized copy).
    public init(_ matrix: VectorMatrix) {
        let norms = matrix.values.withUnsafeBufferPointer { v in
            (0..<matrix.count).map { i in
                Self.inverseNorm(UnsafeBufferPointer(rebasing: v[(i * matrix.dim)..<((i + 1) * matrix.dim)]))
            }
        }
        rows = .loaded(matrix, inverseNorms: norms)
        count = matrix.count
        dim = matrix.dim
    }

    /// Searches the mapped matrix, with the inverse norms stored in its file.
    public init(_ matrix: MappedMatrix) {
        rows = .mapped(matrix)
        count = matrix.count
        dim = matrix.dim
    }

    /// 1 / |row| in the precision `VectorMath` computes norms, 0 for an all-zero row (whose cosine
    /// with anything is 0); what the matrix file stores (`MatrixFile.open`'s `rowInverseNorm`).
    public static func inverseNorm(_ row: UnsafeBufferPointer<Float>) -> Float { MatrixFile.inverseNorm(row) }

    /// Calls `body` with the row-major values and the inverse norms.
    func withRows<R>(_ body: (UnsafePointer<Float>, UnsafePointer<Float>) throws -> R) rethrows -> R {
        switch rows {
        case .loaded(let m, let norms):
            return try m.values.withUnsafeBufferPointer { v in
                try norms.withUnsafeBufferPointer { try body(v.baseAddress!, $0.baseAddress!) }
            }
        case .mapped(let m):
            return try body(m.values, m.inverseNorms.baseAddress!)
        }
    }

    /// The image id of row `i` (ties are broken by it).
    public func imageID(_ i: Int) -> Int64 {
        switch rows {
        case .loaded(let m, _): m.imageIDs[i]
        case .mapped(let m): m.imageIDs[i]
        }
    }

    /// Row `i` as a `Vector` of `values` (the pointer `withRows` gave).
    @inline(__always)
    func row(_ values: UnsafePointer<Float>, _ i: Int) -> Vector {
        Vector(UnsafeRawBufferPointer(start: values + i * dim, count: 4 * dim))
    }

    /// The `k` rows most similar to `query` (by cosine, ties by image id), leaving out `excluding`.
    public func nearest(to query: [Float], k: Int, excluding: Int? = nil) -> [Neighbour] {
        precondition(query.count == dim, "CosineSearch: query of \(query.count) floats, matrix of \(dim)")
        let n = count
        guard k > 0, n > 0 else { return [] }
        let qNorm = query.withUnsafeBytes { VectorMath.norm(Vector($0)) }
        var scores = [Float](repeating: 0, count: n)
        withRows { values, inverseNorms in
            if qNorm > 0 {
                let q = query.map { Float(Double($0) / qNorm) }
                q.withUnsafeBufferPointer { x in
                    scores.withUnsafeMutableBufferPointer { y in
                        gemv(values, x.baseAddress!, y.baseAddress!, m: n, n: dim)
                    }
                }
                for i in 0..<n { scores[i] *= inverseNorms[i] }
            }
        }
        if let excluding { scores[excluding] = -.infinity }
        let available = n - (excluding == nil ? 0 : 1)
        let kk = min(k, available)
        guard kk > 0 else { return [] }
        let threshold = kthLargest(scores, kk) - slack
        let candidates = (0..<n).filter { scores[$0] >= threshold && $0 != excluding }
        return rescore(query, candidates, k: kk)
    }

    /// Candidates scored in Double, best first (ties by image id), the first `k`.
    func rescore(_ query: [Float], _ candidates: [Int], k: Int) -> [Neighbour] {
        var scored: [Neighbour] = []
        scored.reserveCapacity(candidates.count)
        query.withUnsafeBytes { qb in
            let qv = Vector(qb)
            withRows { values, _ in
                for i in candidates { scored.append(Neighbour(row: i, cosine: VectorMath.cosine(qv, row(values, i)))) }
            }
        }
        scored.sort { $0.cosine != $1.cosine ? $0.cosine > $1.cosine : imageID($0.row) < imageID($1.row) }
        return Array(scored.prefix(k))
    }

    /// `nearest` for many queries at once: the matrix is read once per block of rows for all of
    /// them (one GEMM) instead of once per query; the answers are `nearest`'s, query by query.
    public func nearest(toEach queries: [[Float]], k: Int, excluding: [Int?], blockRows: Int = 16_384) -> [[Neighbour]]
    {
        precondition(
            queries.count == excluding.count, "CosineSearch: \(queries.count) queries, \(excluding.count) exclusions")
        let q = queries.count
        let n = count
        guard q > 0 else { return [] }
        guard k > 0, n > 0 else { return Array(repeating: [], count: q) }
        if q == 1 { return [nearest(to: queries[0], k: k, excluding: excluding[0])] }
        // Unit queries, row-major q x dim; a zero query scores 0 everywhere, as in `nearest`.
        var unit = [Float](repeating: 0, count: q * dim)
        for (j, query) in queries.enumerated() {
            precondition(query.count == dim, "CosineSearch: query of \(query.count) floats, matrix of \(dim)")
            let norm = query.withUnsafeBytes { VectorMath.norm(Vector($0)) }
            if norm > 0 { for t in 0..<dim { unit[j * dim + t] = Float(Double(query[t]) / norm) } }
        }
        // Per query: a min-heap of the k best scores so far, and every row that might still make
        // the cut (score >= heap minimum - slack at the time it was seen), filtered at the end.
        var heaps = [[Float]](repeating: [], count: q)
        var kept = [[(row: Int, score: Float)]](repeating: [], count: q)
        var block = [Float](repeating: 0, count: min(blockRows, n) * q)
        withRows { values, inverseNorms in
            for start in stride(from: 0, to: n, by: blockRows) {
                let rowsHere = min(blockRows, n - start)
                unit.withUnsafeBufferPointer { u in
                    block.withUnsafeMutableBufferPointer { c in
                        // c (rowsHere x q) = rows (rowsHere x dim) · unit^T (dim x q)
                        gemm(
                            values + start * dim, u.baseAddress!, c.baseAddress!, m: rowsHere, n: q, k: dim,
                            transB: true)
                    }
                }
                for j in 0..<q {
                    let kk = min(k, n - (excluding[j] == nil ? 0 : 1))
                    if kk <= 0 { continue }
                    for r in 0..<rowsHere {
                        let i = start + r
                        if i == excluding[j] { continue }
                        let score = block[r * q + j] * inverseNorms[i]
                        Self.push(score, into: &heaps[j], capacity: kk)
                        let floor = heaps[j].count < kk ? -Float.infinity : heaps[j][0] - slack
                        if score >= floor { kept[j].append((i, score)) }
                    }
                    if kept[j].count > 4 * kk + 1024 {
                        let floor = heaps[j].count < kk ? -Float.infinity : heaps[j][0] - slack
                        kept[j].removeAll { $0.score < floor }
                    }
                }
            }
        }
        return (0..<q).map { j in
            let kk = min(k, n - (excluding[j] == nil ? 0 : 1))
            guard kk > 0 else { return [] }
            let threshold = heaps[j].count < kk ? -Float.infinity : heaps[j][0] - slack
            return rescore(queries[j], kept[j].filter { $0.score >= threshold }.map(\.row), k: kk)
        }
    }

    /// Adds `v` to a min-heap of at most `capacity` values (the largest seen).
    static func push(_ v: Float, into heap: inout [Float], capacity: Int) {
        if heap.count < capacity {
            heap.append(v)
            var i = heap.count - 1
            while i > 0, heap[(i - 1) / 2] > heap[i] {
                heap.swapAt(i, (i - 1) / 2)
                i = (i - 1) / 2
            }
        } else if v > heap[0] {
            heap[0] = v
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var s = i
                if l < capacity, heap[l] < heap[s] { s = l }
                if r < capacity, heap[r] < heap[s] { s = r }
                if s == i { break }
                heap.swapAt(i, s)
                i = s
            }
        }
    }

    /// The k-th largest value (1-based), by partial selection.
    func kthLargest(_ values: [Float], _ k: Int) -> Float {
        // A min-heap of the k largest seen so far: O(n log k), no copy of all n scores sorted.
        var heap: [Float] = []
        heap.reserveCapacity(k)
        for v in values where v > -.infinity { Self.push(v, into: &heap, capacity: k) }
        return heap.count < k ? -.infinity : heap[0]
    }

    /// Pairs of rows with cosine >= `threshold`, each pair once (i < j), most similar first.
    /// Computed block by block with GEMM, then confirmed in Double like `nearest`. More than
    /// `limit` candidate pairs means the threshold is too low to be about duplicates: throws.
    public func pairs(atLeast threshold: Double, blockRows: Int = 512, limit: Int = 5_000_000) throws -> [(
        Int, Int, Double
    )] {
        let n = count
        let d = dim
        guard n > 1 else { return [] }
        let cut = Float(threshold) - slack
        var out: [(Int, Int, Double)] = []
        var block = [Float](repeating: 0, count: blockRows * blockRows)
        var overflow = false
        withRows { base, inverseNorms in
            for a in stride(from: 0, to: n, by: blockRows) where !overflow {
                let rowsA = min(blockRows, n - a)
                for b in stride(from: a, to: n, by: blockRows) {
                    let rowsB = min(blockRows, n - b)
                    block.withUnsafeMutableBufferPointer { c in
                        // c (rowsA x rowsB) = A (rowsA x d) · B^T (d x rowsB)
                        gemm(
                            base + a * d, base + b * d, c.baseAddress!, m: rowsA, n: rowsB, k: d, transB: true,
                            ldc: blockRows)
                    }
                    for i in 0..<rowsA {
                        let ia = inverseNorms[a + i]
                        if ia == 0 { continue }
                        for j in (b == a ? i + 1 : 0)..<rowsB
                        where block[i * blockRows + j] * ia * inverseNorms[b + j] >= cut {
                            out.append((a + i, b + j, 0))
                        }
                    }
                    if out.count > limit {
                        overflow = true
                        break
                    }
                }
            }
        }
        if overflow {
            throw StoreError.invalid(
                "more than \(limit) pairs have cosine >= \(threshold) among \(n) vectors: that is not a list of duplicates; raise --threshold"
            )
        }
        // Exact confirmation in Double: the same value `vec_cosine` gives in SQL.
        return confirm(out.map { ($0.0, $0.1) }, atLeast: threshold)
    }

    /// Candidate pairs scored in Double (`vec_cosine`'s value), those >= `threshold` kept, most
    /// similar first, ties by row pair.
    func confirm(_ candidates: [(Int, Int)], atLeast threshold: Double) -> [(Int, Int, Double)] {
        var confirmed: [(Int, Int, Double)] = []
        withRows { values, _ in
            for (i, j) in candidates {
                let c = VectorMath.cosine(row(values, i), row(values, j))
                if c >= threshold { confirmed.append((i, j, c)) }
            }
        }
        confirmed.sort { $0.2 != $1.2 ? $0.2 > $1.2 : ($0.0, $0.1) < ($1.0, $1.1) }
        return confirmed
    }
}
