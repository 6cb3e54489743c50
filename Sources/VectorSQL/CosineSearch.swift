import Formats
import Kernels
import Store

/// One neighbour: a row of the matrix and its cosine similarity to the query.
public struct Neighbour: Sendable, Equatable {
    public let row: Int
    public let cosine: Double
}

/// Exact cosine search over a `VectorMatrix`: one BLAS pass in float32 finds the candidates, then
/// each candidate is scored again in Double with `VectorMath.cosine`, so the cosines and their
/// order are exactly those of SQL `ORDER BY vec_cosine(...) DESC, image_id`.
public struct CosineSearch {
    public let matrix: VectorMatrix
    /// 1 / |row| (0 for an all-zero row, whose cosine with anything is 0).
    let inverseNorms: [Float]

    /// Float32 error allowance for candidates. A float32 dot product of n terms of unit vectors is
    /// off by at most about n·u (u = 2^-24) plus a few u for the norms; twice that, n·2^-23
    /// (1.5e-4 for 1280 floats), leaves a margin, so nothing that belongs to the result is missed.
    var slack: Float { Float(matrix.dim + 16) * Float.ulpOfOne }

    /// Computes the row norms once; the matrix is used as is (no normalized copy).
    public init(_ matrix: VectorMatrix) {
        self.matrix = matrix
        inverseNorms = matrix.values.withUnsafeBufferPointer { v in
            (0..<matrix.count).map { i in
                let n = VectorMath.norm(Vector(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(v)[(4 * i * matrix.dim)..<(4 * (i + 1) * matrix.dim)])))
                return n == 0 ? 0 : Float(1 / n)
            }
        }
    }

    /// The `k` rows most similar to `query` (by cosine, ties by image id), leaving out `excluding`.
    public func nearest(to query: [Float], k: Int, excluding: Int? = nil) -> [Neighbour] {
        precondition(query.count == matrix.dim, "CosineSearch: query of \(query.count) floats, matrix of \(matrix.dim)")
        let n = matrix.count
        guard k > 0, n > 0 else { return [] }
        let qNorm = query.withUnsafeBytes { VectorMath.norm(Vector($0)) }
        var scores = [Float](repeating: 0, count: n)
        if qNorm > 0 {
            let q = query.map { Float(Double($0) / qNorm) }
            matrix.values.withUnsafeBufferPointer { m in
                q.withUnsafeBufferPointer { x in
                    scores.withUnsafeMutableBufferPointer { y in
                        gemv(m.baseAddress!, x.baseAddress!, y.baseAddress!, m: n, n: matrix.dim)
                    }
                }
            }
            for i in 0..<n { scores[i] *= inverseNorms[i] }
        }
        if let excluding { scores[excluding] = -.infinity }
        let available = n - (excluding == nil ? 0 : 1)
        let kk = min(k, available)
        guard kk > 0 else { return [] }
        let threshold = kthLargest(scores, kk) - slack
        var candidates: [Neighbour] = []
        query.withUnsafeBytes { qb in
            let qv = Vector(qb)
            matrix.values.withUnsafeBytes { all in
                for i in 0..<n where scores[i] >= threshold && i != excluding {
                    let row = Vector(UnsafeRawBufferPointer(rebasing: all[(4 * i * matrix.dim)..<(4 * (i + 1) * matrix.dim)]))
                    candidates.append(Neighbour(row: i, cosine: VectorMath.cosine(qv, row)))
                }
            }
        }
        candidates.sort { $0.cosine != $1.cosine ? $0.cosine > $1.cosine : matrix.imageIDs[$0.row] < matrix.imageIDs[$1.row] }
        return Array(candidates.prefix(kk))
    }

    /// The k-th largest value (1-based), by partial selection.
    func kthLargest(_ values: [Float], _ k: Int) -> Float {
        // A min-heap of the k largest seen so far: O(n log k), no copy of all n scores sorted.
        var heap: [Float] = []
        heap.reserveCapacity(k)
        for v in values where v > -.infinity {
            if heap.count < k {
                heap.append(v)
                var i = heap.count - 1
                while i > 0, heap[(i - 1) / 2] > heap[i] { heap.swapAt(i, (i - 1) / 2); i = (i - 1) / 2 }
            } else if v > heap[0] {
                heap[0] = v
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var s = i
                    if l < k, heap[l] < heap[s] { s = l }
                    if r < k, heap[r] < heap[s] { s = r }
                    if s == i { break }
                    heap.swapAt(i, s)
                    i = s
                }
            }
        }
        return heap.count < k ? -.infinity : heap[0]
    }

    /// Pairs of rows with cosine >= `threshold`, each pair once (i < j), most similar first.
    /// Computed block by block with GEMM, then confirmed in Double like `nearest`. More than
    /// `limit` candidate pairs means the threshold is too low to be about duplicates: throws.
    public func pairs(atLeast threshold: Double, blockRows: Int = 512, limit: Int = 5_000_000) throws -> [(Int, Int, Double)] {
        let n = matrix.count, d = matrix.dim
        guard n > 1 else { return [] }
        let cut = Float(threshold) - slack
        var out: [(Int, Int, Double)] = []
        var block = [Float](repeating: 0, count: blockRows * blockRows)
        var overflow = false
        matrix.values.withUnsafeBufferPointer { m in
            let base = m.baseAddress!
            for a in stride(from: 0, to: n, by: blockRows) where !overflow {
                let rowsA = min(blockRows, n - a)
                for b in stride(from: a, to: n, by: blockRows) {
                    let rowsB = min(blockRows, n - b)
                    block.withUnsafeMutableBufferPointer { c in
                        // c (rowsA x rowsB) = A (rowsA x d) · B^T (d x rowsB)
                        gemm(base + a * d, base + b * d, c.baseAddress!, m: rowsA, n: rowsB, k: d, transB: true, ldc: blockRows)
                    }
                    for i in 0..<rowsA {
                        let ia = inverseNorms[a + i]
                        if ia == 0 { continue }
                        for j in (b == a ? i + 1 : 0)..<rowsB where block[i * blockRows + j] * ia * inverseNorms[b + j] >= cut {
                            out.append((a + i, b + j, 0))
                        }
                    }
                    if out.count > limit { overflow = true; break }
                }
            }
        }
        if overflow {
            throw StoreError.invalid("more than \(limit) pairs have cosine >= \(threshold) among \(n) vectors: that is not a list of duplicates; raise --threshold")
        }
        // Exact confirmation in Double: the same value `vec_cosine` gives in SQL.
        var confirmed: [(Int, Int, Double)] = []
        matrix.values.withUnsafeBytes { all in
            func row(_ i: Int) -> Vector { Vector(UnsafeRawBufferPointer(rebasing: all[(4 * i * d)..<(4 * (i + 1) * d)])) }
            for (i, j, _) in out {
                let c = VectorMath.cosine(row(i), row(j))
                if c >= threshold { confirmed.append((i, j, c)) }
            }
        }
        confirmed.sort { $0.2 != $1.2 ? $0.2 > $1.2 : ($0.0, $0.1) < ($1.0, $1.1) }
        return confirmed
    }
}
