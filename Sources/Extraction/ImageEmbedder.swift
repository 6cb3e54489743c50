import Dispatch
import Formats
import Imaging
import MobileNet
import Store
import Synchronization

/// Embeds image files exactly as `tlearn extract` does (the same reading, decoding, resizing and
/// network, one file per thread at a time), so a file already in the database gets its stored
/// vectors bit for bit. The one path `embed`, `similar`, `predict` and `evaluate --images` take.
public final class ImageEmbedder: @unchecked Sendable {
    public let net: MobileNetV2
    /// The decode setting (nil: full-size JPEG decoding; else DCT scaling down to this side).
    public let minSide: Int?
    /// The `backbones.preprocessing` value of the vectors this embedder makes.
    public var preprocessing: String { Preprocessing.identifier(minSide: minSide) }

    public init(net: MobileNetV2, minSide: Int?) {
        self.net = net
        self.minSide = minSide
    }

    /// What `embed` returns for each file.
    public struct Outputs: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// The pooled embeddings (`embeddings` rows).
        public static let vectors = Outputs(rawValue: 1)
        /// block_16's maps as `extract --maps` stores them (`maps` rows).
        public static let maps = Outputs(rawValue: 2)
    }

    /// One file's vectors and maps, one per view asked for, in that order (empty when not asked for).
    public struct Embedded: Sendable {
        public let width: Int
        public let height: Int
        public let vectors: [[Float]]
        /// Each view's map (net.mapShape, NHWC) rounded to float16 as a stored map is, so a finetune model
        /// gives a file the same logits whether it reads this or the file's `maps` row.
        public let maps: [[Float]]
    }

    /// Each file's vectors and/or maps (or the error that stopped it), in the order of `files`, on `threads`
    /// threads. Each thread reads, decodes and embeds its own files with its own network arena. Maps alone
    /// skip Conv_1 and the pooling; a map beyond float16's range fails its file (`ExtractionError.mapRange`).
    public func embed(_ files: [String], views: [View] = [.orig], outputs: Outputs = .vectors, threads: Int) -> [Result<
        Embedded, Error
    >] {
        precondition(!views.isEmpty && !outputs.isEmpty, "ImageEmbedder.embed: no views or no outputs")
        let size = net.inputSize
        let dim = net.dim
        let minSide = self.minSide
        let mapCount = net.mapShape.count
        let results = Mutex<[Result<Embedded, Error>?]>(Array(repeating: nil, count: files.count))
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, files.count))) { _ in
            let worker = MobileNetV2.SerialWorker(net)
            var preparer: any ImagePreparer = ImagingPreparer(minSide: minSide)
            var output = [Float](repeating: 0, count: views.count * dim)
            var maps = [Float](repeating: 0, count: outputs.contains(.maps) ? views.count * mapCount : 0)
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= files.count { break }
                let result: Result<Embedded, Error>
                do {
                    let prepared = try prepareFile(files[i], size: size, views: views, preparer: &preparer)
                    prepared.inputs.withUnsafeBufferPointer { x in
                        output.withUnsafeMutableBufferPointer { out in
                            maps.withUnsafeMutableBufferPointer { m in
                                switch (outputs.contains(.vectors), outputs.contains(.maps)) {
                                case (true, true):
                                    worker.embed(
                                        x.baseAddress!, count: views.count, into: out.baseAddress!, maps: m.baseAddress!
                                    )
                                case (false, _): worker.maps(x.baseAddress!, count: views.count, into: m.baseAddress!)
                                case (true, false):
                                    worker.embed(x.baseAddress!, count: views.count, into: out.baseAddress!)
                                }
                            }
                        }
                    }
                    let vectors =
                        outputs.contains(.vectors)
                        ? (0..<views.count).map { Array(output[($0 * dim)..<(($0 + 1) * dim)]) } : []
                    let stored = outputs.contains(.maps) ? try Self.asStored(maps, views: views, file: files[i]) : []
                    result = .success(
                        Embedded(width: prepared.width, height: prepared.height, vectors: vectors, maps: stored))
                } catch {
                    result = .failure(error)
                }
                results.withLock { $0[i] = result }
            }
        }
        return results.withLock { $0.map { $0! } }
    }
}

extension ImageEmbedder {
    /// Each view's map of `maps` (views.count maps, one after another) as a stored map decodes.
    static func asStored(_ maps: [Float], views: [View], file: String) throws -> [[Float]] {
        let count = maps.count / views.count
        return try maps.withUnsafeBufferPointer { m in
            try views.indices.map { v in
                let map = m.baseAddress! + v * count
                guard MapBlob.fits(map, count: count) else {
                    throw ExtractionError.mapRange(
                        path: file, view: views[v].rawValue, value: FileWork.outOfRange(map, count: count))
                }
                return MapBlob.bytes(map, count: count).withUnsafeBytes { MapBlob.floats($0) }
            }
        }
    }
}

extension Backbone {
    /// The embedder of a backbone a database stores, from the weights file the user gave, after
    /// checking that it is that file (SHA-256), that it gives `dim` floats and that this tlearn makes
    /// the backbone's preprocessing: new images must be embedded as the stored ones were.
    public static func embedder(for backbone: BackboneInfo, weights: String) throws -> ImageEmbedder {
        guard let preparer = ImagingPreparer(identifier: backbone.preprocessing, inputSize: backbone.inputSize) else {
            throw StoreError.invalid(
                "backbone \(backbone.id) was made with preprocessing '\(backbone.preprocessing)', which this tlearn does not make"
            )
        }
        let (key, net) = try load(
            weights: weights, inputSize: backbone.inputSize, preprocessing: backbone.preprocessing)
        guard key.weightsSHA256 == backbone.weightsSHA256 else {
            throw StoreError.invalid(
                "\(weights) is not the weights file of backbone \(backbone.id) (\(backbone.weightsName ?? "unnamed"), "
                    + "SHA-256 \(backbone.weightsSHA256.prefix(12))…): its SHA-256 is \(key.weightsSHA256.prefix(12))…, so its vectors would not compare with the stored ones"
            )
        }
        guard key.dim == backbone.dim else {
            throw StoreError.invalid(
                "\(weights) gives \(key.dim)-float embeddings; backbone \(backbone.id) has \(backbone.dim)")
        }
        return ImageEmbedder(net: net, minSide: preparer.minSide)
    }
}
