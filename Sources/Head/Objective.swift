#if canImport(Glibc)
import Glibc
#endif
import Kernels

/// Workspace for one batch of the softmax cross-entropy objective.
struct BatchScratch {
    var logits: [Float]
    init(batch: Int, classes: Int) { logits = [Float](repeating: 0, count: batch * classes) }
}

/// The training objective on one batch, as Keras computes it for a `Dense(n)` head compiled with
/// `CategoricalCrossentropy(from_logits=True, label_smoothing=s)` and fitted with class weights:
///
///     loss = (1/B) sum_i w_i CE(t_i, softmax(x_i W + b)) + l2 sum(W^2),   t_i = (1-s) onehot(y_i) + s/C
///
/// (Keras's "sum_over_batch_size" divides by B, not by the sum of the weights). Writes dloss/dW
/// then dloss/db into `gradient`; returns the loss and the number of rows whose argmax is right.
@inline(__always)
func batchObjective(
    x: UnsafePointer<Float>, labels: UnsafePointer<Int32>, sampleWeights: UnsafePointer<Float>?,
    rows: Int, dim: Int, classes: Int, parameters: UnsafePointer<Float>,
    l2: Float, smoothing: Float, logits z: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>
) -> (loss: Double, correct: Int) {
    forward(x, weights: parameters, into: z, rows: rows, dim: dim, classes: classes)
    let invB = 1 / Float(rows)
    let offTarget = smoothing / Float(classes)
    let onTarget = 1 - smoothing + offTarget
    var loss: Double = 0
    var correct = 0
    for r in 0..<rows {
        let row = z + r * classes
        let y = Int(labels[r])
        var m = row[0], best = 0, sumZ: Float = 0
        for j in 0..<classes {
            if row[j] > m { m = row[j]; best = j }
            sumZ += row[j]
        }
        if best == y { correct += 1 }
        var s: Float = 0
        for j in 0..<classes { s += expf(row[j] - m) }
        let lse = m + logf(s)
        // CE = -sum_j t_j (z_j - lse) = lse - sum_j t_j z_j, since the targets sum to 1.
        let ce = lse - ((1 - smoothing) * row[y] + offTarget * sumZ)
        let w = sampleWeights?[r] ?? 1
        loss += Double(w * ce)
        // dCE/dz_j = p_j - t_j; the row's share of the batch mean is w / B.
        let scale = w * invB
        for j in 0..<classes {
            let p = expf(row[j] - lse)
            row[j] = scale * (p - (j == y ? onTarget : offTarget))
        }
    }
    loss /= Double(rows)
    let wCount = dim * classes
    gemm(x, z, gradient, m: dim, n: classes, k: rows, transA: true)  // dW = X^T G  (dim x classes)
    let db = gradient + wCount
    for j in 0..<classes { db[j] = 0 }
    for r in 0..<rows {
        for j in 0..<classes { db[j] += z[r * classes + j] }  // db = column sums of G
    }
    if l2 > 0 {
        var penalty: Float = 0
        for i in 0..<wCount {
            let w = parameters[i]
            penalty += w * w
            gradient[i] += 2 * l2 * w
        }
        loss += Double(l2 * penalty)
    }
    return (loss, correct)
}

/// `batchObjective` on whole arrays, for tests and tools: loss and gradient (W then b).
public func objective(
    parameters: [Float], x: [Float], labels: [Int32], sampleWeights: [Float]? = nil,
    dim: Int, classes: Int, l2: Float = 0, labelSmoothing: Float = 0
) -> (loss: Double, gradient: [Float]) {
    let rows = labels.count
    precondition(x.count == rows * dim && parameters.count == dim * classes + classes,
                 "objective: x has \(x.count) floats for \(rows) rows of \(dim); \(parameters.count) parameters")
    var z = [Float](repeating: 0, count: rows * classes)
    var g = [Float](repeating: 0, count: parameters.count)
    let loss = z.withUnsafeMutableBufferPointer { z in
        g.withUnsafeMutableBufferPointer { g in
            batchObjective(x: x, labels: labels, sampleWeights: sampleWeights, rows: rows, dim: dim, classes: classes,
                           parameters: parameters, l2: l2, smoothing: labelSmoothing,
                           logits: z.baseAddress!, gradient: g.baseAddress!).loss
        }
    }
    return (loss, g)
}

/// Mean plain cross-entropy (no smoothing, no weights, no penalty) and accuracy of a head on
/// `data`: the validation loss every run reports, so runs with different settings compare.
func plainLossAndAccuracy(_ data: LabeledMatrix, parameters: UnsafePointer<Float>, classes: Int,
                          logits z: inout [Float]) -> (loss: Double, accuracy: Double) {
    let rows = data.rows
    if z.count < rows * classes { z = [Float](repeating: 0, count: rows * classes) }
    return z.withUnsafeMutableBufferPointer { zb in
        let z = zb.baseAddress!
        data.x.withUnsafeBufferPointer { forward($0.baseAddress!, weights: parameters, into: z, rows: rows, dim: data.dim, classes: classes) }
        var loss: Double = 0
        var correct = 0
        for r in 0..<rows {
            let row = z + r * classes
            let y = Int(data.labels[r])
            var m = row[0], best = 0
            for j in 1..<max(classes, 1) where row[j] > m { m = row[j]; best = j }
            if best == y { correct += 1 }
            var s: Float = 0
            for j in 0..<classes { s += expf(row[j] - m) }
            loss += Double(m + logf(s) - row[y])
        }
        return (loss / Double(max(rows, 1)), Double(correct) / Double(max(rows, 1)))
    }
}
