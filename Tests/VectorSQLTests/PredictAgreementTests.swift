import TestSupport
import XCTest

@testable import Formats
@testable import Store
@testable import VectorSQL

/// `tlearn predict` applies a run with `StoredModel.probabilities` over a batch of vectors; SQL's
/// head_predict / head_proba apply it one BLOB at a time. They must give the same class always and
/// the same probabilities, near ties included.
final class PredictAgreementTests: XCTestCase {
    func testPredictAndHeadFunctionsAgreeOnRandomHeadsWithNearTies() throws {
        let synthetic = try syntheticDB()
        defer { removeDatabase(synthetic.path) }
        let db = synthetic.db
        var rng = SplitMix(seed: 2024)
        var compared = 0
        var ties = 0
        for trial in 0..<60 {
            let dim = [1, 3, 17, 64, 1280][trial % 5]
            let c = 2 + trial % 7
            let classes = (0..<c).map { "class \($0) of \(trial)" }
            try synthetic.addClasses(classes)
            let backbone = try synthetic.addBackbone(dim: dim, sha: "sha\(trial)")
            var w = rng.vector(dim * c)
            var b = rng.vector(c)
            // Near ties: class 1 copies class 0, then every third trial moves one weight by one ulp,
            // every third keeps the exact tie, and the rest nudge the bias by one ulp.
            for i in 0..<dim { w[i * c + 1] = w[i * c] }
            b[1] = b[0]
            switch trial % 3 {
            case 0: w[(dim - 1) * c + 1] = w[(dim - 1) * c].nextUp
            case 1: break
            default: b[1] = b[0].nextDown
            }
            let run = try synthetic.addRun(backbone: backbone, classes: classes, dim: dim, w: w, b: b)
            let model = try StoredModel.load(run: run, from: db)
            let rows = 8
            var x = rng.vector(rows * dim).map { max(0, $0) * 6 }
            x.replaceSubrange(0..<dim, with: repeatElement(0, count: dim))  // all zeros: logits = b exactly
            let batch = model.probabilities(x)
            for r in 0..<rows {
                let v = Array(x[(r * dim)..<((r + 1) * dim)])
                let p = Array(batch[(r * c)..<((r + 1) * c)])
                let expected = classes[argmax(model.logits(v)[...])]
                XCTAssertEqual(
                    try db.scalar("SELECT head_predict(?1, ?2)", [.integer(run), blob(v)])?.string, expected,
                    "trial \(trial) row \(r)")
                XCTAssertEqual(classes[argmax(p[...])], expected, "trial \(trial) row \(r)")
                for (j, name) in classes.enumerated() {
                    let q = try XCTUnwrap(
                        try db.scalar("SELECT head_proba(?1, ?2, ?3)", [.integer(run), blob(v), .text(name)])?.double)
                    XCTAssertEqual(q, p[j], accuracy: 1e-6, "trial \(trial) row \(r) class \(j)")
                    XCTAssertEqual(
                        q.bitPattern, p[j].bitPattern,
                        "one function, so the same bits: trial \(trial) row \(r) class \(j)")
                }
                if p[0] == p[1] { ties += 1 }
                compared += 1
            }
        }
        XCTAssertEqual(compared, 480)
        XCTAssertGreaterThan(ties, 20, "the exact-tie trials must produce tied probabilities")
    }
}
