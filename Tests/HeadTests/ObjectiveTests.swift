import XCTest

@testable import Head

/// The objective written out again in Double, independently of `batchObjective`, as the oracle.
private func referenceLoss(
    _ p: [Double], x: [Float], labels: [Int32], weights: [Float]?, dim: Int, classes c: Int,
    l2: Double, smoothing: Double
) -> Double {
    let rows = labels.count
    var total = 0.0
    for r in 0..<rows {
        var z = [Double](repeating: 0, count: c)
        for j in 0..<c {
            z[j] = p[dim * c + j]
            for i in 0..<dim { z[j] += Double(x[r * dim + i]) * p[i * c + j] }
        }
        let m = z.max()!
        let lse = m + log(z.reduce(0) { $0 + exp($1 - m) })
        var ce = 0.0
        for j in 0..<c {
            let t = (j == Int(labels[r]) ? 1 - smoothing : 0) + smoothing / Double(c)
            ce -= t * (z[j] - lse)
        }
        total += Double(weights?[r] ?? 1) * ce
    }
    var penalty = 0.0
    for i in 0..<(dim * c) { penalty += p[i] * p[i] }
    return total / Double(rows) + l2 * penalty
}

final class ObjectiveTests: XCTestCase {
    /// Analytic gradient (Float, as training uses it) against central differences of the Double
    /// oracle. Float rounding in the gradient is about 1e-7 relative to its terms, so 1e-4 absolute
    /// plus 1e-3 relative catches any wrong term (a missing factor 2 in l2 or a wrong smoothing
    /// target is off by 10-100%) without flagging rounding.
    func check(l2: Double, smoothing: Double, weighted: Bool, file: StaticString = #filePath, line: UInt = #line) {
        let dim = 6
        let c = 4
        let rows = 9
        var rng = SplitMix64(seed: 42)
        let x = (0..<(rows * dim)).map { _ in 2 * rng.unitFloat() - 1 }
        let labels = (0..<rows).map { Int32($0 % c) }
        let weights: [Float]? = weighted ? balancedClassWeights([0, 0, 0, 1, 1, 2, 3, 3, 3], classes: c) : nil
        let sampleWeights = weights.map { w in labels.map { w[Int($0)] } }
        let p = (0..<(dim * c + c)).map { _ in rng.unitFloat() - 0.5 }
        let (loss, g) = objective(
            parameters: p, x: x, labels: labels, sampleWeights: sampleWeights, dim: dim, classes: c,
            l2: Float(l2), labelSmoothing: Float(smoothing))
        let pd = p.map(Double.init)
        let ref = referenceLoss(
            pd, x: x, labels: labels, weights: sampleWeights, dim: dim, classes: c, l2: l2, smoothing: smoothing)
        XCTAssertEqual(
            loss, ref, accuracy: 1e-5 * abs(ref), "loss, l2 \(l2) smoothing \(smoothing) weighted \(weighted)",
            file: file, line: line)
        let h = 1e-6
        for i in p.indices {
            var plus = pd
            var minus = pd
            plus[i] += h
            minus[i] -= h
            let fd =
                (referenceLoss(
                    plus, x: x, labels: labels, weights: sampleWeights, dim: dim, classes: c, l2: l2,
                    smoothing: smoothing)
                    - referenceLoss(
                        minus, x: x, labels: labels, weights: sampleWeights, dim: dim, classes: c, l2: l2,
                        smoothing: smoothing)) / (2 * h)
            XCTAssertEqual(
                Double(g[i]), fd, accuracy: 1e-4 + 1e-3 * abs(fd),
                "parameter \(i) (\(i < dim * c ? "W" : "b")), l2 \(l2) smoothing \(smoothing) weighted \(weighted)",
                file: file, line: line)
        }
    }

    func testGradientMatchesFiniteDifferences() { check(l2: 0, smoothing: 0, weighted: false) }
    func testGradientWithL2MatchesFiniteDifferences() { check(l2: 0.03, smoothing: 0, weighted: false) }
    func testGradientWithLabelSmoothingMatchesFiniteDifferences() { check(l2: 0, smoothing: 0.2, weighted: false) }
    func testGradientWithClassWeightsL2AndSmoothingMatchesFiniteDifferences() {
        check(l2: 0.01, smoothing: 0.1, weighted: true)
    }

    func testBalancedClassWeightsAreSklearns() {
        // sklearn compute_class_weight("balanced", classes=[0,1,2], y=[0,0,0,0,1,1,2]) = 7/(3*[4,2,1])
        let w = balancedClassWeights([0, 0, 0, 0, 1, 1, 2], classes: 3)
        XCTAssertEqual(w, [Float(7.0 / 12), Float(7.0 / 6), Float(7.0 / 3)])
    }

    func testAdamFirstStepIsKerasFormula() {
        // Keras 3 Adam, step 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(1 - 0.999) / (1 - 0.9),
        // p -= m alpha / (sqrt(v) + 1e-7).
        var config = TrainingConfig()
        config.learningRate = 0.01
        var opt = Optimizer(config, parameterCount: 2)
        var p: [Float] = [1, -2]
        let g: [Float] = [0.5, -3e-6]
        p.withUnsafeMutableBufferPointer { opt.step($0.baseAddress!, gradient: g) }
        let alpha = Float(0.01) * (1 - powf(0.999, 1)).squareRoot() / (1 - powf(0.9, 1))
        for i in 0..<2 {
            let m = (g[i] - 0) * (1 - Float(0.9))
            let v = (g[i] * g[i] - 0) * (1 - Float(0.999))
            let expected = [Float(1), -2][i] - (m * alpha) / (v.squareRoot() + 1e-7)
            XCTAssertEqual(p[i], expected, "parameter \(i)")
        }
        // The tiny gradient's step is visibly damped by epsilon: not lr * sign(g).
        XCTAssertLessThan(abs(p[1] + 2), 0.009)
    }

    func testSGDNesterovIsKerasFormula() {
        var config = TrainingConfig()
        config.optimizer = .sgd
        config.learningRate = 0.1
        config.momentum = 0.9
        config.nesterov = true
        var opt = Optimizer(config, parameterCount: 1)
        var p: [Float] = [1]
        p.withUnsafeMutableBufferPointer { opt.step($0.baseAddress!, gradient: [2]) }  // m = -0.2; p += 0.9 m - 0.2
        XCTAssertEqual(p[0], 1 + (Float(-0.2) * 0.9 - 0.2))
        p.withUnsafeMutableBufferPointer { opt.step($0.baseAddress!, gradient: [1]) }  // m = -0.18 - 0.1
        let m2 = Float(-0.2) * 0.9 - 1 * 0.1
        XCTAssertEqual(p[0], 1 + (Float(-0.2) * 0.9 - 0.2) + (m2 * 0.9 - 0.1))
    }
}
