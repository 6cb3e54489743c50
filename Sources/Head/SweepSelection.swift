/// What a sweep ranks its points by: their val scores, or the mean over folds with `--folds`.
public enum SweepSelection: String, Codable, Sendable, CaseIterable {
    /// Lowest cross-entropy first, then highest accuracy. A continuous score: on a val split of a
    /// few dozen images one image moves the accuracy by several points, and the most accurate point
    /// there is often an under-trained one that got lucky.
    case loss
    /// Highest accuracy first, then lowest loss (scikit-learn GridSearchCV's default scoring).
    case accuracy

    /// How leaderboards describe the order, e.g. "loss, then accuracy".
    public var description: String {
        switch self {
        case .loss: "loss, then accuracy"
        case .accuracy: "accuracy, then loss"
        }
    }

    /// Indices of `scores`, best first. A missing or NaN score ranks below every real one; ties keep
    /// index order (grid order), so the ranking is the same on every run.
    public func ranking(_ scores: [(accuracy: Double?, loss: Double?)]) -> [Int] {
        // Both as "smaller is better", with missing values last.
        let keys = scores.map { s -> (Double, Double) in
            let a = s.accuracy.flatMap { $0.isNaN ? nil : -$0 } ?? .infinity
            let l = s.loss.flatMap { $0.isNaN ? nil : $0 } ?? .infinity
            return self == .loss ? (l, a) : (a, l)
        }
        return scores.indices.sorted { i, j in
            keys[i].0 != keys[j].0 ? keys[i].0 < keys[j].0 : keys[i].1 != keys[j].1 ? keys[i].1 < keys[j].1 : i < j
        }
    }
}
