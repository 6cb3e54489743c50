import XCTest

@testable import Formats
@testable import Head
@testable import Store

final class RunStoreTests: XCTestCase {
    func testLoadingReadsEveryVectorWithLabelsAndSplits() throws {
        let s = Synthetic(dim: 8, perClass: [12, 9], classNames: ["tulips", "daisy"])
        let db = try s.write(to: temporaryDatabasePath(), hflip: true)
        let set = try EmbeddingSet.load(from: db)
        XCTAssertEqual(set.classes, ["daisy", "tulips"], "logit order is sorted by name")
        XCTAssertEqual(set.count, 42)
        let first = set.rows(in: .train, views: [.orig]).first!
        XCTAssertEqual(Array(UnsafeBufferPointer(start: set.vectors.row(first), count: 8)), s.vectors[0])
        XCTAssertEqual(set.labels[first], 1)
        let data = try set.trainingData(trainViews: [.orig, .hflip])
        XCTAssertEqual(data.train.rows, 2 * s.splits.filter { $0 == .train }.count)
        XCTAssertEqual(data.val.rows, s.splits.filter { $0 == .val }.count)
        XCTAssertEqual(set.fingerprint.count, 16)
    }

    func testSavedRunReloadsAndPredictsIdentically() throws {
        let s = Synthetic(dim: 10, perClass: [30, 30, 30])
        let db = try s.write(to: temporaryDatabasePath())
        let set = try EmbeddingSet.load(from: db)
        let data = try set.trainingData(trainViews: [.orig])
        var config = TrainingConfig()
        config.epochs = 3
        let run = try trainAndEvaluate(data, config: config)[0]
        let id = try RunStore.save(run, context: RunContext(set), in: db)
        let stored = try RunStore.load(id, from: db)
        let model = try stored.trainedModel(in: db)
        XCTAssertEqual(model, run.model)
        XCTAssertEqual(model.probabilities(data.test.x), run.model.probabilities(data.test.x))
        XCTAssertEqual(try stored.trainingConfig(), config)
        XCTAssertEqual(stored.testAccuracy, run.test!.accuracy)
        XCTAssertEqual(stored.splitFingerprint, set.fingerprint)
        XCTAssertEqual(try RunStore.epochs(of: id, in: db), run.checkpoint.history)
        // The BLOB is W (dim x classes) row-major then b, float32 little-endian.
        let blob = try db.scalar("SELECT head FROM runs WHERE id = ?1", [.integer(id)])
        guard case .blob(let bytes)? = blob else { return XCTFail("no head BLOB") }
        XCTAssertEqual(bytes.count, 4 * (10 * 3 + 3))
        let w01 = bytes[4..<8].withUnsafeBytes { $0.loadUnaligned(as: Float.self) }
        XCTAssertEqual(w01, run.model.parameters[1])
    }

    func testUnknownRunIsOneClearLine() throws {
        let db = try Synthetic(dim: 4, perClass: [3, 3]).write(to: temporaryDatabasePath("r.sqlite"))
        XCTAssertThrowsError(try RunStore.load(7, from: db)) { error in
            XCTAssertTrue("\(error)".hasPrefix("no run 7 in "), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
    }

    func testDatabaseWithoutVectorsIsOneClearLine() throws {
        let path = temporaryDatabasePath("empty.sqlite")
        let db = try Database.open(path)
        XCTAssertThrowsError(try EmbeddingSet.load(from: db)) { error in
            XCTAssertEqual(
                "\(error)",
                "\(path) has no embeddings: run `tlearn extract --images DIR --weights FILE --db \(path)` first")
        }
    }

    func testClassWithoutTrainingRowsIsOneClearLine() throws {
        var s = Synthetic(dim: 4, perClass: [10, 10], classNames: ["a", "b"])
        for i in s.splits.indices where s.labels[i] == 1 && s.splits[i] == .train { s.splits[i] = .test }
        let path = temporaryDatabasePath()
        let db = try s.write(to: path)
        XCTAssertThrowsError(try EmbeddingSet.load(from: db).trainingData(trainViews: [.orig])) { error in
            XCTAssertEqual(
                "\(error)", "\(path): class 'b' has no training images (0 train, 1 val, 9 test); a head cannot learn it"
            )
        }
    }

    func testSeveralBackbonesNeedAChoice() throws {
        let path = temporaryDatabasePath()
        _ = try Synthetic(dim: 4, perClass: [5, 5]).write(to: path, backboneID: 1)
        let db = try Synthetic(dim: 6, perClass: [5, 5]).write(to: path, backboneID: 2)
        XCTAssertThrowsError(try EmbeddingSet.load(from: db)) { error in
            XCTAssertTrue(
                "\(error)".contains(
                    "holds vectors of 2 backbones: backbone 1 (synthetic.h5, 224 px, test, 10 vectors); backbone 2"),
                "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("choose one with --backbone ID"))
        }
        XCTAssertEqual(try EmbeddingSet.load(from: db, backbone: 2).dim, 6)
    }
}

final class RunSelectorTests: XCTestCase {
    func testLatestBestAndIDsResolve() throws {
        let s = Synthetic(dim: 6, perClass: [20, 20])
        let db = try s.write(to: temporaryDatabasePath())
        XCTAssertThrowsError(try RunStore.resolve("latest", in: db)) {
            XCTAssertTrue("\($0)".contains("has no trained runs yet"), "\($0)")
        }
        XCTAssertThrowsError(try RunStore.resolve("best", in: db)) {
            XCTAssertTrue("\($0)".contains("has no sweeps yet"), "\($0)")
        }
        XCTAssertThrowsError(try RunStore.resolve("first", in: db)) {
            XCTAssertEqual("\($0)", "'first' is not a run: give a run id (see `tlearn runs`), latest or best")
        }
        let set = try EmbeddingSet.load(from: db)
        let data = try set.trainingData(trainViews: [.orig])
        let context = RunContext(set)
        let sweep = try RunStore.beginSweep(plan: "{}", context: context, in: db)
        XCTAssertFalse(sweep.resumed)
        let box = DatabaseBox(db)
        let outcome = try runSweep(
            SweepInputs(data: [.softmax: data]), grids: [SweepGrid(learningRates: [0.01, 0.1], epochs: [2])],
            base: TrainingConfig(), jobs: 1, refit: false,
            save: { try RunStore.savePoint($0, context: context, sweepID: sweep.id, in: box.db) })
        XCTAssertThrowsError(try RunStore.resolve("best", in: db), "an unfinished sweep has no best run yet")
        let finished = try RunStore.finishSweep(outcome, sweepID: sweep.id, context: context, in: db)
        XCTAssertEqual(try RunStore.resolve("best", in: db), outcome.best.runID)
        XCTAssertEqual(finished.finalID, outcome.best.runID)
        // The baselines come last, but `latest` is the newest trained model.
        XCTAssertEqual(try RunStore.resolve("latest", in: db), outcome.points.map(\.runID).max())
        XCTAssertEqual(try RunStore.resolve("2", in: db), 2)
    }
}

/// The connection handed to a sweep's save callback (it calls it one point at a time).
struct DatabaseBox: @unchecked Sendable {
    let db: Connection
    init(_ db: Connection) { self.db = db }
}

/// Training data read through the memory-mapped matrix files equals the plain load, row for row.
final class MappedTrainingDataTests: XCTestCase {
    func testMappedLoadEqualsThePlainLoad() throws {
        let s = Synthetic(dim: 8, perClass: [12, 9, 7], classNames: ["tulips", "daisy", "roses"])
        let path = temporaryDatabasePath()
        let db = try s.write(to: path, hflip: true)
        defer { unsetenv("TLEARN_MATRIX_FILE") }
        setenv("TLEARN_MATRIX_FILE", "never", 1)
        let plain = try EmbeddingSet.load(from: db)
        XCTAssertFalse(plain.vectors.isMapped)
        setenv("TLEARN_MATRIX_FILE", "always", 1)
        let mapped = try EmbeddingSet.load(from: db)
        XCTAssertTrue(mapped.vectors.isMapped, "the matrix files were used")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + ".matrix-1-orig"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + ".matrix-1-hflip"))
        XCTAssertEqual(mapped.count, plain.count)
        XCTAssertEqual(mapped.classes, plain.classes)
        XCTAssertEqual(mapped.labels, plain.labels)
        XCTAssertEqual(mapped.imageIDs, plain.imageIDs)
        XCTAssertEqual(mapped.views, plain.views)
        XCTAssertEqual(mapped.partitions, plain.partitions)
        XCTAssertEqual(mapped.paths, plain.paths)
        for r in 0..<plain.count {
            XCTAssertEqual(
                Array(UnsafeBufferPointer(start: mapped.vectors.row(r), count: 8)),
                Array(UnsafeBufferPointer(start: plain.vectors.row(r), count: 8)), "row \(r)")
        }
        // Training on either gives the same head, bit for bit.
        var config = TrainingConfig()
        config.trainViews = [.orig, .hflip]
        let a = try trainAndEvaluate(try plain.trainingData(trainViews: config.trainViews), config: config)[0]
        let b = try trainAndEvaluate(try mapped.trainingData(trainViews: config.trainViews), config: config)[0]
        XCTAssertEqual(a.model.parameters, b.model.parameters)
        XCTAssertEqual(a.test, b.test)
        // A vector changed with plain SQL is seen: the file is rebuilt, not trusted.
        try db.run(
            "UPDATE embeddings SET vector = ?1 WHERE id = 1", [.blob(VectorBlob.bytes([Float](repeating: 7, count: 8)))]
        )
        let changed = try EmbeddingSet.load(from: db)
        let row = try XCTUnwrap(
            changed.imageIDs.indices.first { changed.imageIDs[$0] == 1 && changed.views[$0] == .orig })
        XCTAssertEqual(
            Array(UnsafeBufferPointer(start: changed.vectors.row(row), count: 8)), [Float](repeating: 7, count: 8))
    }
}
