import Dispatch
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

/// Nearest centroid by cosine: each class is the mean of its training vectors.
func nearestCentroidBaseline(_ data: TrainingData, threads: Int = 1) -> BaselineResult {
    let start = ContinuousClock.now
    let d = data.dim
    let c = data.classes.count
    var sums = [Double](repeating: 0, count: c * d)
    var counts = [Int](repeating: 0, count: c)
    for r in 0..<data.train.rows {
        let y = Int(data.train.labels[r])
        let x = data.train.row(r)
        counts[y] += 1
        for j in 0..<d { sums[y * d + j] += Double(x[j]) }
    }
    // W holds the unit centroids (dim x classes), b = 0: argmax(x W) is the cosine-nearest centroid.
    var w = [Float](repeating: 0, count: d * c + c)
    for k in 0..<c {
        let mean = (0..<d).map { sums[k * d + $0] / Double(max(counts[k], 1)) }
        let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        for j in 0..<d { w[j * c + k] = norm > 0 ? Float(mean[j] / norm) : 0 }
    }
    let model = try! StoredModel(kind: .nearestCentroid, classes: data.classes, dim: d, parameters: w)
    func metrics(_ m: LabeledMatrix) -> SplitMetrics? {
        m.rows == 0
            ? nil
            : SplitMetrics(
                labels: m.labels, predicted: model.predictions(model.logits(m, threads: threads)),
                classes: data.classes, loss: nil)
    }
    return BaselineResult(
        config: BaselineConfig(model: .nearestCentroid, metric: "cosine", k: nil), classes: data.classes,
        dim: d, centroids: w, val: metrics(data.val), test: metrics(data.test),
        seconds: Double((ContinuousClock.now - start) / .seconds(1)))
}

/// At most this many val (and test) images are scored by the k-NN baseline: each one is compared
/// with every training vector, so a million-image database would take hours. A fixed-seed sample
/// keeps it to about a minute there; smaller databases are scored whole.
let knnBaselineQueryLimit = 2000

/// k nearest training vectors by cosine, majority vote (ties: the class with the larger summed
/// similarity, then the lower index), on val and test (sampled past `knnBaselineQueryLimit`).
/// Block by block with a fixed memory budget, on `threads` threads.
func knnBaseline(_ data: TrainingData, k: Int = 5, threads: Int = 1) -> BaselineResult {
    let start = ContinuousClock.now
    let kk = min(k, data.train.rows)
    func metrics(_ m: LabeledMatrix) -> SplitMetrics? {
        guard m.rows > 0 else { return nil }
        var q = m
        if m.rows > knnBaselineQueryLimit {
            var rng = SplitMix64(seed: 0x6B4E_4E00)
            var order = Array(0..<m.rows)
            rng.shuffle(&order)
            let keep = order.prefix(knnBaselineQueryLimit).sorted()
            q = LabeledMatrix(
                source: m.source, sourceRows: keep.map { m.sourceRows[$0] }, labels: keep.map { m.labels[$0] })
        }
        let predicted = nearestNeighbourVotes(
            q, train: data.train, k: kk, classes: data.classes.count, threads: threads)
        return SplitMetrics(labels: q.labels, predicted: predicted, classes: data.classes, loss: nil)
    }
    return BaselineResult(
        config: BaselineConfig(model: .knn, metric: "cosine", k: kk), classes: data.classes, dim: data.dim,
        centroids: [], val: metrics(data.val), test: metrics(data.test),
        seconds: Double((ContinuousClock.now - start) / .seconds(1)))
}

/// The k-NN vote of each query row among the training rows. Queries go in blocks of `queryBlock`
/// (gathered), training rows in blocks of `trainBlock` (gathered), one GEMM per pair of blocks, each
/// thread holding one block pair and its similarities: memory does not grow with the data.
func nearestNeighbourVotes(
    _ queries: LabeledMatrix, train: LabeledMatrix, k: Int, classes: Int, threads: Int,
    queryBlock: Int = 512, trainBlock: Int = 4096
) -> [Int32] {
    let d = train.width
    func inverseNorms(_ m: LabeledMatrix) -> [Float] {
        (0..<m.rows).map { r in
            let x = m.row(r)
            var s: Float = 0
            for j in 0..<d { s += x[j] * x[j] }
            return s > 0 ? 1 / s.squareRoot() : 0
        }
    }
    let qInv = inverseNorms(queries)
    let tInv = inverseNorms(train)
    var predicted = [Int32](repeating: 0, count: queries.rows)
    let blocks = (queries.rows + queryBlock - 1) / queryBlock
    predicted.withUnsafeMutableBufferPointer { out in
        let result = UncheckedLabels(out.baseAddress!)
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, blocks))) { worker in
            let qBuffer = AlignedBuffer(count: queryBlock * d)
            let tBuffer = AlignedBuffer(count: trainBlock * d)
            let sim = AlignedBuffer(count: queryBlock * trainBlock)
            for b in stride(from: worker, to: blocks, by: max(1, min(threads, blocks))) {
                let q0 = b * queryBlock
                let qn = min(queryBlock, queries.rows - q0)
                for r in 0..<qn { (qBuffer.pointer + r * d).update(from: queries.row(q0 + r), count: d) }
                // Each query's best k so far (similarity, training row), best first; ties to the lower row.
                var top = [[(sim: Float, index: Int)]](repeating: [], count: qn)
                for t0 in stride(from: 0, to: train.rows, by: trainBlock) {
                    let tn = min(trainBlock, train.rows - t0)
                    for r in 0..<tn { (tBuffer.pointer + r * d).update(from: train.row(t0 + r), count: d) }
                    gemm(qBuffer.pointer, tBuffer.pointer, sim.pointer, m: qn, n: tn, k: d, transB: true)
                    for r in 0..<qn {
                        let row = sim.pointer + r * tn
                        let qi = qInv[q0 + r]
                        for i in 0..<tn {
                            let s = row[i] * qi * tInv[t0 + i]
                            if top[r].count == k, let last = top[r].last, !(s > last.sim) { continue }
                            let at = top[r].firstIndex { s > $0.sim } ?? top[r].count
                            top[r].insert((s, t0 + i), at: at)
                            if top[r].count > k { top[r].removeLast() }
                        }
                    }
                }
                for r in 0..<qn {
                    var votes = [Int](repeating: 0, count: classes)
                    var total = [Float](repeating: 0, count: classes)
                    for t in top[r] {
                        let y = Int(train.labels[t.index])
                        votes[y] += 1
                        total[y] += t.sim
                    }
                    var best = 0
                    for j in 1..<classes
                    where votes[j] > votes[best] || (votes[j] == votes[best] && total[j] > total[best]) { best = j }
                    result.pointer[q0 + r] = Int32(best)
                }
            }
        }
    }
    return predicted
}

/// A label pointer handed to worker threads that write disjoint ranges.
struct UncheckedLabels: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int32>
    init(_ p: UnsafeMutablePointer<Int32>) { pointer = p }
}
