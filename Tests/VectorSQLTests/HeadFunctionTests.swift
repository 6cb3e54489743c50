import TestSupport
import XCTest

@testable import Store
@testable import VectorSQL

final class HeadFunctionTests: XCTestCase {
    var synthetic: SyntheticDatabase!
    var db: Connection { synthetic.db }
    var backbone: Int64 = 0
    let classes = ["daisy", "roses", "tulips"]
    let dim = 11
    var w: [Float] = [], b: [Float] = []

    override func setUpWithError() throws {
        synthetic = try syntheticDB()
        try synthetic.addClasses(classes)
        backbone = try synthetic.addBackbone(dim: dim)
        var rng = SplitMix(seed: 11)
        w = rng.vector(dim * classes.count)
        b = rng.vector(classes.count)
    }

    override func tearDown() { if let synthetic { removeDatabase(synthetic.path) } }

    /// logits = x W + b and softmax, in Double, written out independently.
    func reference(_ x: [Float], w: [Float], b: [Float]) -> [Double] {
        let n = b.count
        let z = (0..<n).map { j in (0..<x.count).reduce(Double(b[j])) { $0 + Double(x[$1]) * Double(w[$1 * n + j]) } }
        let m = z.max()!
        let e = z.map { Foundation.exp($0 - m) }
        return e.map { $0 / e.reduce(0, +) }
    }

    func testPredictAndProbaMatchReference() throws {
        let run = try synthetic.addRun(backbone: backbone, classes: classes, dim: dim, w: w, b: b)
        var rng = SplitMix(seed: 5)
        for _ in 0..<20 {
            let x = rng.vector(dim).map { max(0, $0) * 6 }
            let p = reference(x, w: w, b: b)
            let best = p.indices.max { p[$0] < p[$1] }!
            XCTAssertEqual(
                try db.scalar("SELECT head_predict(?1, ?2)", [.integer(run), blob(x)])?.string, classes[best])
            for (j, c) in classes.enumerated() {
                assertClose(
                    try db.scalar("SELECT head_proba(?1, ?2, ?3)", [.integer(run), blob(x), .text(c)])?.double, p[j],
                    rtol: 1e-12, atol: 1e-15, c)
            }
        }
    }

    func testCacheSeesAnUpdatedHead() throws {
        let run = try synthetic.addRun(backbone: backbone, classes: classes, dim: dim, w: w, b: b)
        let x = [Float](repeating: 0, count: dim)
        // With x = 0 the prediction is argmax(b); swap b so the winner changes.
        let first = try db.scalar("SELECT head_predict(?1, ?2)", [.integer(run), blob(x)])?.string
        XCTAssertEqual(first, classes[b.indices.max { b[$0] < b[$1] }!])
        var b2 = b
        let lowest = b.indices.min { b[$0] < b[$1] }!
        b2[lowest] = 100
        try db.run("UPDATE runs SET head = ?2 WHERE id = ?1", [.integer(run), blob(w + b2)])
        XCTAssertEqual(try db.scalar("SELECT head_predict(?1, ?2)", [.integer(run), blob(x)])?.string, classes[lowest])
        // Another connection's commit is seen too.
        let other = try Database.open(synthetic.path)
        try other.run("DELETE FROM runs WHERE id = ?1", [.integer(run)])
        assertSQLError(db, "SELECT head_predict(?1, ?2)", [.integer(run), blob(x)], contains: "no run with id \(run)")
    }

    func testRunIDFromAColumnUsesEachRunsHead() throws {
        // The run id is not constant here, so the per-statement cache must not mix the heads.
        let first = try synthetic.addRun(backbone: backbone, classes: classes, dim: dim, w: w, b: b)
        let second = try synthetic.addRun(
            backbone: backbone, classes: classes, dim: dim, w: w.map { -$0 }, b: b.map { -$0 })
        var rng = SplitMix(seed: 8)
        try db.execute("CREATE TEMP TABLE xs(v BLOB)")
        var xs: [[Float]] = []
        for _ in 0..<10 {
            let x = rng.vector(dim)
            xs.append(x)
            try db.run("INSERT INTO xs VALUES (?1)", [blob(x)])
        }
        let rows = try db.rows(
            "SELECT r.id, x.v, head_proba(r.id, x.v, 'roses') FROM xs x CROSS JOIN runs r ORDER BY x.rowid, r.id")
        XCTAssertEqual(rows.count, 20)
        for (n, row) in rows.enumerated() {
            let x = xs[n / 2]
            let run = row[0].int!
            XCTAssertEqual(run, n % 2 == 0 ? first : second)
            let p = run == first ? reference(x, w: w, b: b) : reference(x, w: w.map { -$0 }, b: b.map { -$0 })
            assertClose(row[2].double, p[1], rtol: 1e-12, atol: 1e-15, "run \(run) row \(n)")
        }
    }

    func testBadHeadArgumentsRaiseClearErrors() throws {
        let run = try synthetic.addRun(backbone: backbone, classes: classes, dim: dim, w: w, b: b)
        let x = blob([Float](repeating: 1, count: dim))
        assertSQLError(
            db, "SELECT head_predict(999, ?1)", [x], contains: "head_predict: no run with id 999 in table runs")
        assertSQLError(
            db, "SELECT head_proba(?1, ?2, 'rose')", [.integer(run), x],
            contains: "head_proba: class 'rose' is not in run \(run) (classes: daisy, roses, tulips)")
        assertSQLError(
            db, "SELECT head_predict(?1, ?2)", [.integer(run), blob([1, 2])],
            contains: "head_predict: vector has 2 floats but run \(run) was trained on \(dim)")
        assertSQLError(
            db, "SELECT head_predict('one', ?1)", [x],
            contains: "head_predict: argument 1 (run id) is TEXT; expected an integer")
        assertSQLError(
            db, "SELECT head_predict(?1, 'v')", [.integer(run)],
            contains: "head_predict: argument 2 is TEXT; expected a BLOB")
        assertSQLError(
            db, "SELECT head_proba(?1, ?2, 3)", [.integer(run), x],
            contains: "head_proba: argument 3 (class name) is INTEGER; expected TEXT")
        let bad = try synthetic.addRun(backbone: backbone, classes: classes, dim: dim, w: w, b: [1])
        assertSQLError(
            db, "SELECT head_predict(?1, ?2)", [.integer(bad), x],
            contains: "run \(bad): the head BLOB is 136 bytes; a softmax model of dim 11 and 3 classes needs 144")
        try db.run("UPDATE runs SET head = X'' WHERE id = ?1", [.integer(bad)])
        assertSQLError(
            db, "SELECT head_proba(?1, ?2, 'roses')", [.integer(bad), x],
            contains: "run \(bad) stores no head weights (a baseline such as k-NN)")
        try db.run("UPDATE runs SET classes = 'daisy' WHERE id = ?1", [.integer(bad)])
        assertSQLError(
            db, "SELECT head_predict(?1, ?2)", [.integer(bad), x],
            contains: "run \(bad): classes is not a JSON array of names")
        let plain = try Connection(path: ":memory:")
        try VectorSQL.register(on: plain.handle)
        assertSQLError(
            plain, "SELECT head_predict(1, ?1)", [x], contains: "head_predict: cannot read run 1: no such table: runs")
    }

    func testClassNamesWithJSONEscapesAreRead() throws {
        let names = ["a \"quoted\" name", "back\\slash", "caf\u{e9} \u{1F33C}"]
        let json = #"["a \"quoted\" name","back\\slash","caf\u00e9 \ud83c\udf3c"]"#
        try db.run(
            """
            INSERT INTO runs(backbone_id, config, seed, split_fingerprint, classes, dim, head, metrics, seconds)
            VALUES (?1, '{}', 1, 'fp', ?2, 1, ?3, '{}', 0)
            """, [.integer(backbone), .text(json), blob([0, 0, 0, 1, 2, 3])])
        let run = db.lastInsertRowID
        XCTAssertEqual(try db.scalar("SELECT head_predict(?1, ?2)", [.integer(run), blob([1])])?.string, names[2])
        assertClose(
            try db.scalar("SELECT head_proba(?1, ?2, ?3)", [.integer(run), blob([1]), .text(names[0])])?.double,
            Foundation.exp(1) / (Foundation.exp(1) + Foundation.exp(2) + Foundation.exp(3)))
    }
}
