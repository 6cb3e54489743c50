import Formats

#if canImport(Glibc)
    import Glibc
#endif

/// Softmax cross-entropy on one batch's logits, as Keras computes it for a model compiled with
/// `CategoricalCrossentropy(from_logits=True, label_smoothing=s)` and fitted with class weights:
///
///     loss = (1/B) sum_i w_i CE(t_i, softmax(z_i)),   t_i = (1-s) onehot(y_i) + s/C
///
/// (Keras's "sum_over_batch_size" divides by B, not by the sum of the weights). Replaces the logits
/// `z` (rows x classes) by dloss/dz; returns the loss and the number of rows whose argmax is right.
/// Every model kind trains through this; the kind supplies the logits and their backward pass.
@inline(__always)
func softmaxCrossEntropy(
    _ z: UnsafeMutablePointer<Float>, labels: UnsafePointer<Int32>, sampleWeights: UnsafePointer<Float>?,
    rows: Int, classes: Int, smoothing: Float
) -> (loss: Double, correct: Int) {
    let invB = 1 / Float(rows)
    let offTarget = smoothing / Float(classes)
    let onTarget = 1 - smoothing + offTarget
    var loss: Double = 0
    var correct = 0
    for r in 0..<rows {
        let row = z + r * classes
        let y = Int(labels[r])
        var m = row[0]
        var best = 0
        var sumZ: Float = 0
        for j in 0..<classes {
            if row[j] > m {
                m = row[j]
                best = j
            }
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
    return (loss / Double(rows), correct)
}

/// Keras `kernel_regularizer=l2(l2)` on `kernel`: returns l2 * sum(w^2) and adds its gradient.
@inline(__always)
func addL2(_ l2: Float, kernel: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>, count: Int) -> Double {
    var penalty: Float = 0
    for i in 0..<count {
        let w = kernel[i]
        penalty += w * w
        gradient[i] += 2 * l2 * w
    }
    return Double(l2 * penalty)
}

/// Mean plain cross-entropy (no smoothing, no weights, no penalty) of `count` rows of logits with
/// their labels: the loss every evaluation reports, so runs with different settings compare.
func plainCrossEntropy(_ logits: [Double], labels: [Int32], classes c: Int) -> Double {
    guard !labels.isEmpty else { return 0 }
    var loss = 0.0
    for (r, y) in labels.enumerated() {
        let row = r * c
        var m = logits[row]
        for j in 1..<c { m = max(m, logits[row + j]) }
        var s = 0.0
        for j in 0..<c { s += exp(logits[row + j] - m) }
        loss += m + log(s) - logits[row + Int(y)]
    }
    return loss / Double(labels.count)
}

/// The softmax objective on whole arrays, for tests and tools: loss and gradient (W then b) of a
/// Dense head (dim x classes) on `x`, with l2, smoothing and sample weights as in training.
func objective(
    parameters: [Float], x: [Float], labels: [Int32], sampleWeights: [Float]? = nil,
    dim: Int, classes: Int, l2: Float = 0, labelSmoothing: Float = 0
) -> (loss: Double, gradient: [Float]) {
    let rows = labels.count
    precondition(
        x.count == rows * dim && parameters.count == dim * classes + classes,
        "objective: x has \(x.count) floats for \(rows) rows of \(dim); \(parameters.count) parameters")
    var trainer = SoftmaxTrainer(dim: dim, classes: classes, batch: rows)
    var z = [Float](repeating: 0, count: rows * classes)
    var g = [Float](repeating: 0, count: parameters.count)
    var loss = 0.0
    parameters.withUnsafeBufferPointer { p in
        z.withUnsafeMutableBufferPointer { z in
            g.withUnsafeMutableBufferPointer { g in
                trainer.forward(x, rows: rows, parameters: p.baseAddress!, dropout: nil, logits: z.baseAddress!)
                loss =
                    softmaxCrossEntropy(
                        z.baseAddress!, labels: labels, sampleWeights: sampleWeights, rows: rows,
                        classes: classes, smoothing: labelSmoothing
                    ).loss
                trainer.backward(
                    x, rows: rows, parameters: p.baseAddress!, dropout: nil, dlogits: z.baseAddress!,
                    gradient: g.baseAddress!)
                if l2 > 0 { loss += addL2(l2, kernel: p.baseAddress!, gradient: g.baseAddress!, count: dim * classes) }
            }
        }
    }
    return (loss, g)
}
