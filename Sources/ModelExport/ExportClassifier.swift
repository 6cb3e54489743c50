import Foundation
import MobileNet

/// The trained part of a run, as the exporters take it: a Keras `Dense` softmax head, and for a finetune
/// run also the tuned Conv_1 that replaces the backbone's folded Conv_1 + Conv_1_bn.
public struct ExportClassifier: Sendable {
    /// A tuned Conv_1 (1x1, cin -> cout, bias, then ReLU6), BatchNorm already folded in.
    public struct TunedConv1: Sendable {
        /// cin x cout, row-major: Keras's (1, 1, cin, cout) kernel order.
        public let kernel: [Float]
        /// cout.
        public let bias: [Float]
        /// Whether Conv_1 reads block_16's maps rounded to float16 first, as tlearn's finetune kind does: it
        /// trains on maps stored as float16, and `predict` rounds a new image's maps the same way.
        let mapsAsFloat16: Bool

        public init(kernel: [Float], bias: [Float], mapsAsFloat16: Bool = true) {
            self.kernel = kernel
            self.bias = bias
            self.mapsAsFloat16 = mapsAsFloat16
        }
    }

    /// Class names in logit order.
    public let classes: [String]
    /// dim x classes, row-major: logits = x W + b.
    public let denseWeights: [Float]
    /// classes.
    public let denseBias: [Float]
    /// nil for a softmax run (the backbone's own Conv_1).
    public let conv1: TunedConv1?

    public init(classes: [String], denseWeights: [Float], denseBias: [Float], conv1: TunedConv1? = nil) {
        self.classes = classes
        self.denseWeights = denseWeights
        self.denseBias = denseBias
        self.conv1 = conv1
    }

    /// The run's model kind as `runs.config` names it: softmax, or finetune with a tuned Conv_1.
    public var kind: String { conv1 == nil ? "softmax" : "finetune" }

    /// Checks every shape against the network, so a mismatch is an error naming both, not a broken file.
    func check(against network: FoldedNetwork) throws {
        let dim = network.dim
        let n = classes.count
        guard n > 0 else { throw ExportError.invalid("the classifier has no classes") }
        guard Set(classes).count == n else { throw ExportError.invalid("the class names are not unique: \(classes)") }
        guard denseWeights.count == dim * n, denseBias.count == n else {
            throw ExportError.invalid(
                "the head has \(denseWeights.count) weights and \(denseBias.count) biases; "
                    + "the backbone's \(dim)-float embeddings and \(n) classes need \(dim * n) and \(n)")
        }
        if let conv1 {
            let cin = network.architecture.blocks.last!.outChannels
            guard conv1.kernel.count == cin * dim, conv1.bias.count == dim else {
                throw ExportError.invalid(
                    "the tuned Conv_1 has \(conv1.kernel.count) weights and \(conv1.bias.count) biases; "
                        + "the backbone's Conv_1 (\(cin) -> \(dim)) needs \(cin * dim) and \(dim)")
            }
        }
        let values = denseWeights + denseBias + (conv1.map { $0.kernel + $0.bias } ?? [])
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw ExportError.invalid("the classifier has a non-finite parameter (\(values[bad]) at index \(bad))")
        }
    }
}

/// What the exported model's `image` input takes.
public enum ExportInput: String, Sendable, CaseIterable {
    /// float32 NHWC already scaled as tlearn does (`x / 127.5 - 1`).
    case float32
    /// uint8 RGB NHWC; the model scales it with the same IEEE operations.
    case uint8
}

/// Where the exported classifier came from; written into the model (ONNX `metadata_props`, the
/// `.keras` archive's `metadata.json`) so a deployed file can be traced back to its run.
public struct ExportProvenance: Sendable {
    public let runID: Int64
    public let splitFingerprint: String
    public let weightsSHA256: String
    public let weightsName: String
    /// `backbones.preprocessing`: how the run's images were decoded and scaled.
    public let preprocessing: String

    public init(
        runID: Int64, splitFingerprint: String, weightsSHA256: String, weightsName: String, preprocessing: String
    ) {
        self.runID = runID
        self.splitFingerprint = splitFingerprint
        self.weightsSHA256 = weightsSHA256
        self.weightsName = weightsName
        self.preprocessing = preprocessing
    }

    /// The key/value pairs, values as text (numbers and the class list as JSON).
    func properties(network: FoldedNetwork, classifier: ExportClassifier, input: ExportInput) -> [(String, String)] {
        let size = network.inputSize
        return [
            ("format", "tlearn-model/1"),
            ("run_id", String(runID)),
            ("model", classifier.kind),
            ("classes", jsonStringArray(classifier.classes)),
            ("dim", String(network.dim)),
            ("weights_sha256", weightsSHA256),
            ("weights_name", weightsName),
            ("alpha", String(network.architecture.alpha)),
            ("input_size", String(size)),
            ("preprocessing", preprocessing),
            ("split_fingerprint", splitFingerprint),
            (
                "input",
                input == .float32
                    ? "image: float32 [N, \(size), \(size), 3], RGB already scaled by x / 127.5 - 1"
                    : "image: uint8 [N, \(size), \(size), 3], RGB bytes; scaled by x / 127.5 - 1 inside the model"
            ),
        ]
    }
}

/// Why an export failed.
enum ExportError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let reason): "cannot export: \(reason)"
        case .unwritable(let path, let reason): "cannot write \(path): \(reason)"
        }
    }
}

/// A JSON array of strings (class names may hold any character).
func jsonStringArray(_ values: [String]) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    return String(decoding: try! encoder.encode(values), as: UTF8.self)
}
