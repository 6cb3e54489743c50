import Foundation
import MobileNet

/// The classifier as Keras 3 layers: `keras.applications.MobileNetV2(include_top=False, pooling="avg")`
/// flattened into one Functional model, with Keras's own layer names, then
/// `Dense(classes, activation="softmax", name="predictions")` (the name Keras gives its own classifier).
/// `config` is the model's `config.json`; `variables` are the arrays in the order and under the names of
/// Keras's `model.weights.h5` (layers/<class in snake case>_<n>/vars/<i>).
struct KerasModel {
    /// One Keras layer: its class, config and inputs.
    struct Layer {
        let className: String
        let name: String
        let config: [(String, JSONValue)]
        let inputs: [String]  // layer names (each layer has one output)
        let shape: [Int]  // output shape without the batch
        let dtype: String  // its dtype policy, and its output's dtype
        let variables: [(shape: [Int], values: [Float])]
    }

    /// BatchNormalization's epsilon in keras/src/applications/mobilenet_v2.py.
    static let epsilon: Float = 1e-3

    let name: String
    var layers: [Layer] = []

    init(network: FoldedNetwork, classifier: ExportClassifier, name: String) {
        self.name = name
        let s = network.inputSize
        add(
            "InputLayer", "input_layer",
            [
                ("batch_shape", [nil, .int(s), .int(s), 3]), ("dtype", "float32"),
                ("sparse", false),
            ], inputs: [], shape: [s, s, 3])
        var x = "input_layer"
        var blockInput = x
        for layer in network.layers {
            if layer.startsBlock { blockInput = x }
            let n = layer.names
            let size = layer.outputSize
            let c = layer.outChannels
            let k = layer.kernelSize
            if let pad = n.padding {
                let p = layer.padding
                add(
                    "ZeroPadding2D", pad,
                    [
                        ("padding", .array([[.int(p.top), .int(p.bottom)], [.int(p.left), .int(p.right)]])),
                        ("data_format", "channels_last"),
                    ],
                    inputs: [x],
                    shape: [layer.inputSize + p.top + p.bottom, layer.inputSize + p.left + p.right, layer.inChannels])
                x = pad
            }
            var arrays = layer.keras
            if n.convolution == "Conv_1", let tuned = classifier.conv1, tuned.mapsAsFloat16 {
                // Rounds block_16's maps to float16 as tlearn stores them: a float16 layer casts its input
                // (Keras's autocast), and Conv_1, float32 again, casts it back.
                add(
                    "Identity", "block_16_maps_float16", [], inputs: [x],
                    shape: [layer.inputSize, layer.inputSize, layer.inChannels], dtype: "float16")
                x = "block_16_maps_float16"
            }
            if n.convolution == "Conv_1", let tuned = classifier.conv1 {
                // The tuned Conv_1 has its BatchNorm folded in: Conv_1_bn becomes the identity plus its bias.
                // 1 - eps is 0.999f, and 0.999f + 0.001f rounds to exactly 1.0f, so 1/sqrt(var + eps) is 1.
                arrays = .init(
                    kernel: tuned.kernel, gamma: [Float](repeating: 1, count: c), beta: tuned.bias,
                    movingMean: [Float](repeating: 0, count: c),
                    movingVariance: [Float](repeating: 1 - KerasModel.epsilon, count: c))
            }
            let common: [(String, JSONValue)] = [
                ("kernel_size", [.int(k), .int(k)]), ("strides", [.int(layer.stride), .int(layer.stride)]),
                ("padding", n.padding == nil ? "same" : "valid"), ("data_format", "channels_last"),
                ("dilation_rate", [1, 1]),
            ]
            if layer.kind == .depthwise {
                add(
                    "DepthwiseConv2D", n.convolution,
                    [("depth_multiplier", 1)] + common + [("activation", "linear"), ("use_bias", false)],
                    inputs: [x], shape: [size, size, c], variables: [([k, k, c, 1], arrays.kernel)])
            } else {
                add(
                    "Conv2D", n.convolution,
                    [("filters", .int(c))] + common + [("groups", 1), ("activation", "linear"), ("use_bias", false)],
                    inputs: [x], shape: [size, size, c], variables: [([k, k, layer.inChannels, c], arrays.kernel)])
            }
            add(
                "BatchNormalization", n.batchNorm,
                [
                    ("axis", -1), ("momentum", .double(0.999)), ("epsilon", .double(0.001)),
                    ("center", true), ("scale", true),
                ],
                inputs: [n.convolution], shape: [size, size, c],
                variables: [
                    ([c], arrays.gamma), ([c], arrays.beta), ([c], arrays.movingMean), ([c], arrays.movingVariance),
                ])
            x = n.batchNorm
            if let relu = n.activation {
                add(
                    "ReLU", relu,
                    [("max_value", .double(6)), ("negative_slope", .double(0)), ("threshold", .double(0))],
                    inputs: [x], shape: [size, size, c])
                x = relu
            }
            if let sum = n.add {
                add("Add", sum, [], inputs: [blockInput, x], shape: [size, size, c])
                x = sum
            }
        }
        add(
            "GlobalAveragePooling2D", "global_average_pooling2d",
            [("data_format", "channels_last"), ("keepdims", false)],
            inputs: [x], shape: [network.dim])
        add(
            "Dense", "predictions",
            [("units", .int(classifier.classes.count)), ("activation", "softmax"), ("use_bias", true)],
            inputs: ["global_average_pooling2d"], shape: [classifier.classes.count],
            variables: [
                ([network.dim, classifier.classes.count], classifier.denseWeights),
                ([classifier.classes.count], classifier.denseBias),
            ])
    }

    private mutating func add(
        _ className: String, _ name: String, _ config: [(String, JSONValue)], inputs: [String], shape: [Int],
        variables: [(shape: [Int], values: [Float])] = [], dtype: String = "float32"
    ) {
        layers.append(
            Layer(
                className: className, name: name, config: config, inputs: inputs, shape: shape, dtype: dtype,
                variables: variables))
    }

    /// `config.json`: what `keras.saving.serialize_keras_object(model)` gives, minus the settings left at their
    /// defaults (initializers, regularizers, dtype policies as objects), which newer Keras releases added:
    /// Keras 3.3 and 3.15 both load it.
    var config: String {
        var shapes: [String: [Int]] = [:]
        var dtypes: [String: String] = [:]
        for l in layers {
            shapes[l.name] = l.shape
            dtypes[l.name] = l.dtype
        }
        func tensor(_ name: String) -> JSONValue {
            .object([
                ("class_name", "__keras_tensor__"),
                (
                    "config",
                    .object([
                        ("shape", .array([nil] + shapes[name]!.map { .int($0) })), ("dtype", .string(dtypes[name]!)),
                        ("keras_history", [.string(name), 0, 0]),
                    ])
                ),
            ])
        }
        let entries: [JSONValue] = layers.map { l in
            let arguments: JSONValue = l.inputs.count == 1 ? tensor(l.inputs[0]) : .array(l.inputs.map(tensor))
            let nodes: JSONValue = l.inputs.isEmpty ? [] : [.object([("args", [arguments]), ("kwargs", .object([]))])]
            let settings: [(String, JSONValue)] =
                l.className == "InputLayer"
                ? l.config + [("name", .string(l.name))]
                : [("name", .string(l.name)), ("trainable", true), ("dtype", .string(l.dtype))] + l.config
            return .object([
                ("module", "keras.layers"), ("class_name", .string(l.className)), ("config", .object(settings)),
                ("registered_name", nil), ("name", .string(l.name)), ("inbound_nodes", nodes),
            ])
        }
        let model: JSONValue = .object([
            ("module", "keras.src.models.functional"), ("class_name", "Functional"),
            (
                "config",
                .object([
                    ("name", .string(name)), ("trainable", true), ("layers", .array(entries)),
                    // Lists of one [layer, node, tensor], as Keras 3.0-3.10 wrote them: their loaders need it,
                    // and later ones read it (Keras 3.15 itself writes the bare triple, which 3.3 cannot read).
                    ("input_layers", [[.string(layers[0].name), 0, 0]]),
                    ("output_layers", [[.string(layers.last!.name), 0, 0]]),
                ])
            ),
            ("registered_name", "Functional"), ("build_config", .object([("input_shape", nil)])),
            ("compile_config", nil),
        ])
        return model.text
    }

    /// Keras's path for each layer's variables in `model.weights.h5`: saving_lib's `_save_container_state`
    /// names the layers of a model by class in snake case, numbered per class in layer order
    /// (conv2d, conv2d_1, ...), never by layer name.
    var variablePaths: [String] {
        var used: [String: Int] = [:]
        return layers.map { l in
            let base = KerasModel.snakeCase(l.className)
            let n = used[base].map { $0 + 1 } ?? 0
            used[base] = n
            return "layers/" + (n == 0 ? base : "\(base)_\(n)")
        }
    }

    /// keras/src/utils/naming.py `to_snake_case`: Conv2D -> conv2d, ReLU -> re_lu, InputLayer -> input_layer.
    static func snakeCase(_ name: String) -> String {
        // re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name), then re.sub("([a-z])([A-Z])", r"\1_\2", ...).lower()
        var chars = Array(name)
        var out: [Character] = []
        var i = 0
        while i < chars.count {
            if i > 0, chars[i].isUppercase, i + 1 < chars.count, chars[i + 1].isLowercase { out.append("_") }
            out.append(chars[i])
            i += 1
        }
        chars = out
        out = []
        for (j, c) in chars.enumerated() {
            if j > 0, c.isUppercase, chars[j - 1].isLowercase { out.append("_") }
            out.append(c)
        }
        return String(out).lowercased()
    }
}
