/// What kind of classifier a run holds: `runs.config` "model".
public enum ModelKind: String, Sendable, CaseIterable, Codable {
    /// Keras `Dense(n)` on the pooled embedding: logits = x W + b.
    case softmax
    /// The backbone's Conv_1 (tuned) + ReLU6 + global average pooling + Dense(n), on block_16's maps.
    case finetune
    /// Baseline: the class whose mean training vector is closest in cosine; W holds the unit centroids.
    case nearestCentroid = "nearest_centroid"
    /// Baseline: majority vote of the k most cosine-similar training vectors; stores no parameters.
    case knn

    /// Trained by `train-head` and `sweep` (not a baseline).
    public var isTrained: Bool { self == .softmax || self == .finetune }
    /// Reads block_16's feature maps (the `maps` table) rather than the pooled embedding.
    public var readsMaps: Bool { self == .finetune }
}

/// A stored value that does not have the shape its format says.
public struct FormatError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
