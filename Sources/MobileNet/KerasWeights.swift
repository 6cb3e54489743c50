import Foundation
import HDF5

/// A MobileNetV2 backbone read from a Keras `.h5`, with every BatchNorm folded into the convolution
/// before it. The HDF5 module does the reading.
///
/// Layouts handled (all found in the wild):
/// - keras-applications downloads: root `layer_names`, per-layer `weight_names`, `Conv1/Conv1/kernel:0`,
///   `depthwise_kernel:0`, fixed-length string attributes;
/// - Keras 3 legacy `save_weights`: the same without `:0`, variable-length strings;
/// - whole models (Keras 2 or 3) under `model_weights/`, the backbone possibly nested as a sub-model
///   (`model_weights/mobilenetv2_1.00_160/Conv1/kernel`), whose `weight_names` are not in network order;
/// - Keras 3's native `.weights.h5` (`layers/conv2d_7/vars/0`), see `nativeLayout`.
/// Arrays are matched by Keras layer name when the file has them, else by position (Keras's own
/// `load_weights` order: `layer_names`, then `weight_names`), checking every shape either way.
struct KerasWeights {
    /// A convolution with its BatchNorm folded in: `kernel` keeps Keras's (kh, kw, cin, cout) order,
    /// or (3, 3, C) for depthwise; `bias` has one value per output channel.
    struct Folded {
        let kernel: [Float]
        let bias: [Float]
    }

    /// BatchNormalization's epsilon in keras/src/applications/mobilenet_v2.py (`epsilon=1e-3`).
    static let batchNormEpsilon = 1e-3

    let path: String
    let architecture: Architecture
    let arrays: [String: [Float]]  // "layer/weight" -> values, shapes already checked (FoldedNetwork reads them too)

    /// How arrays are found: by Keras name, by Keras's positional order, or whichever matches more.
    enum Matching { case names, positions, best }

    /// Reads and checks every array of the backbone; throws `WeightsError` naming the file and the layer.
    init(path: String, matching: Matching = .best) throws {
        hdf5Lock.lock()
        defer { hdf5Lock.unlock() }
        do {
            try self.init(file: try HDF5File(path: path), matching: matching)
        } catch let error as HDF5Error {
            throw WeightsError(error)
        }
    }

    /// `init(path:matching:)` on an open file; call with `hdf5Lock` held.
    private init(file: HDF5File, matching: Matching) throws {
        let path = file.path
        self.path = path
        let root = file.exists("/model_weights") ? "/model_weights" : "/"
        let (architecture, resolved) = try KerasWeights.resolve(file, root: root, matching: matching)
        self.architecture = architecture
        var arrays: [String: [Float]] = [:]
        for (array, dataset) in zip(architecture.arrays, resolved) {
            let values = try file.floats(dataset, count: array.shape.reduce(1, *))
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw WeightsError.invalid(
                    file: path, reason: "\(array.key) (\(dataset)) has \(values[bad]) at index \(bad)")
            }
            if array.weight == "moving_variance", let bad = values.firstIndex(where: { $0 < 0 }) {
                throw WeightsError.invalid(
                    file: path, reason: "\(array.key) (\(dataset)) is negative (\(values[bad])) at index \(bad)")
            }
            arrays[array.key] = values
        }
        self.arrays = arrays
    }

    /// Finds the dataset holding each array of the best-matching width: by Keras name, else by position.
    /// The width (alpha) is the one whose shapes the file matches best; any array still missing or
    /// misshapen for that width is reported, the first in network order.
    private static func resolve(_ file: HDF5File, root: String, matching: Matching) throws -> (Architecture, [String]) {
        var byKey: [String: [String]] = [:]
        for dataset in try file.datasets(under: root) {
            let parts = dataset.split(separator: "/")
            guard parts.count >= 2 else { continue }
            var weight = String(parts[parts.count - 1])
            if let colon = weight.lastIndex(of: ":"), weight[weight.index(after: colon)...].allSatisfy(\.isNumber) {
                weight = String(weight[..<colon])  // TF variable names end in ":0"
            }
            if weight == "depthwise_kernel" { weight = "kernel" }  // Keras 2 DepthwiseConv2D
            byKey["\(parts[parts.count - 2])/\(weight)", default: []].append(dataset)
        }
        for (key, dataset) in nativeLayout(try file.datasets(under: "/")) where byKey[key] == nil {
            byKey[key] = [dataset]
        }
        let ordered = try orderedDatasets(file, root: root)
        var shapes: [String: [Int]?] = [:]
        func shape(_ dataset: String) -> [Int]? {
            if let known = shapes[dataset] { return known }
            let s = file.shape(of: dataset)
            shapes[dataset] = s
            return s
        }

        enum Mode { case names, positions }
        var best: (score: Int, mode: Mode, architecture: Architecture)?
        for alpha in Architecture.alphas {
            let architecture = Architecture(alpha: alpha)
            let arrays = architecture.arrays
            let byName = arrays.filter { a in byKey[a.key].map { $0.count == 1 && shape($0[0]) == a.shape } ?? false }
                .count
            let byPosition = arrays.indices.filter { i in i < ordered.count && shape(ordered[i]) == arrays[i].shape }
                .count
            let candidates: [(Int, Mode)] =
                switch matching {
                case .names: [(byName, .names)]
                case .positions: [(byPosition, .positions)]
                case .best: [(byName, .names), (byPosition, .positions)]
                }
            for (score, mode) in candidates where score > (best?.score ?? 0) {
                best = (score, mode, architecture)
            }
        }
        guard let best else {
            throw WeightsError.invalid(
                file: file.path,
                reason: "no MobileNetV2 weights found (no Conv1/kernel of shape (3, 3, 3, C) "
                    + "under \(root); expected a keras.applications.MobileNetV2 or a model containing one)")
        }
        var resolved: [String] = []
        for (i, array) in best.architecture.arrays.enumerated() {
            switch best.mode {
            case .names:
                guard let candidates = byKey[array.key] else {
                    throw WeightsError.missing(layer: array.layer, file: file.path)
                }
                guard candidates.count == 1 else {
                    throw WeightsError.invalid(
                        file: file.path,
                        reason: "\(candidates.count) arrays for \(array.key): \(candidates.joined(separator: ", "))")
                }
                let found = shape(candidates[0]) ?? []
                guard found == array.shape else {
                    throw WeightsError.shape(layer: array.layer, file: file.path, expected: array.shape, found: found)
                }
                resolved.append(candidates[0])
            case .positions:
                guard i < ordered.count else { throw WeightsError.missing(layer: array.layer, file: file.path) }
                let found = shape(ordered[i]) ?? []
                guard found == array.shape else {
                    throw WeightsError.shape(
                        layer: "\(array.layer) (array \(i) of the file, \(ordered[i]))", file: file.path,
                        expected: array.shape, found: found)
                }
                resolved.append(ordered[i])
            }
        }
        return (best.architecture, resolved)
    }

    /// Keras 3's own `.weights.h5` (`model.save_weights("x.weights.h5")`) names groups by layer class,
    /// not layer name: `layers/conv2d_7/vars/0`, `layers/depthwise_conv2d_3/vars/0`,
    /// `layers/batch_normalization_12/vars/0..3` (gamma, beta, moving_mean, moving_variance), numbered
    /// per class in network order, under `layers/<functional>/` when nested. Maps them to Keras keys.
    private static func nativeLayout(_ datasets: [String]) -> [String: String] {
        // prefix ("/" or "/layers/functional/") -> class -> [(number, group path)]
        var groups: [String: [String: [Int: String]]] = [:]
        for dataset in datasets {
            let parts = dataset.split(separator: "/").map(String.init)
            guard parts.count >= 4, parts[parts.count - 2] == "vars", parts[parts.count - 4] == "layers" else {
                continue
            }
            let name = parts[parts.count - 3]
            var kind = name
            var number = 0
            if let underscore = name.lastIndex(of: "_"), let n = Int(name[name.index(after: underscore)...]) {
                kind = String(name[..<underscore])
                number = n
            }
            guard ["conv2d", "depthwise_conv2d", "batch_normalization"].contains(kind) else { continue }
            let prefix = "/" + parts[..<(parts.count - 4)].map { $0 + "/" }.joined()
            groups[prefix, default: [:]][kind, default: [:]][number] = prefix + "layers/" + name
        }
        // The prefix holding the most convolutions is the backbone.
        guard let (_, classes) = groups.max(by: { ($0.value["conv2d"]?.count ?? 0) < ($1.value["conv2d"]?.count ?? 0) })
        else { return [:] }
        let ordered = classes.mapValues { numbered in numbered.keys.sorted().map { numbered[$0]! } }
        var next: [String: Int] = [:]
        var result: [String: String] = [:]
        var lastLayer = ""
        var lastGroup: String?
        for array in Architecture(alpha: 1).arrays {  // names and order are the same for every width
            if array.layer != lastLayer {
                let kind =
                    array.weight != "kernel"
                    ? "batch_normalization" : array.layer.hasSuffix("depthwise") ? "depthwise_conv2d" : "conv2d"
                let i = next[kind, default: 0]
                next[kind] = i + 1
                lastGroup = i < (ordered[kind]?.count ?? 0) ? ordered[kind]![i] : nil
                lastLayer = array.layer
            }
            let index = ["kernel": 0, "gamma": 0, "beta": 1, "moving_mean": 2, "moving_variance": 3][array.weight]!
            if let lastGroup { result[array.key] = "\(lastGroup)/vars/\(index)" }
        }
        return result
    }

    /// Datasets in Keras's `load_weights` order: layers as listed in `layer_names`, then each layer's
    /// `weight_names`. Empty when the file has no `layer_names`.
    private static func orderedDatasets(_ file: HDF5File, root: String) throws -> [String] {
        guard let layers = try kerasAttribute("layer_names", of: root, in: file) else { return [] }
        let base = root.hasSuffix("/") ? root : root + "/"
        var result: [String] = []
        for layer in layers {
            for name in try kerasAttribute("weight_names", of: base + layer, in: file) ?? [] {
                result.append(base + layer + "/" + name)
            }
        }
        return result
    }

    /// A string-list attribute as Keras's `load_attributes_from_hdf5_group` reads it: Keras splits
    /// lists over HDF5's 64 KB attribute limit into `name0`, `name1`, ...
    private static func kerasAttribute(_ name: String, of object: String, in file: HDF5File) throws -> [String]? {
        if let whole = try file.strings(attribute: name, of: object) { return whole }
        var parts: [String] = []
        var i = 0
        while let part = try file.strings(attribute: "\(name)\(i)", of: object) {
            parts += part
            i += 1
        }
        return i == 0 ? nil : parts
    }

    /// `layer`'s kernel times gamma / sqrt(variance + eps) per output channel, and
    /// beta - mean * gamma / sqrt(variance + eps) as its bias. Computed in Double, rounded once.
    func folded(_ layer: String, batchNorm bn: String) -> Folded {
        guard let kernel = arrays["\(layer)/kernel"], let gamma = arrays["\(bn)/gamma"],
            let beta = arrays["\(bn)/beta"],
            let mean = arrays["\(bn)/moving_mean"], let variance = arrays["\(bn)/moving_variance"]
        else {
            preconditionFailure("KerasWeights.folded: \(layer)/\(bn) not loaded (names out of step with Architecture)")
        }
        let channels = gamma.count
        let scale = (0..<channels).map {
            Double(gamma[$0]) / (Double(variance[$0]) + KerasWeights.batchNormEpsilon).squareRoot()
        }
        // Output channel is the fastest-varying index in both (kh, kw, cin, cout) and (3, 3, C, 1).
        let folded = kernel.indices.map { Float(Double(kernel[$0]) * scale[$0 % channels]) }
        let bias = (0..<channels).map { Float(Double(beta[$0]) - Double(mean[$0]) * scale[$0]) }
        return Folded(kernel: folded, bias: bias)
    }
}
