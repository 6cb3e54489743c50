#if canImport(Glibc)
import Glibc
#endif
import Kernels

/// A trained Keras `Dense(n)` head: logits = x W + b, probabilities = softmax(logits).
public struct SoftmaxHead: Sendable, Equatable {
    public let dim: Int
    /// Class names in logit order.
    public let classes: [String]
    /// W (dim x classes, row-major) then b (classes): the layout of `runs.head`.
    public let parameters: [Float]

    public var classCount: Int { classes.count }

    public init(dim: Int, classes: [String], parameters: [Float]) {
        precondition(parameters.count == dim * classes.count + classes.count,
                     "SoftmaxHead: \(parameters.count) parameters for dim \(dim) and \(classes.count) classes")
        self.dim = dim
        self.classes = classes
        self.parameters = parameters
    }

    /// Reads a `runs.head` BLOB: float32 little-endian W then b.
    public init(blob: [UInt8], dim: Int, classes: [String]) throws {
        let expected = 4 * (dim * classes.count + classes.count)
        guard blob.count == expected, dim > 0, !classes.isEmpty else {
            throw HeadError.invalid("head BLOB has \(blob.count) bytes; dim \(dim) and \(classes.count) classes need \(expected)")
        }
        var p = [Float](repeating: 0, count: blob.count / 4)
        p.withUnsafeMutableBytes { $0.copyBytes(from: blob) }
        self.init(dim: dim, classes: classes, parameters: p)
    }

    /// The `runs.head` BLOB.
    public var blob: [UInt8] { parameters.withUnsafeBytes { Array($0) } }

    /// Logits of `rows` vectors (rows x dim, row-major): rows x classes.
    public func logits(_ x: UnsafePointer<Float>, rows: Int) -> [Float] {
        let c = classCount
        var out = [Float](repeating: 0, count: rows * c)
        parameters.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                forward(x, weights: p.baseAddress!, into: o.baseAddress!, rows: rows, dim: dim, classes: c)
            }
        }
        return out
    }

    /// Logits of the vectors in `x` (a whole number of `dim`-float rows).
    public func logits(_ x: [Float]) -> [Float] {
        precondition(x.count % dim == 0, "SoftmaxHead.logits: \(x.count) floats is not a multiple of dim \(dim)")
        return x.withUnsafeBufferPointer { logits($0.baseAddress!, rows: x.count / dim) }
    }

    /// Class probabilities of the vectors in `x`: rows x classes, each row summing to 1.
    public func probabilities(_ x: [Float]) -> [Float] {
        var z = logits(x)
        let c = classCount
        z.withUnsafeMutableBufferPointer { z in
            for r in 0..<(z.count / c) { softmaxInPlace(z.baseAddress! + r * c, count: c) }
        }
        return z
    }

    /// The `k` most probable classes of one probability row, most probable first (ties: lower index).
    public func top(_ k: Int, of probabilities: ArraySlice<Float>) -> [(class: String, probability: Float)] {
        let row = Array(probabilities)
        let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
        return order.prefix(k).map { (classes[$0], row[$0]) }
    }
}

/// z (rows x classes) = x (rows x dim) · W + b, with the parameters laid out as in `runs.head`.
@inline(__always)
func forward(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>,
             rows: Int, dim: Int, classes: Int) {
    gemm(x, weights, z, m: rows, n: classes, k: dim)
    let b = weights + dim * classes
    for r in 0..<rows {
        let row = z + r * classes
        for j in 0..<classes { row[j] += b[j] }
    }
}

/// Replaces `count` logits by their softmax (max subtracted first, so no overflow).
@inline(__always)
func softmaxInPlace(_ z: UnsafeMutablePointer<Float>, count: Int) {
    var m = z[0]
    for j in 1..<max(count, 1) { m = max(m, z[j]) }
    var s: Float = 0
    for j in 0..<count {
        z[j] = expf(z[j] - m)
        s += z[j]
    }
    for j in 0..<count { z[j] /= s }
}
