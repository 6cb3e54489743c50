import Formats
import Store

/// One wrongly classified row, for `evaluate --misclassified`.
public struct Misclassification: Codable, Sendable, Equatable {
    public let path: String
    public let trueClass: String
    public let predicted: String
    public let probability: Double

    enum CodingKeys: String, CodingKey {
        case path
        case trueClass = "true"
        case predicted, probability
    }
}

/// A head's metrics on one split of a database, with the wrong rows.
public struct Evaluation: Sendable {
    public let metrics: SplitMetrics
    public let misclassified: [Misclassification]
    /// Rows skipped because the head never saw their class: class name -> count.
    public let unknownClasses: [String: Int]
}

extension EmbeddingSet {
    /// Rows of `partition` (original view) labelled in `classes`' order; rows of other classes
    /// are counted in `unknown` and left out.
    public func rows(in partition: Split, labelledAs classes: [String]) -> (
        matrix: LabeledMatrix, unknown: [String: Int]
    ) {
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        var keep: [Int] = []
        var labels: [Int32] = []
        var unknown: [String: Int] = [:]
        for i in rows(in: partition, views: [.orig]) {
            let name = self.classes[Int(self.labels[i])]
            if let k = index[name] {
                keep.append(i)
                labels.append(k)
            } else {
                unknown[name, default: 0] += 1
            }
        }
        var m = matrix(keep)
        m.labels = labels
        return (m, unknown)
    }
}

extension StoredModel {
    /// Metrics and wrong rows of this model on `partition` of `set` (vectors, or maps for a model
    /// that reads maps); with `tta`, on the mean of each image's orig and hflip probabilities.
    public func evaluate(on set: EmbeddingSet, partition: Split = .test, tta: Bool = false, threads: Int = 1) throws
        -> Evaluation
    {
        guard set.width == inputCount else {
            throw HeadError.invalid("\(set.path): rows have \(set.width) floats, the model reads \(inputCount)")
        }
        let (m, unknown) = set.rows(in: partition, labelledAs: classes)
        guard m.rows > 0 else {
            throw HeadError.invalid(
                "\(set.path) has no \(partition.rawValue) images of the model's classes (\(classes.joined(separator: ", ")))"
            )
        }
        var flipped: LabeledMatrix? = nil
        if tta {
            guard let rows = set.flipped(m.sourceRows) else {
                throw HeadError.invalid(
                    "--tta needs the hflip view of every \(partition.rawValue) image, and some have none: extract with --views orig,hflip"
                )
            }
            var f = set.matrix(rows)
            f.labels = m.labels
            flipped = f
        }
        return evaluate(
            m, paths: m.sourceRows.map { set.paths[$0] }, flipped: flipped, unknownClasses: unknown, threads: threads)
    }

    /// Metrics and wrong rows of this model on labelled inputs; `paths[r]` names row r; `flipped`
    /// holds each row's hflip view for test-time flips.
    public func evaluate(
        _ m: LabeledMatrix, paths: [String], flipped: LabeledMatrix? = nil, unknownClasses: [String: Int] = [:],
        threads: Int = 1
    ) -> Evaluation {
        precondition(paths.count == m.rows, "StoredModel.evaluate: \(paths.count) paths for \(m.rows) rows")
        let (predicted, loss, p) = score(m, flipped: flipped, threads: threads)
        let metrics = SplitMetrics(labels: m.labels, predicted: predicted, classes: classes, loss: loss)
        let c = classCount
        var wrong: [Misclassification] = []
        for r in 0..<m.rows where predicted[r] != m.labels[r] {
            wrong.append(
                Misclassification(
                    path: paths[r], trueClass: classes[Int(m.labels[r])],
                    predicted: classes[Int(predicted[r])], probability: p[r * c + Int(predicted[r])]))
        }
        return Evaluation(
            metrics: metrics, misclassified: wrong.sorted { $0.path < $1.path }, unknownClasses: unknownClasses)
    }
}
