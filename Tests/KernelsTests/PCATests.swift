import XCTest

@testable import Kernels

/// LAPACK's eigenpairs and the PCA built on them, against a plain cyclic Jacobi eigensolver.
final class PCATests: XCTestCase {
    /// Deterministic values in [-1, 1) (SplitMix64).
    static func values(_ n: Int, seed: UInt64) -> [Double] {
        var state = seed
        return (0..<n).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) * 0x1p-53 * 2 - 1
        }
    }

    /// All eigenpairs of a symmetric n x n matrix by cyclic Jacobi rotations (Golub & Van Loan
    /// 8.5), largest eigenvalue first: slow and simple, the oracle.
    static func jacobiEigen(_ m: [Double], n: Int) -> (values: [Double], vectors: [[Double]]) {
        var a = m
        var v = (0..<(n * n)).map { $0 / n == $0 % n ? 1.0 : 0.0 }
        for _ in 0..<100 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<n { off += a[p * n + q] * a[p * n + q] } }
            if off < 1e-30 { break }
            for p in 0..<n {
                for q in (p + 1)..<n where a[p * n + q] != 0 {
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot()
                    let s = t * c
                    for k in 0..<n {  // A = Jᵀ A J, columns then rows
                        let akp = a[k * n + p]
                        let akq = a[k * n + q]
                        a[k * n + p] = c * akp - s * akq
                        a[k * n + q] = s * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k]
                        let aqk = a[q * n + k]
                        a[p * n + k] = c * apk - s * aqk
                        a[q * n + k] = s * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p]
                        let vkq = v[k * n + q]
                        v[k * n + p] = c * vkp - s * vkq
                        v[k * n + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        let order = (0..<n).sorted { a[$0 * n + $0] > a[$1 * n + $1] }
        return (order.map { a[$0 * n + $0] }, order.map { j in (0..<n).map { v[$0 * n + j] } })
    }

    /// `v` with its largest-magnitude component made positive (the PCA's sign convention).
    static func signed(_ v: [Double]) -> [Double] {
        var lead = 0
        for j in 1..<v.count where abs(v[j]) > abs(v[lead]) { lead = j }
        return v[lead] < 0 ? v.map { -$0 } : v
    }

    func testLargestEigenpairsOfRandomSymmetricMatricesMatchJacobi() throws {
        for (n, count) in [(1, 1), (2, 2), (7, 2), (9, 3), (33, 2)] {
            let r = Self.values(n * n, seed: UInt64(n))
            var a = [Double](repeating: 0, count: n * n)
            for i in 0..<n { for j in 0..<n { a[i * n + j] = r[i * n + j] + r[j * n + i] } }
            let (values, vectors) = try largestEigenpairs(of: a, n: n, count: count)
            let reference = Self.jacobiEigen(a, n: n)
            for k in 0..<count {
                XCTAssertEqual(values[k], reference.values[k], accuracy: 1e-10, "n \(n), eigenvalue \(k)")
                let got = Self.signed(vectors[k])
                let want = Self.signed(reference.vectors[k])
                for j in 0..<n {
                    XCTAssertEqual(got[j], want[j], accuracy: 1e-8, "n \(n), eigenvector \(k), component \(j)")
                }
            }
        }
    }

    func testPrincipalComponentsMatchTheReferenceAndFollowTheSignConvention() throws {
        // 200 points in 12 dimensions, stretched along two directions so the top axes are well apart.
        let rows = 200
        let dim = 12
        let noise = Self.values(rows * dim, seed: 42)
        let weights = Self.values(rows * 2, seed: 43)
        let u = Self.values(dim, seed: 44)
        let w = Self.values(dim, seed: 45)
        var x = [Float](repeating: 0, count: rows * dim)
        for r in 0..<rows {
            for j in 0..<dim {
                x[r * dim + j] = Float(
                    0.3 * noise[r * dim + j] + 5 * weights[2 * r] * u[j] + 2 * weights[2 * r + 1] * w[j] + Double(j))
            }
        }
        let pca = try PrincipalComponents(x, rows: rows, dim: dim, count: 2)
        // Reference: the Double covariance (n - 1) and Jacobi.
        let mean = (0..<dim).map { j in (0..<rows).reduce(0.0) { $0 + Double(x[$1 * dim + j]) } / Double(rows) }
        var c = [Double](repeating: 0, count: dim * dim)
        for r in 0..<rows {
            for i in 0..<dim {
                for j in 0..<dim {
                    c[i * dim + j] +=
                        (Double(x[r * dim + i]) - mean[i]) * (Double(x[r * dim + j]) - mean[j]) / Double(rows - 1)
                }
            }
        }
        let reference = Self.jacobiEigen(c, n: dim)
        XCTAssertEqual(
            pca.totalVariance, (0..<dim).reduce(0) { $0 + c[$1 * dim + $1] }, accuracy: 1e-4 * pca.totalVariance)
        for k in 0..<2 {
            XCTAssertEqual(pca.variances[k], reference.values[k], accuracy: 1e-4 * reference.values[k], "variance \(k)")
            let want = Self.signed(reference.vectors[k])
            for j in 0..<dim { XCTAssertEqual(pca.axes[k][j], want[j], accuracy: 1e-4, "axis \(k), component \(j)") }
            let lead = pca.axes[k].indices.max { abs(pca.axes[k][$0]) < abs(pca.axes[k][$1]) }!
            XCTAssertGreaterThan(pca.axes[k][lead], 0, "axis \(k): its largest component must be positive")
        }
        // Projections are centred, with the axes' variances.
        let p = pca.project(x, rows: rows)
        for k in 0..<2 {
            let column = (0..<rows).map { p[$0 * 2 + k] }
            XCTAssertEqual(column.reduce(0, +) / Double(rows), 0, accuracy: 1e-4)
            let variance = column.reduce(0) { $0 + $1 * $1 } / Double(rows - 1)
            XCTAssertEqual(variance, pca.variances[k], accuracy: 1e-3 * pca.variances[k])
        }
        // The same data give the same map, whatever the order of the rows' sign.
        // Every point mirrored through the mean.
        let negated = x.enumerated().map { i, v in Float(2 * mean[i % dim]) - v }
        let mirrored = try PrincipalComponents(negated, rows: rows, dim: dim, count: 2)
        for k in 0..<2 { for j in 0..<dim { XCTAssertEqual(mirrored.axes[k][j], pca.axes[k][j], accuracy: 1e-4) } }
    }

    func testIdenticalRowsGiveZeroVariance() throws {
        let x = [Float](repeating: 0.5, count: 4 * 3)
        let pca = try PrincipalComponents(x, rows: 4, dim: 3, count: 2)
        XCTAssertEqual(pca.variances, [0, 0])
        XCTAssertEqual(pca.totalVariance, 0)
        XCTAssertEqual(pca.project(x, rows: 4), [Double](repeating: 0, count: 8))
    }
}
