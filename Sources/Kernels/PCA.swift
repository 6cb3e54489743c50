/// Principal component analysis of row vectors: the mean, the `count` directions of largest
/// variance and the variance along each, from the covariance matrix (BLAS) and its largest
/// eigenpairs (LAPACK).
public struct PrincipalComponents: Sendable {
    public let dim: Int
    public let mean: [Double]
    /// Unit axes, largest variance first. Sign convention: each axis's component of largest
    /// magnitude (the first such, on ties) is positive, so the same data always give the same map.
    public let axes: [[Double]]
    /// Variance along each axis (the sample covariance's eigenvalue, n - 1 in the denominator).
    public let variances: [Double]
    /// Sum of the variances along all `dim` directions (the covariance's trace).
    public let totalVariance: Double

    /// Fits `count` axes to `rows` vectors of `dim` floats (row-major `x`); needs two rows or more.
    public init(_ x: [Float], rows: Int, dim: Int, count: Int = 2) throws {
        precondition(x.count == rows * dim, "PrincipalComponents: \(x.count) floats for \(rows) rows of \(dim)")
        precondition(
            rows >= 2 && count >= 1 && count <= dim,
            "PrincipalComponents: \(rows) rows, \(count) axes of \(dim) dimensions")
        self.dim = dim
        var sum = [Double](repeating: 0, count: dim)
        for r in 0..<rows { for j in 0..<dim { sum[j] += Double(x[r * dim + j]) } }
        let mean = sum.map { $0 / Double(rows) }
        self.mean = mean
        var centred = [Float](repeating: 0, count: x.count)
        for r in 0..<rows { for j in 0..<dim { centred[r * dim + j] = Float(Double(x[r * dim + j]) - mean[j]) } }
        // C (dim x dim) = Xcᵀ Xc / (rows - 1); float32 is ample for a picture, and one GEMM.
        var c = [Float](repeating: 0, count: dim * dim)
        centred.withUnsafeBufferPointer { a in
            c.withUnsafeMutableBufferPointer { out in
                gemm(
                    a.baseAddress!, a.baseAddress!, out.baseAddress!, m: dim, n: dim, k: rows, transA: true,
                    alpha: 1 / Float(rows - 1))
            }
        }
        let covariance = c.map(Double.init)
        totalVariance = (0..<dim).reduce(0) { $0 + covariance[$1 * dim + $1] }
        let (values, vectors) = try largestEigenpairs(of: covariance, n: dim, count: count)
        variances = values.map { max($0, 0) }
        axes = vectors.map { v in
            var lead = 0
            for j in 1..<v.count where abs(v[j]) > abs(v[lead]) { lead = j }
            return v[lead] < 0 ? v.map { -$0 } : v
        }
    }

    /// Coordinates of `rows` vectors (row-major `x`) on the axes: rows x axes.count, row-major.
    public func project(_ x: [Float], rows: Int) -> [Double] {
        precondition(x.count == rows * dim, "PrincipalComponents.project: \(x.count) floats for \(rows) rows of \(dim)")
        var out = [Double](repeating: 0, count: rows * axes.count)
        for r in 0..<rows {
            for (k, axis) in axes.enumerated() {
                var s = 0.0
                for j in 0..<dim { s += (Double(x[r * dim + j]) - mean[j]) * axis[j] }
                out[r * axes.count + k] = s
            }
        }
        return out
    }
}
