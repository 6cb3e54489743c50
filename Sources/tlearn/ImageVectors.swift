import Extraction
import Formats
import Foundation
import Head
import Kernels
import Store

/// The model inputs of image files for run `run`: each file embedded as `tlearn extract` embeds it
/// (a model that reads maps gets the maps `extract --maps` would store), by the run's backbone loaded
/// from `weights` (which must be that backbone's file). Returns the inputs of the files that worked,
/// in order (and, with `tta`, their hflip views), their indices in `files`, and the others' errors.
func embedRunInputs(
    _ files: [String], run: StoredRun, model: StoredModel, weights: String, tta: Bool,
    db: Connection
) throws -> (orig: [Float], flipped: [Float]?, embedded: [Int], failures: [(path: String, error: Error)]) {
    let backbone = try BackboneInfo.choose(db, requested: run.backboneID)
    let embedder = try Backbone.embedder(for: backbone, weights: weights)
    if let map = model.map, map != embedder.net.mapShape {
        throw HeadError.invalid(
            "run \(run.id) reads \(map) maps; backbone \(backbone.id) makes \(embedder.net.mapShape)")
    }
    let outputs: ImageEmbedder.Outputs = model.kind.readsMaps ? .maps : .vectors
    var orig: [Float] = []
    var flipped: [Float] = []
    var embedded: [Int] = []
    var failures: [(path: String, error: Error)] = []
    for (i, result) in embedder.embed(
        files, views: tta ? [.orig, .hflip] : [.orig], outputs: outputs, threads: AvailableCPUs.current.count
    ).enumerated() {
        switch result {
        case .success(let e):
            let inputs = model.kind.readsMaps ? e.maps : e.vectors
            orig += inputs[0]
            if tta { flipped += inputs[1] }
            embedded.append(i)
        case .failure(let error):
            failures.append((files[i], error))
        }
    }
    return (orig, tta ? flipped : nil, embedded, failures)
}

/// Image files named on the command line: files as given, directories searched recursively for
/// .jpg/.jpeg/.png (any case), sorted, hidden entries skipped.
func imageFiles(_ arguments: [String]) throws -> [String] {
    var out: [String] = []
    for arg in arguments {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: arg, isDirectory: &isDirectory) else {
            throw HeadError.invalid("no such file or directory: \(arg)")
        }
        if !isDirectory.boolValue {
            out.append(arg)
            continue
        }
        let found = imagesUnder(arg).map { arg.hasSuffix("/") ? arg + $0 : arg + "/" + $0 }
        if found.isEmpty { warn("no .jpg, .jpeg or .png files under \(arg)") }
        out += found
    }
    return out
}

/// Paths relative to `root` of the image files below it, sorted.
func imagesUnder(_ root: String) -> [String] {
    let extensions: Set<String> = ["jpg", "jpeg", "png"]
    guard
        let walker = FileManager.default.enumerator(
            at: URL(fileURLWithPath: root), includingPropertiesForKeys: nil,
            options: [.skipsHiddenFiles])
    else { return [] }
    let base = URL(fileURLWithPath: root).standardizedFileURL.path
    var out: [String] = []
    for case let url as URL in walker where extensions.contains(url.pathExtension.lowercased()) {
        let path = url.standardizedFileURL.path
        // fileExists follows symbolic links, so a folder of links to photos works too.
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            path.hasPrefix(base + "/")
        else { continue }
        out.append(String(path.dropFirst(base.count + 1)))
    }
    return out.sorted()
}
