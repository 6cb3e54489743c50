import Formats
import Foundation
import HDF5
import MobileNet
import ZIPFoundation

#if canImport(Glibc)
    import Glibc
#endif

/// A Keras 3 `.keras` archive of the classifier (`KerasModel`): a zip of `metadata.json`, `config.json` and
/// `model.weights.h5`, laid out as keras/src/saving/saving_lib.py writes them, so that
/// `keras.models.load_model(path)` opens it without custom objects. Takes float32 inputs already scaled by
/// `x / 127.5 - 1` (Keras's MobileNetV2 `preprocess_input`).
public enum KerasArchive {
    /// The Keras release whose `.keras` layout this follows (`metadata.json`'s `keras_version`; Keras does
    /// not read it back).
    static let kerasVersion = "3.15.1"

    /// Writes the archive to `path` through a temporary file beside it.
    public static func write(
        to path: String, network: FoldedNetwork, classifier: ExportClassifier,
        provenance: ExportProvenance, date: Date = Date()
    ) throws {
        try classifier.check(against: network)
        let model = KerasModel(network: network, classifier: classifier, name: "tlearn_run_\(provenance.runID)")
        try writeAtomically(path) { temporary in
            let weights = temporary + ".weights.h5"
            defer { unlink(weights) }
            try writeWeights(model, to: weights)
            do {
                let archive = try Archive(url: URL(fileURLWithPath: temporary), accessMode: .create)
                // Stored, not deflated, as Keras writes its archives.
                try add(
                    Data(metadata(provenance: provenance, network: network, classifier: classifier, date: date).utf8),
                    as: "metadata.json", to: archive, date: date)
                try add(Data(model.config.utf8), as: "config.json", to: archive, date: date)
                try archive.addEntry(with: "model.weights.h5", fileURL: URL(fileURLWithPath: weights))
            } catch let error as ExportError {
                throw error
            } catch {
                throw ExportError.unwritable(path: path, reason: "zip: \(error)")
            }
        }
    }

    /// `model.weights.h5` as Keras's H5IOStore writes it: a `vars` group per saveable (the model at the root,
    /// then each layer, with the object's name in a `name` attribute), holding datasets `0`, `1`, ...
    static func writeWeights(_ model: KerasModel, to path: String) throws {
        do {
            try HDF5Writer.write(path) { file in
                try file.createGroup("/vars")
                try file.setAttribute("name", string: model.name, on: "/vars")
                for (layer, group) in zip(model.layers, model.variablePaths) {
                    try file.createGroup("/\(group)/vars")
                    try file.setAttribute("name", string: layer.name, on: "/\(group)/vars")
                    for (i, v) in layer.variables.enumerated() {
                        try file.writeFloats("/\(group)/vars/\(i)", shape: v.shape, v.values)
                    }
                }
            }
        } catch let error as HDF5Error {
            throw ExportError.unwritable(path: path, reason: "\(error)")
        }
    }

    private static func add(_ data: Data, as name: String, to archive: Archive, date: Date) throws {
        try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), modificationDate: date) {
            position, size in
            data.subdata(in: Int(position)..<(Int(position) + size))
        }
    }

    /// `metadata.json`: Keras's two keys, and under "tlearn" where the model came from.
    static func metadata(provenance: ExportProvenance, network: FoldedNetwork, classifier: ExportClassifier, date: Date)
        -> String
    {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
        var properties = provenance.properties(network: network, classifier: classifier, input: .float32)
        properties =
            properties.filter { $0.0 != "input" } + [
                (
                    "input",
                    "float32 [N, \(network.inputSize), \(network.inputSize), 3], RGB already scaled by x / 127.5 - 1"
                )
            ]
        // Numbers and the class list go in as JSON values, the rest as strings.
        let json: Set<String> = ["run_id", "classes", "dim", "alpha", "input_size"]
        let tlearn =
            "{"
            + properties.map { key, value in
                JSON.string(key) + ": " + (json.contains(key) ? value : JSON.string(value))
            }.joined(separator: ", ") + "}"
        let saved = JSON.string(formatter.string(from: date))
        return "{\"keras_version\": \(JSON.string(kerasVersion)), \"date_saved\": \(saved), \"tlearn\": \(tlearn)}"
    }
}
