import Dispatch
import Kernels
import Store
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Near-duplicate pairs that straddle splits (train-val, train-test, val-test) among many vectors,
/// without comparing every pair in full: a candidate stage on short random sketches, then the
/// exact Double cosine (`CosineSearch.confirm`, `vec_cosine`'s value) decides every pair.
///
/// Candidates: each unit vector x is sketched to `sketchDims` floats, s = Gᵀx with G a fixed
/// Gaussian matrix of variance 1/p (seeded, so every run gives the same answer). For any pair,
/// |s_a - s_b|² estimates |x_a - x_b|² = 2 - 2 cos, as |x_a - x_b|² times a chi-square with p
/// degrees of freedom over p, whatever the data (Johnson-Lindenstrauss). A pair with cosine >= t
/// has |x_a - x_b|² <= 2(1 - t); it is a candidate when its estimate is at most `slackFactor`
/// times that. So a pair exactly at the threshold is missed with probability
/// P(chi²_64 / 64 > 3) = 1.0e-14, and pairs above the threshold (the usual near-copies) less
/// still, while a pair with 1 - cos nine times 1 - t (cosine 0.82 for t = 0.98) is a candidate
/// only with probability P(chi²_64 / 64 < 1/3), about 1e-7. The sketch
/// GEMM costs p/dim of the exact one (1/20 for 1280 floats), block by block with a fixed budget.
public enum LeakSearch {
    /// What a search saw, for the progress line and the summary.
    public struct Stats: Sendable {
        public var comparedPairs = 0
        public var candidates = 0
        public var seconds = 0.0
    }

    public static let defaultSketchDims = 64
    public static let defaultSlackFactor: Float = 3

    /// Pairs (i < j, rows of `search`) with cosine >= `threshold` whose `groups` differ, most similar
    /// first, ties by row pair. `groups[i]` is the row's split (any small code; rows with code
    /// `skip` take no part). `threshold` must be positive. Runs on `threads` threads with
    /// single-threaded BLAS; `tileRows` x `tileRows` float scores per thread at a time.
    public static func pairs(
        _ search: CosineSearch, groups: [UInt8], skip: UInt8 = .max, atLeast threshold: Double,
        sketchDims: Int = defaultSketchDims, slackFactor: Float = defaultSlackFactor, seed: UInt64 = 0x7A11_5EED,
        threads: Int, tileRows: Int = 4096, limit: Int = 5_000_000,
        progress: (@Sendable (_ done: Int, _ total: Int, _ candidates: Int) -> Void)? = nil
    ) throws -> (pairs: [(Int, Int, Double)], stats: Stats) {
        precondition(groups.count == search.count, "LeakSearch: \(groups.count) groups for \(search.count) rows")
        precondition(threshold > 0 && threshold <= 1, "LeakSearch: threshold \(threshold) must be in (0, 1]")
        let start = DispatchTime.now().uptimeNanoseconds
        let n = search.count
        let p = sketchDims
        var stats = Stats()
        // Rows by group, groups in increasing code order; each group's rows in row order.
        let codes = Array(Set(groups.filter { $0 != skip })).sorted()
        guard codes.count >= 2 else { return ([], stats) }
        var order: [Int] = []
        var ranges: [Range<Int>] = []
        for code in codes {
            let begin = order.count
            for i in 0..<n where groups[i] == code { order.append(i) }
            ranges.append(begin..<order.count)
        }
        let sketches = sketch(search, rows: order, dims: p, seed: seed)
        var squared = [Float](repeating: 0, count: order.count)
        for r in 0..<order.count {
            var s: Float = 0
            for t in 0..<p { s += sketches[r * p + t] * sketches[r * p + t] }
            squared[r] = s
        }
        // Candidate when s_a + s_b - 2 g_ab <= cutoff, i.e. g_ab >= (s_a - cutoff) / 2 + s_b / 2.
        // The absolute term covers float32 rounding of the sketches near threshold 1.
        let cutoff = slackFactor * Float(2 * (1 - threshold)) + 1e-4
        let halfA = squared.map { ($0 - cutoff) / 2 }
        let halfB = squared.map { $0 / 2 }

        // Tiles: every group against every later group (train x val, train x test, val x test).
        var tiles: [(a: Range<Int>, b: Range<Int>)] = []
        for x in 0..<ranges.count {
            for y in (x + 1)..<ranges.count {
                for a in stride(from: ranges[x].lowerBound, to: ranges[x].upperBound, by: tileRows) {
                    for b in stride(from: ranges[y].lowerBound, to: ranges[y].upperBound, by: tileRows) {
                        tiles.append(
                            (a..<min(a + tileRows, ranges[x].upperBound), b..<min(b + tileRows, ranges[y].upperBound)))
                    }
                }
                stats.comparedPairs += ranges[x].count * ranges[y].count
            }
        }
        let next = Atomic<Int>(0)
        let done = Atomic<Int>(0)
        let found = Atomic<Int>(0)
        let overflow = Atomic<Bool>(false)
        let workers = max(1, min(threads, tiles.count))
        let results = Mutex<[(Int, Int)]>([])
        let previousBLASThreads = BLASThreads.current
        BLASThreads.set(1)
        defer { BLASThreads.set(previousBLASThreads) }
        let shared = Shared(
            sketches: sketches, halfA: halfA, halfB: halfB, order: order, tiles: tiles, p: p, tileRows: tileRows)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var scores = [Float](repeating: 0, count: tileRows * tileRows)
            var mine: [(Int, Int)] = []
            var lastReport = DispatchTime.now().uptimeNanoseconds
            while !overflow.load(ordering: .relaxed) {
                let t = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if t >= shared.tiles.count { break }
                let before = mine.count
                shared.scan(t, scores: &scores, into: &mine)
                let total = found.wrappingAdd(mine.count - before, ordering: .relaxed).newValue
                if total > limit { overflow.store(true, ordering: .relaxed) }
                let finished = done.wrappingAdd(1, ordering: .relaxed).newValue
                let now = DispatchTime.now().uptimeNanoseconds
                if w == 0, let progress, now - lastReport >= 5_000_000_000 {
                    lastReport = now
                    progress(finished, shared.tiles.count, total)
                }
            }
            results.withLock { $0 += mine }
        }
        if overflow.load(ordering: .relaxed) {
            throw StoreError.invalid(
                "more than \(limit) candidate pairs for cosine >= \(threshold) among \(n) vectors: that is not a list of duplicates; raise --threshold"
            )
        }
        let candidates = results.withLock { $0 }.map { (min($0.0, $0.1), max($0.0, $0.1)) }
        stats.candidates = candidates.count
        let confirmed = search.confirm(candidates, atLeast: threshold)
        stats.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return (confirmed, stats)
    }

    /// The sketches of `rows` (in that order): unit row times G (dim x dims, N(0, 1/dims) entries
    /// from SplitMix64 and Box-Muller), rows x dims floats.
    static func sketch(_ search: CosineSearch, rows: [Int], dims p: Int, seed: UInt64) -> [Float] {
        let d = search.dim
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }
        var g = [Float](repeating: 0, count: d * p)
        let sigma = 1 / Double(p).squareRoot()
        var i = 0
        while i < g.count {
            let r = (-2 * log(uniform())).squareRoot()
            let angle = 2 * Double.pi * uniform()
            g[i] = Float(sigma * r * cos(angle))
            if i + 1 < g.count { g[i + 1] = Float(sigma * r * sin(angle)) }
            i += 2
        }
        var out = [Float](repeating: 0, count: rows.count * p)
        let block = 4096
        var gathered = [Float](repeating: 0, count: block * d)
        search.withRows { values, inverseNorms in
            for start in stride(from: 0, to: rows.count, by: block) {
                let m = min(block, rows.count - start)
                // Gather the block's rows, scaled to unit length (a zero row stays zero).
                gathered.withUnsafeMutableBufferPointer { gb in
                    for r in 0..<m {
                        let i = rows[start + r]
                        let scale = inverseNorms[i]
                        for t in 0..<d { gb[r * d + t] = values[i * d + t] * scale }
                    }
                }
                gathered.withUnsafeBufferPointer { a in
                    g.withUnsafeBufferPointer { b in
                        out.withUnsafeMutableBufferPointer { c in
                            gemm(a.baseAddress!, b.baseAddress!, c.baseAddress! + start * p, m: m, n: p, k: d)
                        }
                    }
                }
            }
        }
        return out
    }

    /// What the workers read: immutable after construction.
    final class Shared: @unchecked Sendable {
        let sketches: [Float]
        let halfA: [Float]
        let halfB: [Float]
        let order: [Int]
        let tiles: [(a: Range<Int>, b: Range<Int>)]
        let p: Int
        let tileRows: Int

        init(
            sketches: [Float], halfA: [Float], halfB: [Float], order: [Int], tiles: [(a: Range<Int>, b: Range<Int>)],
            p: Int, tileRows: Int
        ) {
            self.sketches = sketches
            self.halfA = halfA
            self.halfB = halfB
            self.order = order
            self.tiles = tiles
            self.p = p
            self.tileRows = tileRows
        }

        /// Scores tile `t` with one GEMM and appends its candidate pairs (original rows).
        func scan(_ t: Int, scores: inout [Float], into out: inout [(Int, Int)]) {
            let (a, b) = tiles[t]
            sketches.withUnsafeBufferPointer { s in
                scores.withUnsafeMutableBufferPointer { c in
                    // c (|a| x |b|) = S_a (|a| x p) · S_bᵀ (p x |b|)
                    gemm(
                        s.baseAddress! + a.lowerBound * p, s.baseAddress! + b.lowerBound * p, c.baseAddress!,
                        m: a.count, n: b.count, k: p, transB: true, ldc: tileRows)
                }
            }
            scores.withUnsafeBufferPointer { c in
                halfA.withUnsafeBufferPointer { ha in
                    halfB.withUnsafeBufferPointer { hb in
                        let b0 = b.lowerBound
                        let width = b.count
                        let wide = width & ~7
                        for (r, x) in a.enumerated() {
                            let bar = ha[x]
                            let rowBase = r * tileRows
                            // Eight columns per compare: almost every tile has no candidate at all.
                            var col = 0
                            while col < wide {
                                let score = UnsafeRawPointer(c.baseAddress! + rowBase + col).loadUnaligned(
                                    as: SIMD8<Float>.self)
                                let need =
                                    UnsafeRawPointer(hb.baseAddress! + b0 + col).loadUnaligned(as: SIMD8<Float>.self)
                                    + bar
                                if any(score .>= need) {
                                    for j in col..<(col + 8) where c[rowBase + j] >= bar + hb[b0 + j] {
                                        out.append((order[x], order[b0 + j]))
                                    }
                                }
                                col += 8
                            }
                            for j in wide..<width where c[rowBase + j] >= bar + hb[b0 + j] {
                                out.append((order[x], order[b0 + j]))
                            }
                        }
                    }
                }
            }
        }
    }
}
