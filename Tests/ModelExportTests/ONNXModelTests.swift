import Foundation
import SwiftProtobuf
import XCTest

@testable import MobileNet
@testable import ModelExport

/// The exported ONNX graph, read back from its bytes, against tlearn's own forward pass (`ONNXReference`
/// evaluates the graph with plain loops), on the seeded alpha 0.35 fixture weights at input sizes other than 224.
final class ONNXModelTests: XCTestCase {
    func model(size: Int, input: ExportInput = .float32, finetune: Bool = false) throws -> (
        Onnx_ModelProto, FoldedNetwork, ExportClassifier
    ) {
        let network = try FoldedNetwork(weightsAt: tinyWeights, inputSize: size)
        let classifier = randomClassifier(network: network, finetune: finetune)
        let bytes = try ONNXModel.serialized(
            network: network, classifier: classifier, input: input, provenance: testProvenance)
        return (try Onnx_ModelProto(serializedBytes: bytes), network, classifier)
    }

    func testGraphIsOneConvPerKerasConvolutionWithClipForReLU6AndNoOtherPerPixelOperator() throws {
        let (m, network, _) = try model(size: 40)
        var ops: [String: Int] = [:]
        for n in m.graph.node { ops[n.opType, default: 0] += 1 }
        let residuals = network.architecture.blocks.filter(\.hasResidual).count
        XCTAssertEqual(
            ops,
            [
                "Transpose": 1, "Conv": 52, "Clip": 35, "Add": residuals, "GlobalAveragePool": 1, "Flatten": 1,
                "Gemm": 1, "Softmax": 1,
            ])
        XCTAssertEqual(residuals, 10)
        XCTAssertEqual(m.opsetImport.map(\.version), [13])
        XCTAssertEqual(m.graph.input.map(\.name), ["image"])
        XCTAssertEqual(m.graph.output.map(\.name), ["probabilities", "embedding"])
        let image = m.graph.input[0].type.tensorType
        XCTAssertEqual(image.elemType, Int32(Onnx_TensorProto.DataType.float.rawValue))
        XCTAssertEqual(
            image.shape.dim.map { $0.dimParam.isEmpty ? "\($0.dimValue)" : $0.dimParam }, ["N", "40", "40", "3"])

        let (m8, _, _) = try model(size: 40, input: .uint8)
        XCTAssertEqual(Array(m8.graph.node.prefix(4).map(\.opType)), ["Transpose", "Cast", "Div", "Sub"])
        XCTAssertEqual(m8.graph.input[0].type.tensorType.elemType, Int32(Onnx_TensorProto.DataType.uint8.rawValue))

        // A finetune model rounds Conv_1's input to float16 and back, as tlearn stores the maps it reads.
        let (tuned, _, _) = try model(size: 40, finetune: true)
        let conv1 = try XCTUnwrap(tuned.graph.node.firstIndex { $0.name == "Conv_1" })
        XCTAssertEqual(tuned.graph.node[(conv1 - 2)...conv1].map(\.opType), ["Cast", "Cast", "Conv"])
        XCTAssertEqual(tuned.graph.node[conv1 - 2].input, ["block_16_project_BN"])
        XCTAssertEqual(
            tuned.graph.node[conv1 - 2].attribute.first?.i, Int64(Onnx_TensorProto.DataType.float16.rawValue))
    }

    /// Keras pads stride-2 layers bottom/right only on even sizes, (1, 1) on odd ones (`correct_pad`).
    func testStride2ConvolutionsPadBottomRightOnEvenSizesAndAllRoundOnOddOnes() throws {
        func pads(_ m: Onnx_ModelProto, _ name: String) -> [Int64] {
            m.graph.node.first { $0.name == name }!.attribute.first { $0.name == "pads" }!.ints
        }
        let (even, _, _) = try model(size: 40)  // Conv1 40 -> 20, block_1 20 -> 10
        XCTAssertEqual(pads(even, "Conv1"), [0, 0, 1, 1])
        XCTAssertEqual(pads(even, "block_1_depthwise"), [0, 0, 1, 1])
        XCTAssertEqual(pads(even, "block_2_depthwise"), [1, 1, 1, 1])
        XCTAssertEqual(pads(even, "block_2_expand"), [0, 0, 0, 0])
        let (odd, _, _) = try model(size: 33)  // Conv1 33 -> 17, block_1 17 -> 9
        XCTAssertEqual(pads(odd, "Conv1"), [1, 1, 1, 1])
        XCTAssertEqual(pads(odd, "block_1_depthwise"), [1, 1, 1, 1])
    }

    func testSoftmaxModelComputesTlearnsEmbeddingAndHeadAtEvenAndOddSizes() throws {
        for size in [40, 33] {
            for input in ExportInput.allCases {
                let (m, network, classifier) = try model(size: size, input: input)
                let bytes = randomBytes(count: 2, size: size)
                let x = scaled(bytes)
                let out = try ONNXReference(model: m).run(
                    image: input == .uint8 ? bytes.map(Float.init) : x, shape: [2, size, size, 3])
                let net = try MobileNetV2(weightsAt: tinyWeights, inputSize: size)
                let n = size * size * 3
                let expected = net.embedding(Array(x[..<n])) + net.embedding(Array(x[n...]))
                let context = "size \(size), \(input) input"
                assertClose(out["embedding"]!.data, expected, atol: 2e-5, rtol: 1e-4, "\(context): embedding")
                assertClose(
                    out["probabilities"]!.data, headProbabilities(expected, classifier, dim: network.dim),
                    atol: 1e-5, "\(context): probabilities")
                XCTAssertEqual(out["probabilities"]!.shape, [2, classifier.classes.count])
            }
        }
    }

    /// A finetune run: the tuned Conv_1 replaces the backbone's folded Conv_1 + Conv_1_bn; the backbone below
    /// it (`block_16_project_BN`) is unchanged, and the rest is relu6(maps K + b) on the maps rounded to float16
    /// (as tlearn stores them), pooled, then the head, computed here in Double from the classifier's own
    /// (cin x cout) kernel.
    func testFinetuneModelAppliesTheTunedConv1ThenReLU6PoolingAndTheHead() throws {
        let size = 40
        let (tuned, network, classifier) = try model(size: size, finetune: true)
        let (plain, _, _) = try model(size: size)
        let x = scaled(randomBytes(count: 2, size: size))
        let out = try ONNXReference(model: tuned).run(image: x, shape: [2, size, size, 3])
        let backbone = try ONNXReference(model: plain).run(image: x, shape: [2, size, size, 3])
        XCTAssertEqual(out["block_16_project_BN"]!.data, backbone["block_16_project_BN"]!.data)

        let maps = out["block_16_project_BN"]!
        let conv1 = try XCTUnwrap(classifier.conv1)
        let (cin, h, w) = (maps.shape[1], maps.shape[2], maps.shape[3])
        let dim = network.dim
        var embedding = [Float](repeating: 0, count: 2 * dim)
        for img in 0..<2 {
            for co in 0..<dim {
                var sum = 0.0
                for p in 0..<(h * w) {
                    var z = Double(conv1.bias[co])
                    for ci in 0..<cin {
                        let stored = Float(Float16(maps.data[(img * cin + ci) * h * w + p]))  // as tlearn stores maps
                        z += Double(stored) * Double(conv1.kernel[ci * dim + co])
                    }
                    sum += min(max(z, 0), 6)
                }
                embedding[img * dim + co] = Float(sum / Double(h * w))
            }
        }
        assertClose(out["embedding"]!.data, embedding, atol: 1e-5, rtol: 1e-5, "finetune embedding")
        assertClose(
            out["probabilities"]!.data, headProbabilities(embedding, classifier, dim: dim), atol: 1e-6,
            "finetune probabilities")
        let untuned = backbone["embedding"]!.data
        XCTAssertGreaterThan(
            zip(untuned, embedding).map { abs($0 - $1) }.max()!, 0.01, "the tuned Conv_1 must change the embedding")
    }

    /// The same finetune model in ONNX Runtime against NumPy (scripts/check_onnx_export.py finetune).
    func testFinetuneModelInONNXRuntimeMatchesNumPy() throws {
        let dir = try temporaryDirectory(self)
        let size = 40
        let network = try FoldedNetwork(weightsAt: tinyWeights, inputSize: size)
        let classifier = randomClassifier(network: network, finetune: true)
        let path = dir.appendingPathComponent("finetune.onnx").path
        try ONNXModel.write(
            to: path, network: network, classifier: classifier, input: .float32, provenance: testProvenance)
        try writeF32(classifier.conv1!.kernel, to: dir.appendingPathComponent("conv1_kernel.f32"))
        try writeF32(classifier.conv1!.bias, to: dir.appendingPathComponent("conv1_bias.f32"))
        try writeF32(classifier.denseWeights, to: dir.appendingPathComponent("dense_kernel.f32"))
        try writeF32(classifier.denseBias, to: dir.appendingPathComponent("dense_bias.f32"))
        try writeF32(scaled(randomBytes(count: 3, size: size)), to: dir.appendingPathComponent("inputs.f32"))
        let script = repoRoot.appendingPathComponent("scripts/check_onnx_export.py").path
        guard
            let r = try python(
                [script, "finetune", "--model", path, "--dir", dir.path], needs: "onnxruntime, onnx, numpy")
        else {
            throw XCTSkip(
                "python3 cannot import onnxruntime, onnx and numpy: "
                    + "`pip install onnxruntime onnx numpy` to run this check"
            )
        }
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("ok "), r.output)
    }

    func testMetadataPropsNameTheRunTheBackboneAndTheClasses() throws {
        let (m, _, _) = try model(size: 40, finetune: true)
        let props = Dictionary(uniqueKeysWithValues: m.metadataProps.map { ($0.key, $0.value) })
        XCTAssertEqual(props["classes"], #"["class 0","class 1","class 2","class 3"]"#)
        XCTAssertEqual(props["run_id"], "3")
        XCTAssertEqual(props["model"], "finetune")
        XCTAssertEqual(props["weights_sha256"], testProvenance.weightsSHA256)
        XCTAssertEqual(props["alpha"], "0.35")
        XCTAssertEqual(props["input_size"], "40")
        XCTAssertEqual(props["dim"], "1280")
        XCTAssertEqual(props["preprocessing"], "pillow-bilinear;x/127.5-1")
        XCTAssertEqual(props["split_fingerprint"], "0123456789abcdef")
    }

    func testClassNamesAreJSONEscaped() {
        XCTAssertEqual(jsonStringArray(["a\"b", "c\\d", "e/f", "g\nh", "é"]), #"["a\"b","c\\d","e/f","g\nh","é"]"#)
    }

    func testHeadOfTheWrongShapeIsRefusedNamingBothShapes() throws {
        let network = try FoldedNetwork(weightsAt: tinyWeights, inputSize: 40)
        let bad = ExportClassifier(
            classes: ["a", "b"], denseWeights: [Float](repeating: 0, count: 10), denseBias: [0, 0])
        XCTAssertThrowsError(
            try ONNXModel.serialized(network: network, classifier: bad, input: .float32, provenance: testProvenance)
        ) {
            XCTAssertEqual(
                "\($0)",
                "cannot export: the head has 10 weights and 2 biases; "
                    + "the backbone's 1280-float embeddings and 2 classes need 2560 and 2"
            )
        }
        let tuned = ExportClassifier(
            classes: ["a"], denseWeights: [Float](repeating: 0, count: 1280), denseBias: [0],
            conv1: .init(kernel: [1, 2], bias: [3]))
        XCTAssertThrowsError(
            try ONNXModel.serialized(network: network, classifier: tuned, input: .float32, provenance: testProvenance)
        ) {
            XCTAssertEqual(
                "\($0)",
                "cannot export: the tuned Conv_1 has 2 weights and 1 biases; "
                    + "the backbone's Conv_1 (112 -> 1280) needs 143360 and 1280"
            )
        }
    }

    /// softmax(e W + b) per row, in Double.
    func headProbabilities(_ embeddings: [Float], _ c: ExportClassifier, dim: Int) -> [Float] {
        let n = c.classes.count
        var out: [Float] = []
        for r in 0..<(embeddings.count / dim) {
            let z = (0..<n).map { j in
                (0..<dim).reduce(Double(c.denseBias[j])) {
                    $0 + Double(embeddings[r * dim + $1]) * Double(c.denseWeights[$1 * n + j])
                }
            }
            let top = z.max()!
            let e = z.map { exp($0 - top) }
            let s = e.reduce(0, +)
            out += e.map { Float($0 / s) }
        }
        return out
    }
}
