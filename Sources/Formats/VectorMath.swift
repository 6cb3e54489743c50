/// Double-precision reductions over float32 vectors. Each float product is exact in Double,
/// so the only rounding is in the sums: results agree with numpy's float64 math to ~1e-15.
public enum VectorMath {
    /// Σ a[i]·b[i] in Double, four interleaved accumulators (a fixed order, so results are reproducible).
    public static func dot(_ a: Vector, _ b: Vector) -> Double {
        precondition(a.count == b.count, "VectorMath.dot: sizes \(a.count) and \(b.count)")
        var s0 = 0.0
        var s1 = 0.0
        var s2 = 0.0
        var s3 = 0.0
        let n = a.count
        let n4 = n & ~3
        var i = 0
        while i < n4 {
            s0 += Double(a[i]) * Double(b[i])
            s1 += Double(a[i + 1]) * Double(b[i + 1])
            s2 += Double(a[i + 2]) * Double(b[i + 2])
            s3 += Double(a[i + 3]) * Double(b[i + 3])
            i += 4
        }
        while i < n {
            s0 += Double(a[i]) * Double(b[i])
            i += 1
        }
        return (s0 + s1) + (s2 + s3)
    }

    /// Euclidean norm √(Σ v[i]²).
    public static func norm(_ v: Vector) -> Double { dot(v, v).squareRoot() }

    /// Cosine similarity a·b / (|a| |b|), clamped to [-1, 1]; 0 when either vector is all zeros
    /// (no direction, so no similarity: the convention of scikit-learn's cosine_similarity).
    public static func cosine(_ a: Vector, _ b: Vector) -> Double {
        let ab = dot(a, b)
        let aa = dot(a, a)
        let bb = dot(b, b)
        if aa == 0 || bb == 0 { return 0 }
        // One square root of the product: for a == b it is exactly ab (sqrt(x*x) == x in IEEE
        // arithmetic), so a vector's cosine with itself is exactly 1.
        return min(1, max(-1, ab / (aa * bb).squareRoot()))
    }

    /// Euclidean distance |a - b|, from the differences (not from norms, which cancels badly).
    public static func l2(_ a: Vector, _ b: Vector) -> Double {
        precondition(a.count == b.count, "VectorMath.l2: sizes \(a.count) and \(b.count)")
        var s0 = 0.0
        var s1 = 0.0
        var i = 0
        let n = a.count
        while i + 1 < n {
            let d0 = Double(a[i]) - Double(b[i])
            let d1 = Double(a[i + 1]) - Double(b[i + 1])
            s0 += d0 * d0
            s1 += d1 * d1
            i += 2
        }
        if i < n {
            let d = Double(a[i]) - Double(b[i])
            s0 += d * d
        }
        return (s0 + s1).squareRoot()
    }
}
