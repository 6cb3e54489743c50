import ArgumentParser
import Extraction
import Foundation
import Head
import MobileNet
import ModelExport
import Store

/// `tlearn export RUN --format onnx|keras`: the run's whole classifier (backbone + head) as one file.
enum ModelFormat: String, CaseIterable {
    case onnx, keras
}

/// The options only a model export takes (`export` declares them through this group).
struct ModelExportOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "With --format onnx|keras: the Keras MobileNetV2 weights (.h5) the run was trained on.",
            valueName: "file"))
    var weights: String?
    @Option(
        help: ArgumentHelp(
            "With --format onnx: what the model's `image` input takes: float32 (already scaled by "
                + "x / 127.5 - 1) or uint8 (RGB bytes, scaled inside the model).", valueName: "float32|uint8"))
    var input: String?

    /// Checks the flags of `export RUN --format FORMAT`; `format` nil or not a model format: none of these flags.
    func validate(format: String?, run: String?) throws {
        guard let format, let model = ModelFormat(rawValue: format) else {
            if weights != nil { throw ValidationError("--weights is for --format onnx|keras (a run's whole model)") }
            if input != nil { throw ValidationError("--input is for --format onnx") }
            return
        }
        if run == nil { throw ValidationError("--format \(format) exports a run's model: give the RUN id") }
        if weights == nil {
            throw ValidationError("--format \(format) needs --weights, the backbone file the run was trained on")
        }
        if let input {
            guard let kind = ExportInput(rawValue: input) else {
                throw ValidationError("--input must be float32 or uint8, not \(input)")
            }
            if model == .keras && kind == .uint8 {
                throw ValidationError(
                    "--input uint8 is for --format onnx; the .keras model takes float32 scaled by x / 127.5 - 1, "
                        + "as keras.applications.mobilenet_v2.preprocess_input gives")
            }
        }
    }

    /// Writes run `run` of `db` as `format` to `out`; one line on stderr says what was written.
    func export(run: Int64, db path: String, format: ModelFormat, out: String) throws {
        try checkWritable(out)  // before loading anything; the write checks again
        let db = try Database.open(path, readOnly: true)
        let stored = try RunStore.load(run, from: db)
        let model = try stored.trainedModel(in: db)  // throws, naming the run, for a knn or nearest_centroid baseline
        guard let weights else {
            preconditionFailure("ModelExportOptions.export without --weights (validate checks it)")
        }
        // The same checks as predict: the very weights file (SHA-256), its width, a preprocessing this tlearn makes.
        let backbone = try BackboneInfo.choose(db, requested: stored.backboneID)
        let embedder = try Backbone.embedder(for: backbone, weights: weights)
        if let map = model.map, map != embedder.net.mapShape {
            throw HeadError.invalid(
                "run \(run) reads \(map) maps; backbone \(backbone.id) makes \(embedder.net.mapShape)")
        }
        let network = try FoldedNetwork(weightsAt: weights, inputSize: backbone.inputSize)
        let classifier = ExportClassifier(
            classes: model.classes, denseWeights: Array(model.dense.weights), denseBias: Array(model.dense.bias),
            conv1: model.top.map { ExportClassifier.TunedConv1(kernel: Array($0.kernel), bias: Array($0.bias)) })
        let provenance = ExportProvenance(
            runID: run, splitFingerprint: stored.splitFingerprint, weightsSHA256: backbone.weightsSHA256,
            weightsName: backbone.weightsName ?? "", preprocessing: backbone.preprocessing)
        let kind = ExportInput(rawValue: input ?? "float32")!
        switch format {
        case .onnx:
            try ONNXModel.write(to: out, network: network, classifier: classifier, input: kind, provenance: provenance)
        case .keras:
            try KerasArchive.write(to: out, network: network, classifier: classifier, provenance: provenance)
        }
        let size = network.inputSize
        writeStandardError(
            "wrote run \(run) (\(classifier.kind), \(model.classCount) classes, MobileNetV2 alpha "
                + "\(network.architecture.alpha) at \(size)x\(size), "
                + "input \(format == .keras ? "float32" : kind.rawValue)) to \(out)\n"
        )
    }
}
