import Formats
import Store

/// Settings of one extraction run.
public struct ExtractionOptions: Sendable {
    /// Vectors per database transaction (an image with two views counts twice).
    public var batchSize = 32
    /// Threads that each read, hash, decode and embed one file at a time.
    public var workers = 1
    public var views: [View] = [.orig]
    /// Only paths whose shard (1-based) is `shard.index` of `shard.count`.
    public var shard: (index: Int, count: Int)?
    /// Delete rows of files that are gone.
    public var prune = false
    /// Also store each view's maps (block_16's output, float16), in the transaction of its vectors.
    public var maps = false

    public init() {}
}

/// Counts and timings of one run (the summary line).
public struct ExtractionSummary: Sendable {
    /// Files considered in this run (this shard), failures included.
    public var total = 0
    /// Images run through the backbone (new, changed content, or views or maps added).
    public var extracted = 0
    /// Maps stored in this run; nil when it ran without `maps`.
    public var maps: Int?
    /// Images whose vectors were already stored for this content and backbone.
    public var cached = 0
    var relabeled = 0
    /// Failed files by reason code.
    public var failed: [String: Int] = [:]
    /// Files that had a failure row and now succeeded.
    var recovered = 0
    /// Paths in the database (this shard) with no file any more.
    public var missing = 0
    var pruned = 0
    public var seconds = 0.0
    /// Time spent inside the backbone, summed over the workers.
    var forwardSeconds = 0.0
    /// Network inputs run through the backbone.
    var forwardRows = 0
    /// Time spent committing to the database.
    var commitSeconds = 0.0
    /// The run was stopped (signal) before every file was seen.
    public var interrupted = false

    public var failedCount: Int { failed.values.reduce(0, +) }
}

/// Live counts for a progress display.
public struct ExtractionProgress: Sendable {
    public var done: Int
    public var total: Int
    public var extracted: Int
    public var cached: Int
    public var failed: Int
    public var seconds: Double
}

/// Runs an extraction: worker threads read, hash, sniff, decode and embed files, one file per
/// thread at a time; the calling thread commits the vectors in batches, one transaction each.
///
/// Decoding and the network share a thread rather than running on threads of their own: with
/// separate decoder and network threads (4 on 2 cores) each preempted the other, a batch waited
/// for its slowest image, and a decoded image had left the cache by the time the network read it.
final class Extractor<E: Embedder> {
    let store: EmbeddingStore
    let backbone: Int64
    var embedder: E
    let options: ExtractionOptions
    let makePreparer: @Sendable () -> any ImagePreparer
    /// Called on the calling thread after each result.
    var onProgress: ((ExtractionProgress) -> Void)?
    /// Polled after each file; true stops the run after committing what is computed.
    public var shouldStop: (() -> Bool)?
    /// Called once per failed file, on the calling thread.
    var onFailure: ((_ path: String, _ reason: String, _ message: String) -> Void)?

    public init(
        store: EmbeddingStore, backbone: Int64, embedder: E, options: ExtractionOptions,
        makePreparer: @escaping @Sendable () -> any ImagePreparer
    ) {
        precondition(
            options.batchSize >= 1 && options.workers >= 1 && !options.views.isEmpty,
            "batch size \(options.batchSize), workers \(options.workers), views \(options.views)")
        precondition(!options.maps || embedder.backboneTop != nil, "Extractor: maps asked of an embedder that has none")
        self.store = store
        self.backbone = backbone
        self.embedder = embedder
        self.options = options
        self.makePreparer = makePreparer
    }

    /// Extracts everything in `scan` (restricted to the shard) that the store lacks.
    public func run(_ scan: ScanResult) throws -> ExtractionSummary {
        let clock = ContinuousClock()
        let start = clock.now
        var summary = ExtractionSummary()
        if options.maps { summary.maps = 0 }
        let inShard: (String) -> Bool = { [options] p in
            guard let s = options.shard else { return true }
            return PathHash(path: p).shard(of: s.count) == s.index
        }
        let candidates = scan.candidates.filter { inShard($0.path) }
        let unusable = scan.unusable.filter { inShard($0.path) }
        summary.total = candidates.count + unusable.count

        if !scan.root.isEmpty { try store.setMeta("root", scan.root) }
        try store.setMeta("shard", options.shard.map { "\($0.index)/\($0.count)" })
        // The top goes in before any map, so a database never holds maps without the shape to read them.
        let top = options.maps ? embedder.backboneTop : nil
        try top?.write(store.db, backbone: backbone)
        let mapShape = top?.map
        let catalog = try store.catalog(backbone: backbone)
        let failures = try store.failurePaths()

        var pending: [StoreChange] = []
        for u in unusable {
            pending.append(.failure(path: u.path, reason: "unreadable", message: u.message))
            summary.failed["unreadable", default: 0] += 1
            onFailure?(u.path, "unreadable", u.message)
        }
        let present = Set(candidates.map(\.path)).union(unusable.map(\.path))
        let unlisted = scan.unlistedFolders.map { $0 + "/" }
        let gone = Set(catalog.keys).union(failures).filter { p in
            inShard(p) && !present.contains(p) && !unlisted.contains { p.hasPrefix($0) }
        }.sorted()
        summary.missing = gone.count
        if options.prune {
            pending += gone.map { StoreChange.remove(path: $0) }
            summary.pruned = gone.count
        }

        let views = options.views
        let snapshot = Snapshot(catalog: catalog, candidates: candidates)
        let makePreparer = self.makePreparer
        let embedder = self.embedder
        // Results hold vectors, not decoded images: the queue stays small whatever the batch size.
        let queue = WorkQueue<FileWork.Outcome>(count: candidates.count, capacity: 2 * options.batchSize)
        queue.start(workers: options.workers) {
            var preparer = makePreparer()
            let buffers = FileWork.Buffers(embedder, views: views.count, maps: mapShape)
            let embed = embedder.makeWorker()
            let embedMaps = mapShape == nil ? nil : embedder.makeMapWorker()
            return { i in
                FileWork.process(
                    snapshot.candidates[i], known: snapshot.catalog[snapshot.candidates[i].path], views: views,
                    preparer: &preparer, buffers: buffers, embed: embed, embedMaps: embedMaps)
            }
        }

        var batch: [FileWork.Ready] = []
        var rows = 0
        var done = unusable.count
        var failedCount = unusable.count

        func flush() throws {
            var changes = pending
            pending = []
            if !batch.isEmpty {
                for item in batch {
                    summary.forwardSeconds += item.forwardSeconds
                    summary.forwardRows += item.forwardRows
                    if item.addOnly {
                        if item.relabel { changes.append(.relabel(path: item.record.path, label: item.record.label)) }
                        if !item.vectors.isEmpty { changes.append(.addViews(path: item.record.path, item.vectors)) }
                    } else {
                        changes.append(.image(item.record, item.vectors))
                    }
                    // Same transaction as the vectors: a kill never leaves one without the other.
                    if !item.maps.isEmpty {
                        changes.append(.maps(path: item.record.path, item.maps))
                        summary.maps? += item.maps.count
                    }
                    summary.extracted += 1
                    if item.relabel { summary.relabeled += 1 }
                    if failures.contains(item.record.path) { summary.recovered += 1 }
                }
                batch = []
                rows = 0
            }
            let t1 = clock.now
            try store.commit(changes, backbone: backbone)
            summary.commitSeconds += (clock.now - t1).seconds
        }

        var lastReport = clock.now
        do {
            while true {
                guard let outcome = queue.pop() else { break }
                done += 1
                switch outcome {
                case .cached(let p, let relabel):
                    summary.cached += 1
                    if let relabel {
                        pending.append(.relabel(path: p, label: relabel))
                        summary.relabeled += 1
                    }
                case .ready(let r):
                    batch.append(r)
                    rows += r.forwardRows
                    if rows >= options.batchSize { try flush() }
                case .backboneFailed(let error):
                    throw error
                case .failed(let p, let reason, let message):
                    pending.append(.failure(path: p, reason: reason, message: message))
                    summary.failed[reason, default: 0] += 1
                    failedCount += 1
                    onFailure?(p, reason, message)
                }
                // Failures and relabels alone still commit now and then, so a kill loses little.
                if pending.count >= 256 { try flush() }
                if let shouldStop, shouldStop() {
                    summary.interrupted = true
                    queue.cancel()
                    break
                }
                if let onProgress, (clock.now - lastReport) > .milliseconds(100) {
                    lastReport = clock.now
                    onProgress(
                        ExtractionProgress(
                            done: done, total: summary.total, extracted: summary.extracted,
                            cached: summary.cached, failed: failedCount, seconds: (clock.now - start).seconds))
                }
            }
            try flush()
        } catch {
            queue.cancel()
            queue.join()
            throw error
        }
        queue.join()
        if options.prune { try store.dropEmptyClasses() }
        summary.seconds = (clock.now - start).seconds
        onProgress?(
            ExtractionProgress(
                done: done, total: summary.total, extracted: summary.extracted,
                cached: summary.cached, failed: failedCount, seconds: summary.seconds))
        return summary
    }

    /// Read-only state shared by the workers.
    private final class Snapshot: @unchecked Sendable {
        let catalog: [String: CatalogEntry]
        let candidates: [Candidate]
        init(catalog: [String: CatalogEntry], candidates: [Candidate]) {
            self.catalog = catalog
            self.candidates = candidates
        }
    }
}

/// Work done on the worker threads, one file at a time.
enum FileWork {
    /// A file's new vectors, waiting to be committed.
    struct Ready: Sendable {
        var record: ImageRecord
        /// True when the content is stored already and only these views are new.
        var addOnly: Bool
        var relabel: Bool
        var vectors: [ViewVector]
        /// Maps of the views that lacked them (only when extracting maps).
        var maps: [ViewMap]
        /// Views run through the backbone: those that lacked a vector or a map.
        var forwardRows: Int
        /// Wall time the worker spent in the backbone for them.
        var forwardSeconds: Double
    }

    enum Outcome: Sendable {
        case cached(path: String, relabel: String?)
        case ready(Ready)
        case failed(path: String, reason: String, message: String)
        /// The network itself failed: the run stops (no file is to blame).
        case backboneFailed(any Error)
    }

    /// One worker's network input and output, allocated once for all its files.
    final class Buffers {
        let size: Int
        let dim: Int
        let inputs: UnsafeMutablePointer<Float>
        let outputs: UnsafeMutablePointer<Float>
        /// Shape of one view's maps, when extracting them.
        let mapShape: MapShape?
        let maps: UnsafeMutablePointer<Float>?

        init(_ embedder: some Embedder, views: Int, maps mapShape: MapShape? = nil) {
            size = embedder.inputSize
            dim = embedder.dim
            inputs = .allocate(capacity: views * size * size * 3)
            outputs = .allocate(capacity: views * dim)
            self.mapShape = mapShape
            maps = mapShape.map { .allocate(capacity: views * $0.count) }
        }

        deinit {
            inputs.deallocate()
            outputs.deallocate()
            maps?.deallocate()
        }
    }

    /// Bytes read to sniff a file before reading it whole.
    static let sniffLength = 64
    /// Largest file read whole: far above any photo.
    static let maxFileBytes = 512 << 20

    /// Reads `file` through the same steps as an extraction: open, size checks, sniff the first
    /// bytes, read the rest. Errors are failure reasons (`unreadable`, `empty`, the preparer's own).
    static func read(_ file: String, preparer: inout any ImagePreparer) throws -> [UInt8] {
        let reader = try FileReader(file)
        if reader.size == 0 { throw ExtractionError.empty(path: file) }
        if reader.size > maxFileBytes {
            throw ExtractionError.tooLarge(path: file, bytes: reader.size, limit: maxFileBytes)
        }
        try preparer.sniff(try reader.prefix(sniffLength), size: reader.size, path: file)
        let bytes = try reader.all()
        if bytes.isEmpty { throw ExtractionError.empty(path: file) }
        return bytes
    }

    /// One file, on a worker thread: read, sniff, hash, and decode and embed what the store lacks. With
    /// `embedMaps` (extracting maps), a view whose vector is stored but whose map is not runs again for the
    /// map alone: its vector comes out bit for bit the stored one and is not written again.
    static func process(
        _ c: Candidate, known: CatalogEntry?, views: [View], preparer: inout any ImagePreparer,
        buffers: Buffers, embed: EmbedWorker, embedMaps: MapWorker? = nil
    ) -> Outcome {
        let decoded: (record: ImageRecord, addOnly: Bool, relabel: Bool, views: [View])
        var vectorViews = views
        var mapViews = embedMaps == nil ? [] : views
        do {
            let bytes = try read(c.file, preparer: &preparer)
            let sha = SHA256.hexString(SHA256.hash(bytes))
            var todo = views
            var addOnly = false
            var relabel = false
            if let known, known.sha256 == sha {
                vectorViews = views.filter { !known.views.contains($0.rawValue) }
                mapViews = mapViews.filter { !known.mapViews.contains($0.rawValue) }
                todo = views.filter { vectorViews.contains($0) || mapViews.contains($0) }
                relabel = known.label != c.label
                if todo.isEmpty { return .cached(path: c.path, relabel: relabel ? c.label : nil) }
                addOnly = true
            }
            let (w, h) = try preparer.prepare(
                bytes, path: c.file, size: buffers.size, views: todo, into: buffers.inputs)
            let record = ImageRecord(path: c.path, label: c.label, sha256: sha, bytes: bytes.count, width: w, height: h)
            decoded = (record, addOnly, relabel, todo)
        } catch let e as any FailureReason {
            return .failed(path: c.path, reason: e.code, message: "\(e)")
        } catch {
            return .failed(path: c.path, reason: "corrupt", message: "\(error)")
        }
        let clock = ContinuousClock()
        let t0 = clock.now
        do {
            if let embedMaps, let maps = buffers.maps, !mapViews.isEmpty {
                try embedMaps(buffers.inputs, decoded.views.count, buffers.outputs, maps)
            } else {
                try embed(buffers.inputs, decoded.views.count, buffers.outputs)
            }
        } catch {
            return .backboneFailed(error)
        }
        let seconds = (clock.now - t0).seconds
        var vectors: [ViewVector] = []
        var maps: [ViewMap] = []
        for (i, v) in decoded.views.enumerated() {
            if vectorViews.contains(v) {
                vectors.append(
                    ViewVector(
                        view: v.rawValue,
                        vector: Array(UnsafeBufferPointer(start: buffers.outputs + i * buffers.dim, count: buffers.dim))
                    ))
            }
            if mapViews.contains(v), let shape = buffers.mapShape, let all = buffers.maps {
                let map = UnsafePointer(all + i * shape.count)
                guard MapBlob.fits(map, count: shape.count) else {
                    return .backboneFailed(
                        ExtractionError.mapRange(
                            path: c.file, view: v.rawValue, value: outOfRange(map, count: shape.count)))
                }
                maps.append(ViewMap(view: v.rawValue, blob: MapBlob.bytes(map, count: shape.count)))
            }
        }
        return .ready(
            Ready(
                record: decoded.record, addOnly: decoded.addOnly, relabel: decoded.relabel, vectors: vectors,
                maps: maps,
                forwardRows: decoded.views.count, forwardSeconds: seconds))
    }

    /// The first value of a map that `MapBlob.fits` refuses (for the error message).
    static func outOfRange(_ map: UnsafePointer<Float>, count: Int) -> Float {
        var value = map[0]
        for i in 0..<count where !MapBlob.fits(map + i, count: 1) {
            value = map[i]
            break
        }
        return value
    }
}

/// Network inputs for one file, read and decoded exactly as an extraction does; `tlearn embed`
/// uses it so its vectors equal the stored ones bit for bit.
public func prepareFile(_ file: String, size: Int, views: [View], preparer: inout any ImagePreparer) throws -> (
    inputs: [Float], width: Int, height: Int
) {
    let bytes = try FileWork.read(file, preparer: &preparer)
    var inputs = [Float](repeating: 0, count: views.count * size * size * 3)
    let (w, h) = try inputs.withUnsafeMutableBufferPointer {
        try preparer.prepare(bytes, path: file, size: size, views: views, into: $0.baseAddress!)
    }
    return (inputs, w, h)
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
