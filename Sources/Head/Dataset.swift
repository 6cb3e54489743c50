import Formats
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

/// Vectors of one backbone with their labels and splits: one contiguous row-major matrix plus
/// per-row metadata, read with one query.
public struct EmbeddingSet: Sendable {
    public let path: String
    public let backbone: BackboneSummary
    public var dim: Int { backbone.dim }
    /// Class names in logit order: sorted, as Keras `image_dataset_from_directory` orders folders.
    public let classes: [String]
    /// `count` x `dim`, row-major.
    public let vectors: [Float]
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

    /// The rows `indices` copied into their own contiguous matrix.
    public func matrix(_ indices: [Int]) -> LabeledMatrix {
        let dim = self.dim
        let x = [Float](unsafeUninitializedCapacity: indices.count * dim) { out, initialized in
            vectors.withUnsafeBufferPointer { src in
                for (r, i) in indices.enumerated() {
                    (out.baseAddress! + r * dim).initialize(from: src.baseAddress! + i * dim, count: dim)
                }
            }
            initialized = indices.count * dim
        }
        return LabeledMatrix(x: x, labels: indices.map { labels[$0] }, width: dim, sourceRows: indices)
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
        let rows = try db.rows("""
            SELECT b.id, b.dim, b.weights_name, b.input_size, b.preprocessing, count(*)
            FROM embeddings e JOIN backbones b ON b.id = e.backbone_id
            GROUP BY b.id ORDER BY b.id
            """)
        return rows.map { r in
            BackboneSummary(id: r[0].int ?? 0, dim: Int(r[1].int ?? 0), weightsName: r[2].string,
                            inputSize: Int(r[3].int ?? 0), preprocessing: r[4].string ?? "", vectors: Int(r[5].int ?? 0))
        }
    }

    /// Picks the backbone: `requested`, or the only one there is.
    public static func chooseBackbone(in db: Connection, requested: Int64?) throws -> BackboneSummary {
        let all = try backbones(in: db)
        if all.isEmpty {
            throw HeadError.invalid("\(db.path) has no embeddings: run `tlearn extract --images DIR --weights FILE --db \(db.path)` first")
        }
        if let requested {
            guard let b = all.first(where: { $0.id == requested }) else {
                throw HeadError.invalid("\(db.path) has no vectors of backbone \(requested); it has: \(all.map(\.label).joined(separator: "; "))")
            }
            return b
        }
        guard all.count == 1 else {
            throw HeadError.invalid("\(db.path) holds vectors of \(all.count) backbones: \(all.map(\.label).joined(separator: "; ")); choose one with --backbone ID")
        }
        return all[0]
    }

    /// Loads every vector of `backbone` (or of the only backbone) with one query.
    public static func load(from db: Connection, backbone requested: Int64? = nil) throws -> EmbeddingSet {
        let backbone = try chooseBackbone(in: db, requested: requested)
        let dim = backbone.dim
        guard dim > 0 else { throw HeadError.invalid("\(db.path): backbone \(backbone.id) has dim \(dim)") }
        // Reading through a memory map saves a pread per page of a file that is mostly vectors.
        try db.execute("PRAGMA mmap_size = 4294967296")
        // `+e.backbone_id` keeps SQLite from picking the backbone index and then sorting every row
        // (BLOBs included) in a temporary file; scanning the UNIQUE (image_id, backbone_id, view)
        // index instead yields the rows already in this order. The ORDER BY fixes the row order
        // whatever plan SQLite picks, so training data are in the same order on every database.
        let statement = try db.prepare("""
            SELECT e.image_id, i.split, c.name, e.view, i.path, e.vector
            FROM embeddings e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id
            WHERE +e.backbone_id = ?1 ORDER BY e.image_id, e.backbone_id, e.view
            """, [.integer(backbone.id)])
        let capacity = backbone.vectors
        var names: [String] = [], imageIDs: [Int64] = [], partitions: [Split] = [], views: [View] = [], paths: [String] = []
        var failure: HeadError? = nil
        let vectors = try [Float](unsafeUninitializedCapacity: capacity * dim) { buffer, initialized in
            var rows = 0
            while try statement.step() {
                let path = statement.text(4) ?? ""
                guard let partition = Split(rawValue: statement.text(1) ?? ""),
                      let view = View(rawValue: statement.text(3) ?? "")
                else { failure = .invalid("\(db.path): image \(path) has an unknown split or view"); break }
                let blob = statement.blob(5)
                guard blob.count == VectorBlob.stride * dim else {
                    failure = .invalid("\(db.path): the \(view.rawValue) vector of \(path) has \(blob.count) bytes, expected \(VectorBlob.stride * dim) (\(dim) float32)")
                    break
                }
                guard rows < capacity else { failure = .invalid("\(db.path) changed while its vectors were read"); break }
                VectorBlob.copy(blob, into: buffer.baseAddress! + rows * dim)
                rows += 1
                initialized = rows * dim
                imageIDs.append(statement.int(0))
                partitions.append(partition)
                names.append(statement.text(2) ?? "")
                views.append(view)
                paths.append(path)
            }
        }
        if let failure { throw failure }
        let classes = Array(Set(names)).sorted()
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int32($0)) })
        return EmbeddingSet(path: db.path, backbone: backbone, classes: classes, vectors: vectors,
                            labels: names.map { index[$0]! }, imageIDs: imageIDs, partitions: partitions,
                            views: views, paths: paths)
    }
}

/// Model inputs with labels, contiguous and row-major: vectors, or flattened feature maps.
public struct LabeledMatrix: Sendable {
    public var x: [Float]
    public var labels: [Int32]
    /// Floats per row.
    public let width: Int
    /// For each row, its index in the `EmbeddingSet` it came from.
    public var sourceRows: [Int]
    public var rows: Int { labels.count }

    public init(x: [Float], labels: [Int32], width: Int, sourceRows: [Int]) {
        precondition(x.count == labels.count * width, "LabeledMatrix: \(x.count) floats for \(labels.count) rows of \(width)")
        self.x = x
        self.labels = labels
        self.width = width
        self.sourceRows = sourceRows
    }

    /// No rows.
    public static func empty(width: Int) -> LabeledMatrix { LabeledMatrix(x: [], labels: [], width: width, sourceRows: []) }
}

/// What one training run sees: train rows (all chosen views), val and test rows (original view).
public struct TrainingData: Sendable {
    public let classes: [String]
    /// Width of the Dense layer's input (the embedding).
    public let dim: Int
    /// The shape of each row's feature map for a model that reads maps; nil when rows are vectors.
    public let map: MapShape?
    public let train: LabeledMatrix
    public let val: LabeledMatrix
    public let test: LabeledMatrix

    public init(classes: [String], dim: Int, map: MapShape? = nil, train: LabeledMatrix, val: LabeledMatrix, test: LabeledMatrix) {
        let width = map?.count ?? dim
        precondition([train, val, test].allSatisfy { $0.width == width }, "TrainingData: rows of \(train.width), \(val.width), \(test.width) floats, expected \(width)")
        self.classes = classes
        self.dim = dim
        self.map = map
        self.train = train
        self.val = val
        self.test = test
    }

    /// Floats per row.
    public var width: Int { map?.count ?? dim }
}

extension EmbeddingSet {
    /// Train rows of `trainViews`, val and test rows of the original view; every class must
    /// have training rows.
    public func trainingData(trainViews: [View]) throws -> TrainingData {
        let train = rows(in: .train, views: trainViews)
        for view in trainViews where !train.contains(where: { views[$0] == view }) {
            throw HeadError.invalid("\(path): no \(view.rawValue) vectors in the train split of backbone \(backbone.id); extract them first or drop \(view.rawValue) from --train-views")
        }
        try checkEveryClassHasTrainingRows(train)
        return TrainingData(classes: classes, dim: dim, train: matrix(train),
                            val: matrix(rows(in: .val, views: [.orig])), test: matrix(rows(in: .test, views: [.orig])))
    }

    func checkEveryClassHasTrainingRows(_ train: [Int]) throws {
        var counts = [Int](repeating: 0, count: classes.count)
        for i in train { counts[Int(labels[i])] += 1 }
        if let empty = counts.firstIndex(of: 0) {
            var bySplit: [Split: Int] = [:]
            for i in 0..<count where labels[i] == Int32(empty) && views[i] == .orig { bySplit[partitions[i], default: 0] += 1 }
            let detail = Split.allCases.map { "\(bySplit[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
            throw HeadError.invalid("\(path): class '\(classes[empty])' has no training images (\(detail)); a head cannot learn it")
        }
    }
}
