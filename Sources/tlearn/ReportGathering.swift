import Formats
import Foundation
import Head
import Kernels
import Report
import Store
import VectorSQL

/// Which run a report is about.
enum ReportSubject {
    /// The newest sweep's chosen run, else the newest trained head, else none.
    case automatic
    case run(String)
    case sweep(Int64)
}

/// Fixed choices of the page, stated on it.
enum ReportLimits {
    /// Cosine at which two images count as near-duplicates: what `tlearn duplicates --help` advises
    /// for crops and recolourings of one photo (its 0.98 default finds only copies and re-encodings),
    /// the kind of near-copy that leaks a test image into training.
    static let duplicateThreshold = 0.9
    static let leakPairs = 24
    static let mistakes = 400
    static let failuresPerReason = 50
    static let leaderboardRows = 10
    /// Beyond this many vectors the map shows a regular sample (plus every misclassified one).
    static let mapPoints = 6000
}

/// Reads everything the page shows from a database with today's types (RunStore, EmbeddingSet,
/// StoredModel.evaluate, CosineSearch) and maps it to the Report module's plain values.
struct ReportGatherer {
    let databasePath: String
    let db: Connection
    /// `--images`, else the database's `meta.root`.
    let imageRoot: String?
    private var tiles: ReportTiles

    init(databasePath: String, images: String?) throws {
        self.databasePath = databasePath
        db = try EmbeddingStore.open(databasePath, readOnly: true)
        imageRoot = try images ?? db.scalar("SELECT value FROM meta WHERE key = 'root'")?.string
        tiles = ReportTiles(root: imageRoot)
    }

    /// The run the page is about; nil when the database has no trained run (and none was asked for).
    func chooseRun(_ subject: ReportSubject) throws -> StoredRun? {
        switch subject {
        case .run(let selector):
            return try RunStore.load(RunStore.resolve(selector, in: db), from: db)
        case .sweep(let id):
            guard let row = try db.rows("SELECT best_run_id FROM sweeps WHERE id = ?1", [.integer(id)]).first else {
                throw HeadError.invalid("no sweep \(id) in \(databasePath) (see `tlearn runs --db \(databasePath)`)")
            }
            guard let best = row[0].int else { throw HeadError.invalid("\(databasePath): sweep \(id) has no best run") }
            return try RunStore.load(best, from: db)
        case .automatic:
            if let best = try db.scalar(
                "SELECT best_run_id FROM sweeps WHERE best_run_id IS NOT NULL ORDER BY id DESC LIMIT 1")?.int
            {
                return try RunStore.load(best, from: db)
            }
            guard
                let latest = try db.scalar(
                    "SELECT id FROM runs WHERE json_extract(config, '$.model') IN ('softmax', 'finetune') ORDER BY id DESC LIMIT 1"
                )?
                .int
            else { return nil }
            return try RunStore.load(latest, from: db)
        }
    }

    mutating func gather(_ subject: ReportSubject) throws -> ReportContent {
        var page = ReportContent()
        page.database = databasePath
        page.generatedAt = ISO8601DateFormatter().string(from: Date())
        let run = try chooseRun(subject)
        let head = try run.map { try $0.trainedModel(in: db) }
        let backbone = try run.map(\.backboneID) ?? defaultBackbone()
        page.dataset = try dataset(backbone: backbone)
        // Vectors that cannot be read leave the Dataset section and say why elsewhere.
        var set: EmbeddingSet?
        var vectorProblem = "No vectors to map: the database has no embeddings."
        if let backbone {
            do { set = try EmbeddingSet.load(from: db, backbone: backbone, maps: head?.kind.readsMaps ?? false) } catch
            { vectorProblem = "\(error)" }
        }
        var evaluation: Evaluation?
        // Why Results is empty, as the page says it.
        var noResults = "No results: \(set == nil ? vectorProblem : "no run to evaluate")."
        if let run {
            page.dataBlocks.append(DataBlock(id: "tlearn-run", json: try headJSON(RunListEntry(run))))
        }
        if let run, let head, let set {
            do { evaluation = try head.evaluate(on: set, partition: .test) } catch {
                noResults = "No results: \(error)."
            }
            if let evaluation {
                page.dataBlocks.append(
                    DataBlock(
                        id: "tlearn-evaluate",
                        json: try headJSON(
                            EvaluationReport(runID: run.id, evaluation: evaluation, listMisclassified: true, tta: false)
                        )))
            }
        }
        if let run {
            let sweep = run.sweepID.map { " of sweep \($0)" } ?? ""
            page.subject = "run \(run.id)\(sweep): \((try? run.trainingConfig()).map(describe) ?? run.configJSON)"
            page.training = .shown(try training(run, set: set))
        } else {
            let classes = page.dataset.classes.map(\.name)
            let reason =
                classes.count == 1
                ? "Only one class (\(classes[0])): a classifier needs two or more, so there are no runs to show."
                : try db.scalar("SELECT count(*) FROM runs")?.int ?? 0 == 0
                    ? "No runs yet: train a head with `tlearn train-head --db \(databasePath)` or `tlearn sweep`."
                    : "No trained head in this database (only baselines); train one with `tlearn train-head`."
            page.subject = "no run"
            page.training = .empty(reason)
            noResults = reason
        }
        if let run, let set, let evaluation {
            page.results = .shown(try results(evaluation, run: run, set: set))
        } else {
            page.results = .empty(noResults)
        }
        page.embedding = set.map { embeddingMap($0, evaluation: evaluation) } ?? .empty(vectorProblem)
        if tiles.missing > 0 {
            page.dataset.notes.append(
                "\(tiles.missing) of the image files shown on this page were not found"
                    + (imageRoot.map { " under \($0)" } ?? "")
                    + "; they appear as grey placeholders (pass --images DIR if the photos moved).")
        }
        page.dataBlocks.append(
            DataBlock(
                id: "tlearn-report",
                json: try headJSON(
                    PageFacts(
                        database: databasePath, runID: run?.id, sweepID: run?.sweepID, backboneID: backbone,
                        duplicateThreshold: ReportLimits.duplicateThreshold, imageRoot: imageRoot))))
        return page
    }

    /// Without a run: the only backbone with vectors, else the one with the most.
    func defaultBackbone() throws -> Int64? {
        try BackboneInfo.all(db).filter { $0.vectors > 0 }.max { ($0.vectors, -$0.id) < ($1.vectors, -$1.id) }?.id
    }

    // MARK: Dataset

    mutating func dataset(backbone: Int64?) throws -> DatasetContent {
        let info = try DatabaseInfo.read(databasePath)
        var d = DatasetContent()
        d.imageRoot = imageRoot
        d.classes = info.classes.map { ClassCounts(name: $0.name, train: $0.train, val: $0.val, test: $0.test) }
        d.backbones = info.backbones.map { b in
            var c = BackboneContent()
            c.id = b.id
            c.weightsName = b.key.weightsName ?? "?"
            c.weightsSHA256 = b.key.weightsSHA256
            c.alpha = Double(Float(b.key.alpha))  // stored from a Float32: 0.35, not 0.3499999940395355
            c.inputSize = b.key.inputSize
            c.dim = b.key.dim
            c.preprocessing = b.key.preprocessing
            c.views = b.views
            return c
        }
        // The maps table comes with `extract --maps`; older databases have none.
        if try db.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'maps'")?.int ?? 0 > 0 {
            d.maps = Int(try db.scalar("SELECT count(*) FROM maps")?.int ?? 0)
        }
        d.failures = try info.failures.map { f in
            let files = try db.rows(
                "SELECT path, message FROM failures WHERE reason = ?1 ORDER BY path LIMIT ?2",
                [.text(f.reason), .integer(Int64(ReportLimits.failuresPerReason))]
            )
            .map { (path: $0[0].string ?? "", message: $0[1].string ?? "") }
            return FailureGroup(reason: f.reason, count: f.count, files: files)
        }
        d.duplicates = .empty("No vectors, so no duplicates to look for.")
        if let backbone {
            do { d.duplicates = try duplicates(backbone: backbone) } catch { d.duplicates = .empty("\(error)") }
        }
        return d
    }

    /// Pairs at or above the threshold, as `tlearn duplicates` finds them, and the leaks among them.
    mutating func duplicates(backbone: Int64) throws -> Part<DuplicatesContent> {
        let matrix = try VectorMatrix.load(db, backbone: backbone, view: "orig")
        guard matrix.count > 1 else { return .empty("Fewer than two images have vectors: no pairs to compare.") }
        let pairs: [(Int, Int, Double)]
        do { pairs = try CosineSearch(matrix).pairs(atLeast: ReportLimits.duplicateThreshold) } catch {
            return .empty("\(error)")
        }
        let leaks = pairs.filter { matrix.splits[$0.0] != matrix.splits[$0.1] }
        var d = DuplicatesContent()
        d.threshold = ReportLimits.duplicateThreshold
        d.images = matrix.count
        d.pairs = pairs.count
        d.leakCount = leaks.count
        let shown = Array(leaks.prefix(ReportLimits.leakPairs))
        tiles.make(shown.flatMap { [matrix.paths[$0.0], matrix.paths[$0.1]] })
        d.leaks = shown.map { i, j, cosine in
            LeakPair(
                cosine: cosine, a: tiles[matrix.paths[i]], b: tiles[matrix.paths[j]], labelA: matrix.labels[i],
                labelB: matrix.labels[j], splitA: matrix.splits[i], splitB: matrix.splits[j])
        }
        return .shown(d)
    }

    // MARK: Training

    func training(_ run: StoredRun, set: EmbeddingSet?) throws -> TrainingContent {
        var t = TrainingContent()
        t.runID = run.id
        t.summary = (try? run.trainingConfig()).map(describe) ?? run.configJSON
        t.createdAt = run.createdAt
        t.seconds = run.seconds
        t.settings = settings(run.configJSON)
        let metrics = try? RunStore.metrics(of: run)
        // A sweep's refit trained on train+val, so it has no val curve: show the chosen point's, which it repeats.
        let curveRun = try metrics?.refitOf.map { try RunStore.load($0, from: db) } ?? run
        let curveMetrics = curveRun.id == run.id ? metrics : try? RunStore.metrics(of: curveRun)
        t.curve = try RunStore.epochs(of: curveRun.id, in: db).map {
            EpochPoint(
                epoch: $0.epoch, trainLoss: $0.trainLoss, trainAccuracy: $0.trainAccuracy, valLoss: $0.valLoss,
                valAccuracy: $0.valAccuracy)
        }
        if curveRun.id != run.id {
            t.notes.append(
                "Run \(run.id) is the sweep's refit: the config of run \(curveRun.id), chosen on validation, trained again "
                    + "on train+val for \(metrics?.weightsEpoch ?? 0) epochs. The curves are run \(curveRun.id)'s, which had a val split."
            )
        }
        t.keptEpoch = curveMetrics?.weightsEpoch
        t.stoppedEpoch = curveMetrics?.stoppedEpoch
        t.valAccuracy = run.valAccuracy
        t.valLoss = run.valLoss
        t.testAccuracy = run.testAccuracy
        if let set, set.fingerprint != run.splitFingerprint {
            t.notes.append(
                "The images or splits changed since run \(run.id) was trained (split fingerprint \(set.fingerprint), "
                    + "run has \(run.splitFingerprint)): test images may have been training images."
            )
        }
        if let id = run.sweepID { t.sweep = try sweep(id, chosen: run.id) }
        return t
    }

    /// `runs.config` as rows: every key, numbers written as on the command line.
    func settings(_ json: String) -> [(key: String, value: String)] {
        guard case .object(let o)? = try? JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)) else {
            return [("config", json)]
        }
        func text(_ v: JSONValue) -> String {
            switch v {
            case .null: "none"
            case .bool(let b): b ? "yes" : "no"
            case .int(let i): "\(i)"
            case .double(let d): compact(d)
            case .string(let s): s
            case .array(let a): a.map(text).joined(separator: ",")
            case .object(let o): o.keys.sorted().map { "\($0)=\(text(o[$0]!))" }.joined(separator: ", ")
            }
        }
        return o.keys.sorted().map { ($0, text(o[$0]!)) }
    }

    func sweep(_ id: Int64, chosen: Int64) throws -> Part<SweepContent> {
        guard let row = try db.rows("SELECT created_at, grid FROM sweeps WHERE id = ?1", [.integer(id)]).first else {
            return .empty("Run \(chosen) names sweep \(id), which is not in the sweeps table.")
        }
        // A sweep over one model kind stores its grid; over several, {"grids": [...]}: the axes then come from the runs.
        let grid = try? JSONDecoder().decode(SweepGrid.self, from: Data((row[1].string ?? "").utf8))
        let all = try RunStore.list(in: db, sweep: id).runs
        func refitOf(_ r: StoredRun) -> Int64? { (try? RunStore.metrics(of: r))?.refitOf }
        let runs = all.filter { $0.kind.isTrained && refitOf($0) == nil }
        let chosen = all.first { $0.id == chosen }.flatMap(refitOf) ?? chosen
        // Each axis's values as the grid lists them (from the runs when the grid is unreadable).
        let settings: [(name: String, grid: [String]?, of: (StoredConfig) -> String)] = [
            ("model", grid?.models.map(\.rawValue), { ($0.model ?? .softmax).rawValue }),
            ("optimizer", grid?.optimizers.map(\.rawValue), { $0.optimizer?.rawValue ?? "-" }),
            ("lr", grid?.learningRates.map(compact), { $0.lr.map(compact) ?? "-" }),
            ("epochs", grid?.epochs.map { "\($0)" }, { $0.epochs.map { "\($0)" } ?? "-" }),
            ("batch size", grid?.batchSizes.map { "\($0)" }, { $0.batchSize.map { "\($0)" } ?? "-" }),
            ("l2", grid?.l2s.map(compact), { $0.l2.map(compact) ?? "-" }),
            ("label smoothing", grid?.labelSmoothings.map(compact), { $0.labelSmoothing.map(compact) ?? "-" }),
            ("dropout", grid?.dropouts.map(compact), { compact($0.dropout ?? 0) }),
        ]
        let axes = settings.map { s in
            var values: [String] = []
            for v in s.grid ?? runs.map({ s.of($0.config) }) where !values.contains(v) { values.append(v) }
            return SweepAxis(name: s.name, values: values)
        }
        let points = runs.map { r in
            let cv = (try? JSONDecoder().decode(RunMetrics.self, from: Data(r.metricsJSON.utf8)))?.crossValidation
            return SweepRun(
                runID: r.id, settings: settings.map { $0.of(r.config) }, valAccuracy: r.valAccuracy,
                valLoss: r.valLoss, cv: cv.map { ($0.meanAccuracy, $0.meanLoss) })
        }
        // Ranked as the sweep ranked them: by its --select (sweeps from before it existed: accuracy).
        struct Plan: Decodable {
            struct Settings: Decodable {
                let select: SweepSelection?
                let folds: Int?
            }
            let settings: Settings?
        }
        let plan = try? JSONDecoder().decode(Plan.self, from: Data((row[1].string ?? "").utf8))
        let select = plan?.settings?.select ?? .accuracy
        let order = select.ranking(
            points.map { p in p.cv.map { ($0.accuracy, $0.loss) } ?? (p.valAccuracy, p.valLoss) })
        let rankedBy = "\(points.contains { $0.cv != nil } ? "mean cross-validation" : "val") \(select.description)"
        let baselines = all.filter { !$0.kind.isTrained }.map { r in
            BaselineRow(
                runID: r.id, name: r.kind == .knn ? "\(r.config.k ?? 0)-NN (cosine)" : "nearest centroid (cosine)",
                valAccuracy: r.valAccuracy, testAccuracy: r.testAccuracy)
        }
        return .shown(
            SweepContent(
                id: id, createdAt: row[0].string ?? "", axes: axes, runs: order.map { points[$0] }, rankedBy: rankedBy,
                chosen: chosen,
                baselines: baselines, leaderboardRows: ReportLimits.leaderboardRows))
    }

    // MARK: Results

    mutating func results(_ e: Evaluation, run: StoredRun, set: EmbeddingSet) throws -> ResultsContent {
        var r = ResultsContent()
        let m = e.metrics
        r.count = m.count
        r.accuracy = m.accuracy
        r.loss = m.loss
        r.macroF1 = m.macroF1
        r.perClass = m.perClass.map {
            ClassScores(name: $0.name, precision: $0.precision, recall: $0.recall, f1: $0.f1, support: $0.support)
        }
        r.confusion = m.confusion
        r.mistakeCount = e.misclassified.count
        for (name, n) in e.unknownClasses.sorted(by: { $0.key < $1.key }) {
            r.notes.append("\(n) test images of class '\(name)' left out: run \(run.id) was not trained on it.")
        }
        let wrong = e.misclassified.sorted {
            $0.probability != $1.probability ? $0.probability < $1.probability : $0.path < $1.path
        }
        .prefix(ReportLimits.mistakes)
        tiles.make(wrong.map(\.path))
        r.mistakes = wrong.map {
            Mistake(
                image: tiles[$0.path], trueClass: $0.trueClass, predicted: $0.predicted, probability: $0.probability)
        }
        return r
    }

    // MARK: Embedding map

    func embeddingMap(_ set: EmbeddingSet, evaluation: Evaluation?) -> Part<EmbeddingContent> {
        let rows = (0..<set.count).filter { set.views[$0] == .orig }
        guard rows.count >= 2 else {
            return .empty("A map needs at least two vectors; the database has \(rows.count).")
        }
        let mistaken = Dictionary(
            (evaluation?.misclassified ?? []).map { ($0.path, $0.predicted) }, uniquingKeysWith: { a, _ in a })
        let m = set.matrix(rows)
        let pca: PrincipalComponents
        do { pca = try PrincipalComponents(m.x, rows: rows.count, dim: set.dim, count: min(2, set.dim)) } catch {
            return .empty("The projection failed: \(error).")
        }
        // A regular sample beyond the limit keeps the page small; every misclassified image stays.
        let stride = max(1, (rows.count + ReportLimits.mapPoints - 1) / ReportLimits.mapPoints)
        let keep = rows.indices.filter { $0 % stride == 0 || mistaken[set.paths[rows[$0]]] != nil }
        let xy = pca.project(m.x, rows: rows.count)
        let k = pca.axes.count
        var e = EmbeddingContent()
        e.classes = set.classes
        e.points = keep.map { i in
            let row = rows[i]
            let path = set.paths[row]
            return MapPoint(
                x: xy[i * k], y: k > 1 ? xy[i * k + 1] : 0, classIndex: Int(set.labels[row]), path: path,
                split: set.partitions[row].rawValue, mistakenFor: set.partitions[row] == .test ? mistaken[path] : nil)
        }
        e.explained = pca.totalVariance > 0 ? pca.variances.map { $0 / pca.totalVariance } : []
        e.method =
            "The \(rows.count) orig vectors of backbone \(set.backbone.id) (all splits) projected on their "
            + "first two principal components (PCA)"
            + (stride > 1 ? "; every \(stride)th point is drawn (\(e.points.count) in all)." : ".")
        return .shown(e)
    }
}

/// The `tlearn-report` data block: what the page is about, for programs.
struct PageFacts: Encodable {
    let database: String
    let runID: Int64?
    let sweepID: Int64?
    let backboneID: Int64?
    let duplicateThreshold: Double
    let imageRoot: String?
    enum CodingKeys: String, CodingKey {
        case database
        case runID = "run_id"
        case sweepID = "sweep_id"
        case backboneID = "backbone_id"
        case duplicateThreshold = "duplicate_threshold"
        case imageRoot = "image_root"
    }
}
