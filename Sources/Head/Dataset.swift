import Formats
import Kernels
import Store

/// A backbone that has vectors in a database, for choosing one and for messages.
public struct BackboneSummary: Sendable, Equatable {
    public let id: Int64
    public let dim: Int
    public let weightsName: String?
    public let inputSize: Int
    public let preprocessing: String
    public let vectors: Int

    public var label: String {
        "backbone \(id) (\(weightsName ?? "unnamed weights"), \(inputSize) px, \(preprocessing), \(vectors) vectors)"
    }
}

/// Vectors (or block_16 maps) of one backbone with their labels and splits: one contiguous
/// row-major matrix plus per-row metadata, read with one query.
public struct EmbeddingSet: Sendable {
    public let path: String
    public let backbone: BackboneSummary
    /// Width of the embedding (the Dense layer's input).
    public var dim: Int { backbone.dim }
    /// The maps' shape when rows are block_16 maps (for the finetune kind); nil for vectors.
    public var map: MapShape? = nil
    /// The backbone's folded Conv_1 (kernel then bias) when rows are maps.
    public var top: [Float]? = nil
    /// Floats per row.
    public var width: Int { map?.count ?? dim }
    /// Class names in logit order: sorted, as Keras `image_dataset_from_directory` orders folders.
    public let classes: [String]
    /// Every row's vector (or map), `count` x `width`.
    public let vectors: FeatureMatrix
    public let labels: [Int32]
    public let imageIDs: [Int64]
    public let partitions: [Split]
    public let views: [View]
    public let paths: [String]

    public var count: Int { labels.count }

    /// Indices of the rows in `partition` with one of `views`.
    public func rows(in partition: Split, views wanted: [View]) -> [Int] {
        (0..<count).filter { partitions[$0] == partition && wanted.contains(views[$0]) }
    }

    /// The rows `indices` (shared, not copied).
    public func matrix(_ indices: [Int]) -> LabeledMatrix {
        LabeledMatrix(source: vectors, sourceRows: indices, labels: indices.map { labels[$0] })
    }

    /// `splitFingerprint` of every image that has a vector here.
    public var fingerprint: String {
        var seen = Set<Int64>()
        var pairs: [(imageID: Int64, partition: Split)] = []
        for i in 0..<count where seen.insert(imageIDs[i]).inserted { pairs.append((imageIDs[i], partitions[i])) }
        return splitFingerprint(pairs)
    }

    /// The backbones with vectors in `db`, by id.
    public static func backbones(in db: Connection) throws -> [BackboneSummary] {
        let rows = try db.rows(
            """
            SELECT b.id, b.dim, b.weights_name, b.input_size, b.preprocessing, count(*)
            FROM embeddings e JOIN backbones b ON b.id = e.backbone_id
            GROUP BY b.id ORDER BY b.id
            """)
        return rows.map { r in
            BackboneSummary(
                id: r[0].int ?? 0, dim: Int(r[1].int ?? 0), weightsName: r[2].string,
                inputSize: Int(r[3].int ?? 0), preprocessing: r[4].string ?? "", vectors: Int(r[5].int ?? 0))
        }
    }

    /// Picks the backbone: `requested`, or the only one there is.
    static func chooseBackbone(in db: Connection, requested: Int64?) throws -> BackboneSummary {
        let all = try backbones(in: db)
        if all.isEmpty {
            throw HeadError.invalid(
                "\(db.path) has no embeddings: run `tlearn extract --images DIR --weights FILE --db \(db.path)` first")
        }
        if let requested {
            guard let b = all.first(where: { $0.id == requested }) else {
                throw HeadError.invalid(
                    "\(db.path) has no vectors of backbone \(requested); it has: \(all.map(\.label).joined(separator: "; "))"
                )
            }
            return b
        }
        guard all.count == 1 else {
            throw HeadError.invalid(
                "\(db.path) holds vectors of \(all.count) backbones: \(all.map(\.label).joined(separator: "; ")); choose one with --backbone ID"
            )
        }
        return all[0]
    }

    /// Loads every vector of `backbone` (or of the only backbone) with one query; with `maps`, its
    /// block_16 maps instead (decoded from float16), with the map shape and the backbone's Conv_1.
    public static func load(from db: Connection, backbone requested: Int64? = nil, maps: Bool = false) throws
        -> EmbeddingSet
    {
        let backbone = try chooseBackbone(in: db, requested: requested)
        let dim = backbone.dim
        guard dim > 0 else { throw HeadError.invalid("\(db.path): backbone \(backbone.id) has dim \(dim)") }
        if !maps, let set = try loadMapped(from: db, backbone: backbone) { return set }
        var map: MapShape? = nil
        var top: [Float]? = nil
        var capacity = backbone.vectors
        if maps {
            guard let t = try BackboneTop.load(db, backbone: backbone.id) else {
                throw HeadError.invalid(
                    "\(db.path) has no maps of backbone \(backbone.id): extract them with `tlearn extract --maps`")
            }
            (map, top) = (t.map, t.kernel + t.bias)
            capacity = Int(
                try db.scalar("SELECT count(*) FROM maps WHERE backbone_id = ?1", [.integer(backbone.id)])?.int ?? 0)
        }
        let width = map?.count ?? dim
        let bytes = map.map(MapBlob.byteCount) ?? VectorBlob.stride * dim
        let what = maps ? "map" : "vector"
        // `+e.backbone_id` keeps SQLite from picking the backbone index and then sorting every row
        // (BLOBs included) in a temporary file; scanning the UNIQUE (image_id, backbone_id, view)
        // index instead yields the rows already in this order. The ORDER BY fixes the row order
        // whatever plan SQLite picks, so training data are in the same order on every database.
        let (table, column) = maps ? ("maps", "map") : ("embeddings", "vector")
        let statement = try db.prepare(
            """
            SELECT e.image_id, i.split, c.name, e.view, i.path, e.\(column)
            FROM \(table) e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id
            WHERE +e.backbone_id = ?1 ORDER BY e.image_id, e.backbone_id, e.view
            """, [.integer(backbone.id)])
        var facts = RowFacts()
        var failure: HeadError? = nil
        let vectors = try FeatureMatrix(count: capacity, width: width) { buffer in
            var rows = 0
            while try statement.step() {
                let path = statement.text(4) ?? ""
                guard let partition = Split(rawValue: statement.text(1) ?? ""),
                    let view = View(rawValue: statement.text(3) ?? "")
                else {
                    failure = .invalid("\(db.path): image \(path) has an unknown split or view")
                    break
                }
                let blob = statement.blob(5)
                guard blob.count == bytes else {
                    failure = .invalid(
                        "\(db.path): the \(view.rawValue) \(what) of \(path) has \(blob.count) bytes, expected \(bytes)"
                            + (map.map { " (\($0) float16)" } ?? " (\(dim) float32)"))
                    break
                }
                guard rows < capacity else {
                    failure = .invalid("\(db.path) changed while its \(what)s were read")
                    break
                }
                if maps {
                    MapBlob.copy(blob, into: buffer + rows * width)
                } else {
                    VectorBlob.copy(blob, into: buffer + rows * width)
                }
                rows += 1
                facts.append(
                    image: statement.int(0), partition: partition, className: statement.text(2) ?? "", view: view,
                    path: path)
            }
            return rows
        }
        if let failure { throw failure }
        if maps && vectors.count == 0 {
            throw HeadError.invalid(
                "\(db.path) has no maps of backbone \(backbone.id): extract them with `tlearn extract --maps`")
        }
        let (classes, labels) = facts.labels()
        return EmbeddingSet(
            path: db.path, backbone: backbone, map: map, top: top, classes: classes, vectors: vectors,
            labels: labels, imageIDs: facts.imageIDs, partitions: facts.partitions, views: facts.views,
            paths: facts.paths)
    }
}

extension EmbeddingSet {
    /// The vectors through the database's memory-mapped matrix files (`MatrixFile`, one per view), when
    /// they are big enough to have them: nothing is copied, and the rows' facts come from the
    /// embeddings index and the images table, never from the vector BLOBs' pages. Nil when a file cannot
    /// be used (small vectors, a version-1 database opened read-only, a folder not writable).
    static func loadMapped(from db: Connection, backbone: BackboneSummary) throws -> EmbeddingSet? {
        let began = !db.inTransaction
        if began { try db.execute("BEGIN") }
        defer { if began { try? db.execute("COMMIT") } }
        var files: [View: MappedMatrix] = [:]
        for name in try db.rows("SELECT DISTINCT view FROM embeddings WHERE backbone_id = ?1", [.integer(backbone.id)])
            .compactMap({ $0[0].string })
        {
            guard let view = View(rawValue: name),
                let m = try MatrixFile.open(db, database: db.path, backbone: backbone.id, view: name)
            else { return nil }
            files[view] = m
        }
        guard !files.isEmpty else { return nil }
        // `+e.backbone_id` makes SQLite scan the UNIQUE (image_id, backbone_id, view) index, which holds every
        // column used here and is in this order already.
        let statement = try db.prepare(
            """
            SELECT e.image_id, e.view, i.split, c.name, i.path
            FROM embeddings e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id
            WHERE +e.backbone_id = ?1 ORDER BY e.image_id, e.backbone_id, e.view
            """, [.integer(backbone.id)])
        var cursor: [View: Int] = [:]
        var rows: [UnsafePointer<Float>] = []
        var facts = RowFacts()
        rows.reserveCapacity(backbone.vectors)
        while try statement.step() {
            let image = statement.int(0)
            let path = statement.text(4) ?? ""
            guard let view = View(rawValue: statement.text(1) ?? ""),
                let partition = Split(rawValue: statement.text(2) ?? ""),
                let m = files[view]
            else { throw HeadError.invalid("\(db.path): image \(path) has an unknown split or view") }
            // Both in image-id order: walk the file's ids forward to this image.
            var r = cursor[view, default: 0]
            while r < m.count && m.imageIDs[r] < image { r += 1 }
            guard r < m.count && m.imageIDs[r] == image else {
                throw HeadError.invalid("\(db.path) changed while its vectors were read")
            }
            cursor[view] = r + 1
            rows.append(m.values + r * m.dim)
            facts.append(image: image, partition: partition, className: statement.text(3) ?? "", view: view, path: path)
        }
        let (classes, labels) = facts.labels()
        return EmbeddingSet(
            path: db.path, backbone: backbone, classes: classes,
            vectors: FeatureMatrix(width: backbone.dim, rows: rows, mapped: Array(files.values)),
            labels: labels, imageIDs: facts.imageIDs, partitions: facts.partitions, views: facts.views,
            paths: facts.paths)
    }
}

/// Model inputs (vectors or flattened feature maps), `count` rows of `width` floats: loaded once and
/// shared by every split, fold and job that reads it. The rows live in memory of its own, or in the
/// memory-mapped matrix files of the database (`MatrixFile`), which it keeps open.
public final class FeatureMatrix: @unchecked Sendable {
    public let count: Int
    public let width: Int
    private let rows: [UnsafePointer<Float>]
    private let owned: UnsafeMutablePointer<Float>?
    private let mapped: [MappedMatrix]

    /// Uninitialised room for `count` rows; `fill` writes them and returns how many it wrote.
    init(count: Int, width: Int, fill: (UnsafeMutablePointer<Float>) throws -> Int) rethrows {
        self.width = width
        let base = allocateFloats(count * width)
        let written: Int
        do { written = try fill(base) } catch {
            UnsafeMutableRawPointer(base).deallocate()
            throw error
        }
        precondition(written <= count, "FeatureMatrix: \(written) rows written into room for \(count)")
        self.count = written
        owned = base
        mapped = []
        rows = (0..<written).map { UnsafePointer(base + $0 * width) }
    }

    /// Rows of mapped matrices (`rows[i]` points into one of `mapped`, which this matrix keeps open).
    init(width: Int, rows: [UnsafePointer<Float>], mapped: [MappedMatrix]) {
        self.width = width
        self.count = rows.count
        self.rows = rows
        owned = nil
        self.mapped = mapped
    }

    /// A copy of `values` (a whole number of `width`-float rows).
    public convenience init(_ values: [Float], width: Int) {
        precondition(
            width > 0 && values.count % width == 0, "FeatureMatrix: \(values.count) floats are not rows of \(width)")
        self.init(count: values.count / width, width: width) { base in
            values.withUnsafeBufferPointer { base.initialize(from: $0.baseAddress!, count: values.count) }
            return values.count / width
        }
    }

    deinit { owned.map { UnsafeMutableRawPointer($0).deallocate() } }

    /// Whether the rows are the database's mapped matrix files (not a copy in memory).
    var isMapped: Bool { !mapped.isEmpty }

    /// Row `i`.
    @inline(__always) public func row(_ i: Int) -> UnsafePointer<Float> { rows[i] }
}

/// Some rows of a `FeatureMatrix`, in an order of their own, with labels: a training split, a fold or
/// a query set, without copying a single row.
public struct LabeledMatrix: Sendable {
    public let source: FeatureMatrix
    /// Row r is the source's row `sourceRows[r]` (for a set's matrix, an index into the `EmbeddingSet`).
    var sourceRows: [Int]
    public var labels: [Int32]
    /// Floats per row.
    public var width: Int { source.width }
    public var rows: Int { labels.count }

    public init(source: FeatureMatrix, sourceRows: [Int], labels: [Int32]) {
        precondition(
            sourceRows.count == labels.count, "LabeledMatrix: \(sourceRows.count) rows, \(labels.count) labels")
        self.source = source
        self.sourceRows = sourceRows
        self.labels = labels
    }

    /// Rows of their own: row r of `x` is row r (tests and tools).
    public init(x: [Float], labels: [Int32], width: Int) {
        precondition(
            x.count == labels.count * width, "LabeledMatrix: \(x.count) floats for \(labels.count) rows of \(width)")
        self.init(source: FeatureMatrix(x, width: width), sourceRows: Array(labels.indices), labels: labels)
    }

    /// No rows.
    public static func empty(width: Int) -> LabeledMatrix { LabeledMatrix(x: [], labels: [], width: width) }

    /// Row `r`.
    @inline(__always) public func row(_ r: Int) -> UnsafePointer<Float> { source.row(sourceRows[r]) }

    /// The rows copied into one contiguous array (for tests and small tools; training never copies).
    public var x: [Float] {
        [Float](unsafeUninitializedCapacity: rows * width) { out, initialized in
            for r in 0..<rows { (out.baseAddress! + r * width).initialize(from: row(r), count: width) }
            initialized = rows * width
        }
    }
}

/// What one training run sees: train rows (all chosen views), val and test rows (original view).
public struct TrainingData: Sendable {
    public let classes: [String]
    /// Width of the Dense layer's input (the embedding).
    public let dim: Int
    /// The shape of each row's feature map for a model that reads maps; nil when rows are vectors.
    public let map: MapShape?
    /// The backbone's folded Conv_1 (kernel channels x dim, then bias), where a finetune model starts.
    public let top: [Float]?
    public let train: LabeledMatrix
    public let val: LabeledMatrix
    public let test: LabeledMatrix
    /// The hflip view of each val / test row, row for row, for test-time flips; nil when some image lacks it.
    public let valFlipped: LabeledMatrix?
    public let testFlipped: LabeledMatrix?

    public init(
        classes: [String], dim: Int, map: MapShape? = nil, top: [Float]? = nil, train: LabeledMatrix,
        val: LabeledMatrix,
        test: LabeledMatrix, valFlipped: LabeledMatrix? = nil, testFlipped: LabeledMatrix? = nil
    ) {
        let width = map?.count ?? dim
        precondition(
            [train, val, test].allSatisfy { $0.width == width },
            "TrainingData: rows of \(train.width), \(val.width), \(test.width) floats, expected \(width)")
        self.classes = classes
        self.dim = dim
        self.map = map
        self.top = top
        self.train = train
        self.val = val
        self.test = test
        self.valFlipped = valFlipped
        self.testFlipped = testFlipped
    }

    /// Floats per row.
    public var width: Int { map?.count ?? dim }
}

extension EmbeddingSet {
    /// Train rows of `trainViews`, val and test rows of the original view; every class must have
    /// training rows. With `refit`, the val images train too (their `trainViews` rows) and val is
    /// empty. The val and test rows' hflip views, row for row, come along when every image has one.
    public func trainingData(trainViews: [View], refit: Bool = false) throws -> TrainingData {
        let train = (0..<count).filter {
            (partitions[$0] == .train || (refit && partitions[$0] == .val)) && trainViews.contains(views[$0])
        }
        for view in trainViews where !train.contains(where: { views[$0] == view }) {
            throw HeadError.invalid(
                "\(path): no \(view.rawValue) \(map == nil ? "vectors" : "maps") in the train split of backbone \(backbone.id); extract them first or drop \(view.rawValue) from --train-views"
            )
        }
        try checkEveryClassHasTrainingRows(train)
        let val = refit ? [] : rows(in: .val, views: [.orig])
        let test = rows(in: .test, views: [.orig])
        return TrainingData(
            classes: classes, dim: dim, map: map, top: top, train: matrix(train), val: matrix(val), test: matrix(test),
            valFlipped: flipped(val).map(matrix), testFlipped: flipped(test).map(matrix))
    }

    /// The hflip row of each of `rows` (orig rows), or nil when some image has none.
    public func flipped(_ rows: [Int]) -> [Int]? {
        var hflip: [Int64: Int] = [:]
        for i in 0..<count where views[i] == .hflip { hflip[imageIDs[i]] = i }
        var out: [Int] = []
        out.reserveCapacity(rows.count)
        for r in rows {
            guard let f = hflip[imageIDs[r]] else { return nil }
            out.append(f)
        }
        return out
    }

    func checkEveryClassHasTrainingRows(_ train: [Int]) throws {
        var counts = [Int](repeating: 0, count: classes.count)
        for i in train { counts[Int(labels[i])] += 1 }
        if let empty = counts.firstIndex(of: 0) {
            var bySplit: [Split: Int] = [:]
            for i in 0..<count where labels[i] == Int32(empty) && views[i] == .orig {
                bySplit[partitions[i], default: 0] += 1
            }
            let detail = Split.allCases.map { "\(bySplit[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
            throw HeadError.invalid(
                "\(path): class '\(classes[empty])' has no training images (\(detail)); a head cannot learn it")
        }
    }
}

/// Each loaded row's image, split, class, view and path, in load order. Class names are kept once
/// each as they come (a million rows share a hundred names) and numbered in sorted order at the end.
private struct RowFacts {
    var imageIDs: [Int64] = []
    var partitions: [Split] = []
    var views: [View] = []
    var paths: [String] = []
    private var rowClass: [Int32] = []
    private var names: [String] = []
    private var classIndex: [String: Int32] = [:]

    mutating func append(image: Int64, partition: Split, className name: String, view: View, path: String) {
        imageIDs.append(image)
        partitions.append(partition)
        views.append(view)
        paths.append(path)
        if let k = classIndex[name] {
            rowClass.append(k)
        } else {
            classIndex[name] = Int32(names.count)
            rowClass.append(Int32(names.count))
            names.append(name)
        }
    }

    /// The class names, sorted, and each row's index among them.
    func labels() -> (classes: [String], labels: [Int32]) {
        let classes = names.sorted()
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        let relabel = names.map { index[$0]! }
        return (classes, rowClass.map { relabel[Int($0)] })
    }
}
