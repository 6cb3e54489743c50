import Formats
import Kernels

/// The softmax kind: a Keras `Dense(n)` on the pooled embedding, logits = x W + b, parameters W
/// (dim x classes, row-major) then b. Forward and backward are OpenBLAS GEMMs.
struct SoftmaxTrainer: ModelTrainer {
    let dim: Int
    let classes: Int
    /// The batch's inputs after dropout (only used when dropout is on).
    private var dropped: [Float]

    init(dim: Int, classes: Int, batch: Int) {
        self.dim = dim
        self.classes = classes
        dropped = []
        dropped.reserveCapacity(batch * dim)
    }

    var parameterCount: Int { dim * classes + classes }
    var denseKernel: Range<Int> { 0..<(dim * classes) }
    var inputWidth: Int { dim }

    func initialParameters(using rng: inout SplitMix64) -> [Float] {
        glorotUniform(fanIn: dim, fanOut: classes, using: &rng) + [Float](repeating: 0, count: classes)
    }

    mutating func forward(
        _ x: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
        dropout: UnsafePointer<Float>?, logits z: UnsafeMutablePointer<Float>
    ) {
        guard let dropout else { return dense(x, rows: rows, parameters: parameters, into: z) }
        dropped.removeAll(keepingCapacity: true)
        for i in 0..<(rows * dim) { dropped.append(x[i] * dropout[i]) }
        dropped.withUnsafeBufferPointer { dense($0.baseAddress!, rows: rows, parameters: parameters, into: z) }
    }

    mutating func backward(
        _ x: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
        dropout: UnsafePointer<Float>?, dlogits g: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>
    ) {
        if dropout == nil {
            denseBackward(x, rows: rows, dlogits: g, gradient: gradient)
        } else {
            dropped.withUnsafeBufferPointer {
                denseBackward($0.baseAddress!, rows: rows, dlogits: g, gradient: gradient)
            }
        }
    }

    /// z = x W + b.
    private func dense(
        _ x: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>
    ) {
        gemm(x, parameters, z, m: rows, n: classes, k: dim)
        let b = parameters + dim * classes
        for r in 0..<rows {
            let row = z + r * classes
            for j in 0..<classes { row[j] += b[j] }
        }
    }

    /// dW = x^T G, db = column sums of G.
    private func denseBackward(
        _ x: UnsafePointer<Float>, rows: Int, dlogits g: UnsafePointer<Float>,
        gradient: UnsafeMutablePointer<Float>
    ) {
        gemm(x, g, gradient, m: dim, n: classes, k: rows, transA: true)
        let db = gradient + dim * classes
        for j in 0..<classes { db[j] = 0 }
        for r in 0..<rows {
            for j in 0..<classes { db[j] += g[r * classes + j] }
        }
    }

    func model(_ parameters: [Float], classes names: [String]) -> StoredModel {
        // The shapes are this trainer's own, so they always fit.
        try! StoredModel(kind: .softmax, classes: names, dim: dim, parameters: parameters)
    }
}
