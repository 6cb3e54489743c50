import Foundation
import XCTest
import ZIPFoundation

@testable import HDF5
@testable import MobileNet
@testable import ModelExport

/// The `.keras` archive read back: its three members, the config's layers, and every array in
/// `model.weights.h5` where Keras's loader looks for it, against the names and shapes real Keras writes
/// (fixtures/golden/keras_weight_shapes.json) and the arrays of the weights file.
final class KerasArchiveTests: XCTestCase {
    struct Unpacked {
        let members: [String]
        let config: [String: Any]
        let metadata: [String: Any]
        let weights: String  // path of the extracted model.weights.h5
    }

    func export(size: Int = 40, finetune: Bool = false) throws -> (Unpacked, FoldedNetwork, ExportClassifier) {
        let dir = try temporaryDirectory(self)
        let network = try FoldedNetwork(weightsAt: tinyWeights, inputSize: size)
        let classifier = randomClassifier(network: network, finetune: finetune)
        let path = dir.appendingPathComponent("model.keras").path
        try KerasArchive.write(to: path, network: network, classifier: classifier, provenance: testProvenance)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: dir.path), ["model.keras"], "no temporary file left")
        let archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        var contents: [String: Data] = [:]
        for entry in archive {
            var data = Data()
            _ = try archive.extract(entry) { data.append($0) }
            contents[entry.path] = data
            XCTAssertEqual(entry.compressedSize, entry.uncompressedSize, "\(entry.path) stored, as Keras writes it")
        }
        let weights = dir.appendingPathComponent("model.weights.h5")
        try contents["model.weights.h5"]?.write(to: weights)
        let object = { (name: String) throws -> [String: Any] in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: contents[name] ?? Data()) as? [String: Any], name)
        }
        let unpacked = Unpacked(
            members: archive.map(\.path), config: try object("config.json"), metadata: try object("metadata.json"),
            weights: weights.path)
        return (unpacked, network, classifier)
    }

    func testArchiveHoldsKerasThreeMembers() throws {
        let (u, _, _) = try export()
        XCTAssertEqual(u.members, ["metadata.json", "config.json", "model.weights.h5"])
        XCTAssertEqual(u.metadata["keras_version"] as? String, KerasArchive.kerasVersion)
        let tlearn = try XCTUnwrap(u.metadata["tlearn"] as? [String: Any])
        XCTAssertEqual(tlearn["classes"] as? [String], ["class 0", "class 1", "class 2", "class 3"])
        XCTAssertEqual(tlearn["run_id"] as? Int, 3)
        XCTAssertEqual(tlearn["weights_sha256"] as? String, testProvenance.weightsSHA256)
    }

    /// Layers with weights, in config order, give Keras's own weight names and shapes for alpha 0.35, then the head.
    func testConfigAndWeightsFollowKerasNamesAndShapes() throws {
        let (u, network, classifier) = try export()
        let golden = try XCTUnwrap(
            try JSONSerialization.jsonObject(
                with: Data(
                    contentsOf: repoRoot.appendingPathComponent(
                        "fixtures/golden/keras_weight_shapes.json"))) as? [String: Any])
        let goldenNames = try XCTUnwrap(golden["names"] as? [String])
        let goldenShapes = try XCTUnwrap(golden["0.35"] as? [[Int]])

        let config = try XCTUnwrap(u.config["config"] as? [String: Any])
        let layers = try XCTUnwrap(config["layers"] as? [[String: Any]])
        XCTAssertEqual(u.config["class_name"] as? String, "Functional")
        XCTAssertEqual(layers.first?["name"] as? String, "input_layer")
        XCTAssertEqual(layers.last?["name"] as? String, "predictions")
        XCTAssertEqual((layers.last?["config"] as? [String: Any])?["activation"] as? String, "softmax")

        let file = try HDF5File(path: u.weights)
        var names: [String] = []
        var shapes: [[Int]] = []
        var used: [String: Int] = [:]
        let weightNames = [
            "Conv2D": ["kernel"], "DepthwiseConv2D": ["kernel"], "Dense": ["kernel", "bias"],
            "BatchNormalization": ["gamma", "beta", "moving_mean", "moving_variance"],
        ]
        for layer in layers {
            let className = try XCTUnwrap(layer["class_name"] as? String)
            let name = try XCTUnwrap(layer["name"] as? String)
            let snake = KerasModel.snakeCase(className)
            let n = used[snake].map { $0 + 1 } ?? 0
            used[snake] = n
            let group = "/layers/" + (n == 0 ? snake : "\(snake)_\(n)") + "/vars"
            XCTAssertEqual(try file.strings(attribute: "name", of: group), [name], group)
            for (i, w) in (weightNames[className] ?? []).enumerated() {
                names.append("\(name)/\(w)")
                shapes.append(try XCTUnwrap(file.shape(of: "\(group)/\(i)"), "\(group)/\(i)"))
            }
            XCTAssertNil(
                file.shape(of: "\(group)/\((weightNames[className] ?? []).count)"), "\(group) has no extra arrays")
        }
        XCTAssertEqual(names, goldenNames + ["predictions/kernel", "predictions/bias"])
        XCTAssertEqual(shapes, goldenShapes + [[1280, 4], [4]])
        XCTAssertEqual(try file.strings(attribute: "name", of: "/vars"), ["tlearn_run_3"])

        // The arrays themselves: Keras's unfolded ones, and the head.
        let project = try XCTUnwrap(network.layers.first { $0.names.convolution == "block_16_project" })
        XCTAssertEqual(try file.floats("/layers/conv2d/vars/0", count: 3 * 3 * 3 * 16), network.layers[0].keras.kernel)
        XCTAssertEqual(
            try file.floats("/layers/batch_normalization/vars/3", count: 16), network.layers[0].keras.movingVariance)
        let projects = layers.filter { $0["class_name"] as? String == "Conv2D" }.map { $0["name"] as! String }
        let index = try XCTUnwrap(projects.firstIndex(of: "block_16_project"))
        XCTAssertEqual(
            try file.floats("/layers/conv2d_\(index)/vars/0", count: project.keras.kernel.count), project.keras.kernel)
        XCTAssertEqual(try file.floats("/layers/dense/vars/0", count: 1280 * 4), classifier.denseWeights)
        XCTAssertEqual(try file.floats("/layers/dense/vars/1", count: 4), classifier.denseBias)
    }

    /// A finetune run: Conv_1 holds the tuned kernel and Conv_1_bn is the identity plus the tuned bias.
    func testFinetuneConv1IsWrittenAsConv1WithAnIdentityBatchNormPlusBias() throws {
        let (u, _, classifier) = try export(finetune: true)
        let conv1 = try XCTUnwrap(classifier.conv1)
        let file = try HDF5File(path: u.weights)
        // Conv_1 is the last Conv2D (number 34: 35 of them) and Conv_1_bn the last BatchNormalization (51).
        XCTAssertEqual(try file.strings(attribute: "name", of: "/layers/conv2d_34/vars"), ["Conv_1"])
        XCTAssertEqual(try file.strings(attribute: "name", of: "/layers/batch_normalization_51/vars"), ["Conv_1_bn"])
        XCTAssertEqual(try file.floats("/layers/conv2d_34/vars/0", count: conv1.kernel.count), conv1.kernel)
        let bn = try (0..<4).map { try file.floats("/layers/batch_normalization_51/vars/\($0)", count: 1280) }
        XCTAssertEqual(bn[0], [Float](repeating: 1, count: 1280))
        XCTAssertEqual(bn[1], conv1.bias)
        XCTAssertEqual(bn[2], [Float](repeating: 0, count: 1280))
        XCTAssertEqual(bn[3], [Float](repeating: 0.999, count: 1280))
        // Conv_1 reads block_16's maps through a float16 layer, which rounds them as tlearn stores them.
        let layers = try XCTUnwrap((u.config["config"] as? [String: Any])?["layers"] as? [[String: Any]])
        let i = try XCTUnwrap(layers.firstIndex { $0["name"] as? String == "Conv_1" })
        XCTAssertEqual(layers[i - 1]["class_name"] as? String, "Identity")
        XCTAssertEqual((layers[i - 1]["config"] as? [String: Any])?["dtype"] as? String, "float16")
        XCTAssertEqual(layers[i - 2]["name"] as? String, "block_16_project_BN")
        XCTAssertEqual(try file.strings(attribute: "name", of: "/layers/identity/vars"), ["block_16_maps_float16"])
        // What makes it the identity in float32: (x - 0) * 1 / sqrt(0.999 + 0.001) = x exactly.
        XCTAssertEqual(Float(0.999) + Float(0.001), 1)
    }

    func testSnakeCaseIsKerasNaming() {
        let expected = [
            "Conv2D": "conv2d", "ReLU": "re_lu", "BatchNormalization": "batch_normalization",
            "InputLayer": "input_layer",
            "DepthwiseConv2D": "depthwise_conv2d", "ZeroPadding2D": "zero_padding2d", "Add": "add", "Dense": "dense",
            "GlobalAveragePooling2D": "global_average_pooling2d",
        ]
        for (name, snake) in expected { XCTAssertEqual(KerasModel.snakeCase(name), snake, name) }
    }

    /// `keras.models.load_model` on the archive against tlearn's ONNX model
    /// (opt-in: TLEARN_CHECK_KERAS=1 and TensorFlow).
    func testKerasLoadsTheArchiveWithoutCustomObjects() throws {
        guard ProcessInfo.processInfo.environment["TLEARN_CHECK_KERAS"] == "1" else {
            throw XCTSkip(
                "opt-in: TLEARN_CHECK_KERAS=1 with TensorFlow/Keras 3 importable by python3 "
                    + "(pip install tensorflow-cpu)"
            )
        }
        let dir = try temporaryDirectory(self)
        let network = try FoldedNetwork(weightsAt: tinyWeights, inputSize: 40)
        for finetune in [false, true] {
            let classifier = randomClassifier(network: network, finetune: finetune)
            let keras = dir.appendingPathComponent("m\(finetune).keras").path
            let onnx = dir.appendingPathComponent("m\(finetune).onnx").path
            try KerasArchive.write(to: keras, network: network, classifier: classifier, provenance: testProvenance)
            try ONNXModel.write(
                to: onnx, network: network, classifier: classifier, input: .float32, provenance: testProvenance)
            let script = repoRoot.appendingPathComponent("scripts/check_keras_export.py").path
            guard
                let r = try python(
                    [script, "compare", "--keras", keras, "--onnx", onnx], needs: "keras, onnxruntime, numpy")
            else {
                throw XCTSkip("python3 cannot import keras, onnxruntime and numpy")
            }
            XCTAssertEqual(r.status, 0, r.output)
        }
    }
}
