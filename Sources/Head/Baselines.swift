import Formats
import Kernels

/// A baseline classifier's results on the same split as the trained heads.
public struct BaselineResult: Sendable {
    public let config: BaselineConfig
    public let classes: [String]
    public let dim: Int
    /// Nearest centroid: unit centroids as a head (W = dim x classes, then b = 0), so that
    /// argmax(x W + b) is the cosine-nearest centroid. k-NN: empty.
    public let centroids: [Float]
    public let val: SplitMetrics?
    public let test: SplitMetrics?
    public let seconds: Double
}

/// Rows of `x` scaled to unit length (zero rows stay zero).
func unitRows(_ x: [Float], dim: Int) -> [Float] {
    var out = x
    for r in 0..<(x.count / dim) {
        var s: Float = 0
        for j in 0..<dim { s += x[r * dim + j] * x[r * dim + j] }
        let inv: Float = s > 0 ? 1 / s.squareRoot() : 0
        for j in 0..<dim { out[r * dim + j] *= inv }
    }
    return out
}

/// Nearest centroid by cosine: each class is the mean of its training vectors.
public func nearestCentroidBaseline(_ data: TrainingData) -> BaselineResult {
    let start = ContinuousClock.now
    let d = data.dim, c = data.classes.count
    var sums = [Double](repeating: 0, count: c * d)
    var counts = [Int](repeating: 0, count: c)
    for r in 0..<data.train.rows {
        let y = Int(data.train.labels[r])
        counts[y] += 1
        for j in 0..<d { sums[y * d + j] += Double(data.train.x[r * d + j]) }
    }
    let means = (0..<(c * d)).map { Float(sums[$0] / Double(max(counts[$0 / d], 1))) }
    let unit = unitRows(means, dim: d)  // classes x dim
    var w = [Float](repeating: 0, count: d * c + c)
    for k in 0..<c { for j in 0..<d { w[j * c + k] = unit[k * d + j] } }
    let model = try! StoredModel(kind: .nearestCentroid, classes: data.classes, dim: d, parameters: w)
    func metrics(_ m: LabeledMatrix) -> SplitMetrics? {
        m.rows == 0 ? nil : SplitMetrics(labels: m.labels, predicted: model.predictions(model.logits(m.x)), classes: data.classes, loss: nil)
    }
    return BaselineResult(config: BaselineConfig(model: .nearestCentroid, metric: "cosine", k: nil), classes: data.classes,
                          dim: d, centroids: w, val: metrics(data.val), test: metrics(data.test),
                          seconds: Double((ContinuousClock.now - start) / .seconds(1)))
}

/// k nearest training vectors by cosine, majority vote (ties: the class with the larger summed
/// similarity, then the lower index).
public func knnBaseline(_ data: TrainingData, k: Int = 5) -> BaselineResult {
    let start = ContinuousClock.now
    let d = data.dim, c = data.classes.count, n = data.train.rows
    let train = unitRows(data.train.x, dim: d)
    let kk = min(k, n)
    func predict(_ m: LabeledMatrix) -> [Int32] {
        let q = unitRows(m.x, dim: d)
        var sim = [Float](repeating: 0, count: m.rows * n)
        q.withUnsafeBufferPointer { q in
            train.withUnsafeBufferPointer { t in
                sim.withUnsafeMutableBufferPointer { s in
                    gemm(q.baseAddress!, t.baseAddress!, s.baseAddress!, m: m.rows, n: n, k: d, transB: true)
                }
            }
        }
        return (0..<m.rows).map { r in
            // Top k by similarity (ties to the lower training row), by insertion into a sorted list of k.
            var top: [(sim: Float, index: Int)] = []
            top.reserveCapacity(kk + 1)
            for i in 0..<n {
                let s = sim[r * n + i]
                if top.count == kk, let last = top.last, !(s > last.sim) { continue }
                let at = top.firstIndex { s > $0.sim } ?? top.count
                top.insert((s, i), at: at)
                if top.count > kk { top.removeLast() }
            }
            var votes = [Int](repeating: 0, count: c)
            var total = [Float](repeating: 0, count: c)
            for t in top {
                let y = Int(data.train.labels[t.index])
                votes[y] += 1
                total[y] += t.sim
            }
            var best = 0
            for j in 1..<c where votes[j] > votes[best] || (votes[j] == votes[best] && total[j] > total[best]) { best = j }
            return Int32(best)
        }
    }
    func metrics(_ m: LabeledMatrix) -> SplitMetrics? {
        m.rows == 0 ? nil : SplitMetrics(labels: m.labels, predicted: predict(m), classes: data.classes, loss: nil)
    }
    return BaselineResult(config: BaselineConfig(model: .knn, metric: "cosine", k: kk), classes: data.classes, dim: d,
                          centroids: [], val: metrics(data.val), test: metrics(data.test),
                          seconds: Double((ContinuousClock.now - start) / .seconds(1)))
}
