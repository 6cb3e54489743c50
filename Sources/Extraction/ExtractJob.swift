import Store

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One `tlearn extract`: where the images are, where the database is, and how to run.
/// Shared by the command and the benchmark so both measure the same thing.
public struct ExtractJob {
    /// Dataset root laid out as ROOT/<label>/...; with `manifest`, the folder its paths are relative to.
    public var images: String?
    /// A `path,label` CSV; labels come from it instead of folder names.
    public var manifest: String?
    public var db: String
    public var options = ExtractionOptions()
    /// nil: the value stored in the database (10 for a new one).
    public var valPercent: Double?
    public var testPercent: Double?

    public init(images: String?, manifest: String?, db: String) {
        self.images = images
        self.manifest = manifest
        self.db = db
    }

    /// The folder stored paths are relative to.
    public var root: String {
        if let images { return images }
        guard let manifest else { return "." }
        if let slash = manifest.lastIndex(of: "/") {
            let dir = String(manifest[..<slash])
            return dir.isEmpty ? "/" : dir
        }
        return "."
    }

    /// Lists the candidates (folder scan or manifest).
    public func scan() throws -> ScanResult {
        var result: ScanResult
        if let manifest {
            result = try Manifest.read(manifest, root: root)
        } else {
            result = try Scanner.scan(root: root)
        }
        if let real = realpath(root, nil) {
            result.root = String(cString: real)
            free(real)
        }
        return result
    }

    /// Takes the writer lock, then runs. `backbone` is called after the lock is held (loading
    /// weights is slow; a locked database should fail at once) and returns the key and network.
    public func run<E: Embedder>(
        backbone: () throws -> (BackboneKey, E),
        makePreparer: @escaping @Sendable () -> any ImagePreparer,
        reporter: ProgressReporter,
        warn: @escaping (String) -> Void,
        shouldStop: (() -> Bool)? = nil
    ) throws -> ExtractionSummary {
        let lock = try WriterLock(databasePath: db)
        defer { withExtendedLifetime(lock) {} }
        let scanned = try scan()
        let (key, embedder) = try backbone()
        let store = try EmbeddingStore(path: db)
        if valPercent != nil || testPercent != nil {
            try store.setPolicy(
                SplitPolicy(
                    valPercent: valPercent ?? store.policy.valPercent,
                    testPercent: testPercent ?? store.policy.testPercent))
        }
        let id = try store.backboneID(key)
        if !scanned.looseFiles.isEmpty {
            let names =
                scanned.looseFiles.prefix(3).joined(separator: ", ") + (scanned.looseFiles.count > 3 ? ", ..." : "")
            warn(
                "\(scanned.looseFiles.count) file\(scanned.looseFiles.count == 1 ? "" : "s") directly in \(root) skipped (\(names)): images go in class folders, \(root)/<label>/"
            )
        }
        if scanned.candidates.isEmpty && scanned.unusable.isEmpty {
            warn("no files found in \(manifest ?? root)")
        }
        let extractor = Extractor(
            store: store, backbone: id, embedder: embedder, options: options, makePreparer: makePreparer)
        var shown = 0
        let limit = 20
        extractor.onProgress = { reporter.update($0) }
        extractor.shouldStop = shouldStop
        extractor.onFailure = { _, _, message in
            shown += 1
            if shown <= limit { reporter.message("warning: \(message)") }
        }
        let summary = try extractor.run(scanned)
        reporter.finish()
        if shown > limit {
            warn("\(shown - limit) more failures not shown: tlearn info --db \(db) --failures lists them all")
        }
        if summary.missing > 0 && !options.prune && !summary.interrupted {
            warn(
                "\(summary.missing) file\(summary.missing == 1 ? "" : "s") in the database no longer exist\(summary.missing == 1 ? "s" : "") under \(manifest ?? root); their rows stay until a run with --prune"
            )
        }
        return summary
    }
}
