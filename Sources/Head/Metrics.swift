import Formats

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
        case count, accuracy, loss, perClass = "per_class", confusion
    }

    /// Metrics from true and predicted class indices.
    public init(labels: [Int32], predicted: [Int32], classes: [String], loss: Double?) {
        precondition(labels.count == predicted.count, "SplitMetrics: \(labels.count) labels, \(predicted.count) predictions")
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
    public func evaluate(_ data: LabeledMatrix) -> SplitMetrics {
        precondition(data.width == inputCount, "StoredModel.evaluate: rows of \(data.width) floats, the model reads \(inputCount)")
        let z = logits(data.x)
        return SplitMetrics(labels: data.labels, predicted: predictions(z), classes: classes,
                            loss: data.rows == 0 ? nil : plainCrossEntropy(z, labels: data.labels, classes: classCount))
    }
}
