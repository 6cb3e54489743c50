import Dispatch
import Extraction
import Foundation
import Head
import Imaging
import Kernels
import MobileNet
import Store

/// The backbone a run's vectors came from, ready to embed more images the same way.
struct RunBackbone {
    let net: MobileNetV2
    /// The decode setting of the run's vectors (nil: full size; else JPEG DCT scaling to this side).
    let minSide: Int?
}

/// Loads the backbone of `run` from the weights file the user gave, after checking that it is
/// that backbone (same SHA-256) and that this tlearn makes its preprocessing.
func loadRunBackbone(_ run: StoredRun, weights: String, db: Connection) throws -> RunBackbone {
    guard let row = try db.rows("SELECT weights_sha256, input_size, preprocessing, weights_name FROM backbones WHERE id = ?1",
                                [.integer(run.backboneID)]).first else {
        throw HeadError.invalid("\(db.path): run \(run.id) names backbone \(run.backboneID), which is not in the backbones table")
    }
    let expected = row[0].string ?? "", inputSize = Int(row[1].int ?? 224), preprocessing = row[2].string ?? ""
    let name = row[3].string ?? "unnamed weights"
    guard let preparer = ImagingPreparer(identifier: preprocessing, inputSize: inputSize) else {
        throw HeadError.invalid("run \(run.id) was trained on vectors made with preprocessing '\(preprocessing)', which this tlearn does not make, so new images would not match")
    }
    let (key, net) = try Backbone.load(weights: weights, inputSize: inputSize, preprocessing: preprocessing)
    guard key.weightsSHA256 == expected else {
        throw HeadError.invalid("\(weights) is not the backbone run \(run.id) was trained on: its SHA-256 is \(key.weightsSHA256.prefix(16))…, run \(run.id) used backbone \(run.backboneID) (\(name), SHA-256 \(expected.prefix(16))…)")
    }
    guard net.dim == run.dim else {
        throw HeadError.invalid("\(weights) gives \(net.dim)-float vectors; run \(run.id) expects \(run.dim)")
    }
    return RunBackbone(net: net, minSide: preparer.minSide)
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
        if found.isEmpty { headWarning("no .jpg, .jpeg or .png files under \(arg)") }
        out += found
    }
    return out
}

/// Paths relative to `root` of the image files below it, sorted.
func imagesUnder(_ root: String) -> [String] {
    let extensions: Set<String> = ["jpg", "jpeg", "png"]
    guard let walker = FileManager.default.enumerator(at: URL(fileURLWithPath: root), includingPropertiesForKeys: nil,
                                                      options: [.skipsHiddenFiles]) else { return [] }
    let base = URL(fileURLWithPath: root).standardizedFileURL.path
    var out: [String] = []
    for case let url as URL in walker where extensions.contains(url.pathExtension.lowercased()) {
        let path = url.standardizedFileURL.path
        // fileExists follows symbolic links, so a folder of links to photos works too.
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              path.hasPrefix(base + "/") else { continue }
        out.append(String(path.dropFirst(base.count + 1)))
    }
    return out.sorted()
}

/// Embeds image files exactly as `tlearn extract` does for the orig view (Extraction's
/// `prepareFile` with the run's decode setting, then the network), 32 at a time, reading and
/// decoding on every core. Returns the vectors of the files that worked (in order) and the errors
/// of the others.
func embedImageFiles(_ paths: [String], backbone: RunBackbone) -> (vectors: [Float], embedded: [Int], failures: [(path: String, error: Error)]) {
    let net = backbone.net
    let size = net.inputSize, floats = size * size * 3, dim = net.dim
    let workers = AvailableCPUs.current.count
    let minSide = backbone.minSide
    var vectors: [Float] = [], embedded: [Int] = [], failures: [(path: String, error: Error)] = []
    let chunk = 32
    var inputs = [Float](repeating: 0, count: chunk * floats)
    for start in stride(from: 0, to: paths.count, by: chunk) {
        let count = min(chunk, paths.count - start)
        var errors = [Error?](repeating: nil, count: count)
        inputs.withUnsafeMutableBufferPointer { buffer in
            let base = UncheckedPointer(buffer.baseAddress!)
            errors.withUnsafeMutableBufferPointer { errs in
                let e = UncheckedErrors(errs.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: min(workers, count)) { w in
                    var preparer: any ImagePreparer = ImagingPreparer(minSide: minSide)
                    for i in stride(from: w, to: count, by: workers) {
                        do {
                            let prepared = try prepareFile(paths[start + i], size: size, views: [.orig], preparer: &preparer)
                            prepared.inputs.withUnsafeBufferPointer { (base.pointer + i * floats).update(from: $0.baseAddress!, count: floats) }
                        } catch {
                            e.pointer[i] = error
                        }
                    }
                }
            }
        }
        // Pack the images that decoded, then one forward pass for them.
        var ok: [Int] = []
        for i in 0..<count {
            if let error = errors[i] { failures.append((paths[start + i], error)); continue }
            if ok.count != i { inputs.withUnsafeMutableBufferPointer { b in (b.baseAddress! + ok.count * floats).update(from: b.baseAddress! + i * floats, count: floats) } }
            ok.append(i)
        }
        if ok.isEmpty { continue }
        var out = [Float](repeating: 0, count: ok.count * dim)
        inputs.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: ok.count, into: $0.baseAddress!) } }
        vectors += out
        embedded += ok.map { start + $0 }
    }
    return (vectors, embedded, failures)
}

/// A pointer handed to concurrent workers that write disjoint ranges.
private struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { pointer = p }
}

private struct UncheckedErrors: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Error?>
    init(_ p: UnsafeMutablePointer<Error?>) { pointer = p }
}
