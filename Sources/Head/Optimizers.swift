#if canImport(Glibc)
    import Glibc
#endif

/// Optimizer state over the flat parameter vector (W then b), updated in place the way Keras 3
/// updates each variable element-wise (keras/src/optimizers/adam.py, sgd.py).
struct Optimizer {
    let kind: OptimizerKind
    let learningRate: Float
    let momentum: Float
    let nesterov: Bool
    /// Adam: first moment; SGD with momentum: the velocity.
    var m: [Float]
    /// Adam: second moment.
    var v: [Float]
    /// Keras `optimizer.iterations`: updates applied so far.
    var iterations = 0

    // Keras Adam defaults.
    static let beta1: Float = 0.9
    static let beta2: Float = 0.999
    static let epsilon: Float = 1e-7

    init(_ config: TrainingConfig, parameterCount n: Int) {
        kind = config.optimizer
        learningRate = Float(config.learningRate)
        momentum = Float(config.momentum)
        nesterov = config.nesterov
        m = [Float](repeating: 0, count: n)
        v = kind == .adam ? [Float](repeating: 0, count: n) : []
    }

    mutating func step(_ p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>) {
        let n = m.count
        let lr = learningRate
        switch kind {
        case .adam:
            // Keras 3 folds the bias corrections into the step size and adds epsilon to sqrt(v),
            // not to sqrt(v_hat): alpha = lr * sqrt(1 - beta2^t) / (1 - beta1^t).
            let t = Float(iterations + 1)
            let alpha = lr * (1 - powf(Self.beta2, t)).squareRoot() / (1 - powf(Self.beta1, t))
            let c1 = 1 - Self.beta1
            let c2 = 1 - Self.beta2
            let eps = Self.epsilon
            m.withUnsafeMutableBufferPointer { mb in
                v.withUnsafeMutableBufferPointer { vb in
                    let m = mb.baseAddress!
                    let v = vb.baseAddress!
                    // Eight lanes at a time: each lane does exactly the scalar tail's operations
                    // (IEEE add, mul, div and sqrt, no fused multiply-add), so both give the same bits.
                    var i = 0
                    while i + 8 <= n {
                        let gi = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
                        var mi = UnsafeRawPointer(m + i).loadUnaligned(as: SIMD8<Float>.self)
                        var vi = UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self)
                        let pi = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
                        mi += (gi - mi) * c1
                        vi += (gi * gi - vi) * c2
                        let step = (mi * alpha) / (vi.squareRoot() + eps)
                        UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(p + i).storeBytes(of: pi - step, as: SIMD8<Float>.self)
                        i += 8
                    }
                    while i < n {
                        m[i] += (g[i] - m[i]) * c1
                        v[i] += (g[i] * g[i] - v[i]) * c2
                        p[i] -= (m[i] * alpha) / (v[i].squareRoot() + eps)
                        i += 1
                    }
                }
            }
        case .sgd:
            if momentum == 0 {
                for i in 0..<n { p[i] -= g[i] * lr }
            } else {
                let mu = momentum
                m.withUnsafeMutableBufferPointer { m in
                    for i in 0..<n {
                        m[i] = m[i] * mu - g[i] * lr
                        p[i] += nesterov ? m[i] * mu - g[i] * lr : m[i]
                    }
                }
            }
        }
        iterations += 1
    }
}
