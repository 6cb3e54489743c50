import Foundation
import MobileNet
import SwiftProtobuf

/// The whole classifier as one ONNX model (opset 13): `image` NHWC in, `probabilities` [N, classes] and
/// `embedding` [N, dim] out. Built with the Swift types generated from ONNX's own onnx.proto.
///
/// The graph is what tlearn computes, operator for operator: one Transpose to NCHW (ONNX's Conv layout),
/// then per Keras layer a Conv with its BatchNorm folded into kernel and bias (the folding tlearn runs,
/// Keras's asymmetric stride-2 padding as the Conv's own `pads`), `Clip(0, 6)` for ReLU6, `Add` for
/// residuals, GlobalAveragePool, and the head as Gemm + Softmax. Nothing else runs per pixel.
/// Tensors carry Keras's layer names (`block_16_project_BN` is Conv_1's input).
public enum ONNXModel {
    /// ONNX operator set the graph is written against (Clip with min/max inputs, Softmax on one axis).
    static let opset: Int64 = 13
    /// IR version of opset 13 (onnx/helper.py VERSION_TABLE: 1.8 -> IR 7, opset 13).
    static let irVersion: Int64 = 7

    /// Writes the model to `path` through a temporary file beside it.
    public static func write(
        to path: String, network: FoldedNetwork, classifier: ExportClassifier, input: ExportInput,
        provenance: ExportProvenance
    ) throws {
        let data = try serialized(network: network, classifier: classifier, input: input, provenance: provenance)
        try writeAtomically(data, to: path)
    }

    /// The serialized model.
    static func serialized(
        network: FoldedNetwork, classifier: ExportClassifier, input: ExportInput,
        provenance: ExportProvenance
    ) throws -> Data {
        let model = try build(network: network, classifier: classifier, input: input, provenance: provenance)
        return try model.serializedData()
    }

    static func build(
        network: FoldedNetwork, classifier: ExportClassifier, input: ExportInput,
        provenance: ExportProvenance
    ) throws -> Onnx_ModelProto {
        try classifier.check(against: network)
        var g = GraphBuilder()
        let size = Int64(network.inputSize)
        let dim = Int64(network.dim)
        let classes = Int64(classifier.classes.count)

        // NHWC -> NCHW once, on the input (for uint8 before the scaling: a quarter of the bytes to move).
        g.node("Transpose", ["image"], "image_nchw", name: "to_nchw", attributes: [.ints("perm", [0, 3, 1, 2])])
        var x = "image_nchw"
        if input == .uint8 {
            // The same IEEE operations as tlearn's preprocessing: float32(byte) / 127.5 - 1.
            g.constant("preprocess/127.5", [127.5])
            g.constant("preprocess/1", [1])
            g.node(
                "Cast", [x], "image_float", attributes: [.int("to", Int64(Onnx_TensorProto.DataType.float.rawValue))])
            g.node("Div", ["image_float", "preprocess/127.5"], "image_divided")
            g.node("Sub", ["image_divided", "preprocess/1"], "image_scaled")
            x = "image_scaled"
        }

        g.constant("relu6/min", [0])
        g.constant("relu6/max", [6])
        var blockInput = x
        for layer in network.layers {
            if layer.startsBlock { blockInput = x }
            var kernel = layer.kernel
            var bias = layer.bias
            if layer.names.convolution == "Conv_1", let tuned = classifier.conv1 {
                kernel = tuned.kernel
                bias = tuned.bias
                if tuned.mapsAsFloat16 {
                    // Round to float16 and back (IEEE, ties to even), as tlearn stores the maps this Conv_1 reads.
                    let float16 = Int64(Onnx_TensorProto.DataType.float16.rawValue)
                    g.node("Cast", [x], "block_16_maps_float16", attributes: [.int("to", float16)])
                    g.node(
                        "Cast", ["block_16_maps_float16"], "block_16_maps",
                        attributes: [.int("to", Int64(Onnx_TensorProto.DataType.float.rawValue))])
                    x = "block_16_maps"
                }
            }
            x = g.convolution(layer, kernel: kernel, bias: bias, input: x)
            if let add = layer.names.add {
                g.node("Add", [blockInput, x], add)
                x = add
            }
        }

        g.node("GlobalAveragePool", [x], "global_average_pooling2d")  // (N, dim, 1, 1)
        g.node("Flatten", ["global_average_pooling2d"], "embedding", attributes: [.int("axis", 1)])  // (N, dim)
        g.constant("predictions/kernel", classifier.denseWeights, shape: [dim, classes])
        g.constant("predictions/bias", classifier.denseBias, shape: [classes])
        g.node("Gemm", ["embedding", "predictions/kernel", "predictions/bias"], "logits", name: "predictions")
        g.node("Softmax", ["logits"], "probabilities", attributes: [.int("axis", 1)])

        var graph = Onnx_GraphProto()
        graph.name = "tlearn_run_\(provenance.runID)"
        graph.docString =
            "MobileNetV2 alpha \(network.architecture.alpha) (BatchNorm folded) + \(classifier.kind) head, "
            + "exported by tlearn from run \(provenance.runID)"
        graph.node = g.nodes
        graph.initializer = g.initializers
        let elemType: Onnx_TensorProto.DataType = input == .float32 ? .float : .uint8
        graph.input = [valueInfo("image", elemType, [nil, size, size, 3])]
        graph.output = [
            valueInfo("probabilities", .float, [nil, classes]), valueInfo("embedding", .float, [nil, dim]),
        ]

        var model = Onnx_ModelProto()
        model.irVersion = irVersion
        model.producerName = "tlearn"
        model.producerVersion = "tlearn-model/1"
        model.opsetImport = [
            Onnx_OperatorSetIdProto.with {
                $0.domain = ""
                $0.version = opset
            }
        ]
        model.docString = graph.docString
        model.graph = graph
        model.metadataProps = provenance.properties(network: network, classifier: classifier, input: input).map {
            pair in
            Onnx_StringStringEntryProto.with {
                $0.key = pair.0
                $0.value = pair.1
            }
        }
        return model
    }

    /// A graph input or output: element type and shape, nil for the batch dimension `N`.
    static func valueInfo(_ name: String, _ type: Onnx_TensorProto.DataType, _ shape: [Int64?]) -> Onnx_ValueInfoProto {
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(type.rawValue)
        tensor.shape.dim = shape.map { d in
            Onnx_TensorShapeProto.Dimension.with { if let d { $0.dimValue = d } else { $0.dimParam = "N" } }
        }
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type.tensorType = tensor
        return info
    }
}

/// Nodes and initializers in the order they are added.
struct GraphBuilder {
    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []

    enum Attribute {
        case int(String, Int64)
        case ints(String, [Int64])

        var proto: Onnx_AttributeProto {
            var a = Onnx_AttributeProto()
            switch self {
            case .int(let name, let value):
                a.name = name
                a.type = .int
                a.i = value
            case .ints(let name, let values):
                a.name = name
                a.type = .ints
                a.ints = values
            }
            return a
        }
    }

    /// Appends a node `name` (default: its output's name) computing `output` from `inputs`.
    mutating func node(
        _ op: String, _ inputs: [String], _ output: String, name: String? = nil, attributes: [Attribute] = []
    ) {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = name ?? output
        n.input = inputs
        n.output = [output]
        n.attribute = attributes.map(\.proto)
        nodes.append(n)
    }

    /// A float32 initializer; a scalar when `shape` is empty, else `shape` must hold `values.count` floats.
    mutating func constant(_ name: String, _ values: [Float], shape: [Int64] = []) {
        precondition(
            shape.reduce(1, *) == Int64(values.count),
            "GraphBuilder.constant: \(values.count) values for \(name) \(shape)")
        var t = Onnx_TensorProto()
        t.name = name
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.dims = shape
        // raw_data is little-endian by the ONNX spec, as Float's memory is on every platform tlearn runs on.
        t.rawData = values.withUnsafeBytes { Data($0) }
        initializers.append(t)
    }

    /// One folded Keras convolution (+ ReLU6 as Clip) on NCHW `input`; returns the output tensor's name:
    /// the Keras name of the last layer it stands for (BatchNorm or ReLU).
    mutating func convolution(_ layer: FoldedConvolution, kernel: [Float], bias: [Float], input: String) -> String {
        let k = layer.kernelSize
        let cin = layer.inChannels
        let cout = layer.outChannels
        let name = layer.names.convolution
        // Keras (kh, kw, cin, cout) -> ONNX (cout, cin, kh, kw); depthwise (kh, kw, C) -> (C, 1, kh, kw).
        let perGroup = layer.kind == .depthwise ? 1 : cin
        var weights = [Float](repeating: 0, count: cout * perGroup * k * k)
        for ky in 0..<k {
            for kx in 0..<k {
                for ci in 0..<perGroup {
                    for co in 0..<cout {
                        weights[((co * perGroup + ci) * k + ky) * k + kx] =
                            kernel[((ky * k + kx) * perGroup + ci) * cout + co]
                    }
                }
            }
        }
        constant("\(name)/kernel", weights, shape: [Int64(cout), Int64(perGroup), Int64(k), Int64(k)])
        constant("\(name)/bias", bias, shape: [Int64(cout)])
        let p = layer.padding
        let folded = layer.names.batchNorm
        node(
            "Conv", [input, "\(name)/kernel", "\(name)/bias"], folded, name: name,
            attributes: [
                .ints("kernel_shape", [Int64(k), Int64(k)]),
                .ints("strides", [Int64(layer.stride), Int64(layer.stride)]),
                .ints("pads", [p.top, p.left, p.bottom, p.right].map(Int64.init)),  // begins (H, W), then ends
                .ints("dilations", [1, 1]),
                .int("group", layer.kind == .depthwise ? Int64(cout) : 1),
            ])
        guard let relu = layer.names.activation else { return folded }
        node("Clip", [folded, "relu6/min", "relu6/max"], relu)
        return relu
    }
}
