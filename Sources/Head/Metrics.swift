import Dispatch
import Formats

#if canImport(Glibc)
    import Glibc
#endif

/// Precision, recall and F1 of one class (sklearn's definitions; 0 when undefined).
public struct ClassMetrics: Codable, Equatable, Sendable {
    public let name: String
    public let precision: Double
    public let recall: Double
    public let f1: Double
    /// True rows of this class.
    public let support: Int
}

/// How a classifier did on one split.
public struct SplitMetrics: Codable, Equatable, Sendable {
    public let count: Int
    public let accuracy: Double
    /// Mean plain cross-entropy; nil for classifiers without probabilities (k-NN).
    public let loss: Double?
    public let perClass: [ClassMetrics]
    /// confusion[true][predicted], classes in logit order.
    public let confusion: [[Int]]

    enum CodingKeys: String, CodingKey {
        case count, accuracy, loss
        case perClass = "per_class"
        case confusion
    }

    /// Metrics from true and predicted class indices.
    public init(labels: [Int32], predicted: [Int32], classes: [String], loss: Double?) {
        precondition(
            labels.count == predicted.count, "SplitMetrics: \(labels.count) labels, \(predicted.count) predictions")
        let c = classes.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: c), count: c)
        for (y, p) in zip(labels, predicted) { confusion[Int(y)][Int(p)] += 1 }
        let correct = (0..<c).reduce(0) { $0 + confusion[$1][$1] }
        perClass = (0..<c).map { k in
            let tp = Double(confusion[k][k])
            let support = confusion[k].reduce(0, +)
            let predictedK = (0..<c).reduce(0) { $0 + confusion[$1][k] }
            let precision = predictedK == 0 ? 0 : tp / Double(predictedK)
            let recall = support == 0 ? 0 : tp / Double(support)
            let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
            return ClassMetrics(name: classes[k], precision: precision, recall: recall, f1: f1, support: support)
        }
        count = labels.count
        accuracy = labels.isEmpty ? 0 : Double(correct) / Double(labels.count)
        self.loss = loss
        self.confusion = confusion
    }

    /// Unweighted mean F1 over classes that have rows (sklearn `f1_score(average="macro")` over present labels).
    public var macroF1: Double {
        let present = perClass.filter { $0.support > 0 }
        return present.isEmpty ? 0 : present.reduce(0) { $0 + $1.f1 } / Double(present.count)
    }
}

extension StoredModel {
    /// Accuracy, plain cross-entropy, per-class P/R/F1 and confusion of this model on `data`, all
    /// from `logits`, the function `predict` and SQL's head_* use.
    ///
    /// With `flipped` (the hflip view of each row), test-time flips: each row is scored on the mean of
    /// the two views' probabilities, and the loss is the cross-entropy of that mean.
    public func evaluate(_ data: LabeledMatrix, flipped: LabeledMatrix? = nil, threads: Int = 1) -> SplitMetrics {
        let s = score(data, flipped: flipped, threads: threads)
        return SplitMetrics(labels: data.labels, predicted: s.predicted, classes: classes, loss: s.loss)
    }

    /// Each row's predicted class, the mean loss (nil without rows) and the class probabilities
    /// (rows x classes), with test-time flips when `flipped` is given. Without flips the prediction
    /// is the argmax of the logits, exactly what head_predict gives.
    public func score(_ data: LabeledMatrix, flipped: LabeledMatrix?, threads: Int = 1)
        -> (predicted: [Int32], loss: Double?, probabilities: [Double])
    {
        precondition(
            data.width == inputCount,
            "StoredModel.evaluate: rows of \(data.width) floats, the model reads \(inputCount)")
        let c = classCount
        if let flipped {
            let p = flipAveragedProbabilities(data, flipped: flipped, threads: threads)
            var loss = 0.0
            for (r, y) in data.labels.enumerated() { loss -= log(p[r * c + Int(y)]) }
            return (predictions(p), data.rows == 0 ? nil : loss / Double(data.rows), p)
        }
        var z = logits(data, threads: threads)
        let predicted = predictions(z)
        let loss = data.rows == 0 ? nil : plainCrossEntropy(z, labels: data.labels, classes: c)
        z.withUnsafeMutableBufferPointer { z in for r in 0..<data.rows { softmax(z.baseAddress! + r * c, count: c) } }
        return (predicted, loss, z)
    }

    /// The mean of the softmax of `data`'s rows and of their hflip views (`flipped`, row for row).
    func flipAveragedProbabilities(_ data: LabeledMatrix, flipped: LabeledMatrix, threads: Int = 1) -> [Double] {
        precondition(flipped.labels == data.labels, "StoredModel: the hflip rows do not match the rows")
        return probabilities(logits(data, threads: threads), flipped: logits(flipped, threads: threads))
    }

    /// Class probabilities of the inputs in `x` (inputs x classes); with `flipped` (each input's hflip
    /// view, in the same order), the mean of the two views' probabilities: test-time flips.
    public func probabilities(_ x: [Float], flipped: [Float]?, threads: Int = 1) -> [Double] {
        let n = inputCount
        func rows(_ v: [Float]) -> [Double] {
            v.withUnsafeBufferPointer { p in
                let base = UncheckedConst(p.baseAddress!)
                return logits(rows: v.count / n, threads: threads) { base.pointer + $0 * n }
            }
        }
        return probabilities(rows(x), flipped: flipped.map(rows))
    }

    /// Softmax rows of logits `a`, averaged with those of `b` when given.
    private func probabilities(_ a: [Double], flipped b: [Double]?) -> [Double] {
        let c = classCount
        let rows = a.count / c
        var a = a
        var b = b
        precondition(b == nil || b!.count == a.count, "StoredModel: \(b!.count) flipped logits for \(a.count)")
        a.withUnsafeMutableBufferPointer { a in
            for r in 0..<rows { softmax(a.baseAddress! + r * c, count: c) }
        }
        guard b != nil else { return a }
        b!.withUnsafeMutableBufferPointer { b in
            for r in 0..<rows {
                softmax(b.baseAddress! + r * c, count: c)
                for j in 0..<c { a[r * c + j] = (a[r * c + j] + b[r * c + j]) / 2 }
            }
        }
        return a
    }
}

extension StoredModel {
    /// `logits` of the rows of `m` on up to `threads` threads.
    public func logits(_ m: LabeledMatrix, threads: Int = 1) -> [Double] {
        precondition(m.width == inputCount, "StoredModel: rows of \(m.width) floats, the model reads \(inputCount)")
        return logits(rows: m.rows, threads: threads) { m.row($0) }
    }

    /// `logits` of `rows` inputs, `row(r)` giving input r, on up to `threads` threads: each row's
    /// logits depend on that row alone, so the result is the same for any thread count.
    func logits(rows: Int, threads: Int, row: @Sendable (Int) -> UnsafePointer<Float>) -> [Double] {
        let c = classCount
        var out = [Double](repeating: 0, count: rows * c)
        // A thread is worth waking only for a few million multiply-adds: a softmax head scores a val
        // split of a few hundred rows faster alone than it takes another thread to start.
        let perRow = (map.map { $0.pixels * $0.channels * dim } ?? 0) + dim * c
        let workers = min(max(1, threads), rows / 16, max(1, rows * perRow / (1 << 22)))
        out.withUnsafeMutableBufferPointer { o in
            let dst = UncheckedDoubles(o.baseAddress!)
            withoutActuallyEscaping(row) { row in
                let work: @Sendable (Range<Int>) -> Void = { range in
                    var scratch = [Float](repeating: 0, count: max(scratchCount, 1))
                    var block: [UnsafePointer<Float>] = []
                    block.reserveCapacity(256)
                    scratch.withUnsafeMutableBufferPointer { s in
                        for start in stride(from: range.lowerBound, to: range.upperBound, by: 256) {
                            let end = min(start + 256, range.upperBound)
                            block.removeAll(keepingCapacity: true)
                            for r in start..<end { block.append(row(r)) }
                            block.withUnsafeBufferPointer {
                                logits(rows: $0, into: dst.pointer + start * c, scratch: s.baseAddress!)
                            }
                        }
                    }
                }
                if workers <= 1 { return work(0..<rows) }
                DispatchQueue.concurrentPerform(iterations: workers) { w in
                    work((w * rows / workers)..<((w + 1) * rows / workers))
                }
            }
        }
        return out
    }
}

/// A Double pointer handed to worker threads that write disjoint ranges.
struct UncheckedDoubles: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Double>
    init(_ p: UnsafeMutablePointer<Double>) { pointer = p }
}
