import XCTest

@testable import Report

/// Leaderboard rows and heatmap cells of `SweepContent(…runs:…)` on hand-made runs.
final class SweepSummaryTests: XCTestCase {
    let axes = [
        SweepAxis(name: "optimizer", values: ["adam"]), SweepAxis(name: "lr", values: ["1e-3", "1e-2"]),
        SweepAxis(name: "epochs", values: ["5", "10"]), SweepAxis(name: "batch size", values: ["16", "32"]),
    ]

    /// Run ids 1...8 over lr x epochs x batch, val accuracy from `accuracy(id)`.
    func runs(_ accuracy: (Int64) -> Double?, loss: (Int64) -> Double? = { _ in 0.5 }) -> [SweepRun] {
        var out: [SweepRun] = []
        var id: Int64 = 0
        for lr in ["1e-3", "1e-2"] {
            for epochs in ["5", "10"] {
                for batch in ["16", "32"] {
                    id += 1
                    out.append(
                        SweepRun(
                            runID: id, settings: ["adam", lr, epochs, batch], valAccuracy: accuracy(id),
                            valLoss: loss(id), cv: nil))
                }
            }
        }
        return out
    }

    func testLeaderboardKeepsTheSweepsOrderAndAppendsTheChosenRun() {
        let r = runs { Double($0) / 10 }
        let order = [3, 2, 1, 6, 5, 8, 4, 7].map { r[$0 - 1] }
        let w = SweepContent(
            id: 1, createdAt: "", axes: axes, runs: order, rankedBy: "val loss, then accuracy", chosen: 8,
            baselines: [], leaderboardRows: 4)
        XCTAssertEqual(w.leaderboard.map(\.runID), [3, 2, 1, 6, 8], "the top 4 as given, then the chosen run")
        XCTAssertEqual(w.leaderboard.map(\.rank), [1, 2, 3, 4, 6])
        XCTAssertEqual(w.settingNames, ["lr", "epochs", "batch size"], "single-value optimizer left out")
        XCTAssertEqual(w.leaderboard[0].settings, ["1e-3", "10", "16"])
        XCTAssertEqual(w.leaderboard[0].valAccuracy, 0.3)
        XCTAssertEqual(w.rankedBy, "val loss, then accuracy")
        XCTAssertEqual(w.runCount, 8)
    }

    func testCrossValidatedRunsShowTheirMeanFoldAccuracy() {
        var r = runs { _ in 0.5 }
        r[6] = SweepRun(runID: 7, settings: r[6].settings, valAccuracy: 0.1, valLoss: 9, cv: (0.99, 0.1))
        let w = SweepContent(
            id: 1, createdAt: "", axes: axes, runs: [r[6]] + r.prefix(6),
            rankedBy: "mean cross-validation loss, then accuracy",
            chosen: 7, baselines: [])
        XCTAssertEqual(w.leaderboard.first?.runID, 7)
        XCTAssertEqual(w.leaderboard.first?.cvAccuracy, 0.99)
        XCTAssertEqual(w.leaderboard.first?.valAccuracy, 0.1)
    }

    func testHeatmapIsTheBestRunPerLearningRateAndEpochs() throws {
        let w = SweepContent(
            id: 1, createdAt: "", axes: axes, runs: runs { Double($0) / 10 }, rankedBy: "", chosen: 1, baselines: [])
        guard case .shown(let h) = w.heatmap else { return XCTFail("no heatmap") }
        XCTAssertEqual(h.yName, "lr")
        XCTAssertEqual(h.xName, "epochs")
        XCTAssertEqual(h.accuracy, [[0.2, 0.4], [0.6, 0.8]])
        XCTAssertEqual(h.bestRun, [[2, 4], [6, 8]])
        XCTAssertEqual(h.runsPerCell, 2)
    }

    func testHeatmapFallsBackToTheAxesThatVary() throws {
        let flat = [
            SweepAxis(name: "lr", values: ["1e-3"]), SweepAxis(name: "epochs", values: ["5"]),
            SweepAxis(name: "batch size", values: ["16", "32", "64"]), SweepAxis(name: "l2", values: ["0", "1e-4"]),
        ]
        let r = (0..<6).map { i in
            SweepRun(
                runID: Int64(i + 1), settings: ["1e-3", "5", ["16", "32", "64"][i % 3], ["0", "1e-4"][i / 3]],
                valAccuracy: Double(i), valLoss: 1, cv: nil)
        }
        let w = SweepContent(id: 1, createdAt: "", axes: flat, runs: r, rankedBy: "", chosen: 1, baselines: [])
        guard case .shown(let h) = w.heatmap else { return XCTFail("no heatmap") }
        XCTAssertEqual([h.yName, h.xName], ["batch size", "l2"])
        XCTAssertEqual(h.accuracy, [[0, 3], [1, 4], [2, 5]])
        let unscored = r.map {
            SweepRun(runID: $0.runID, settings: $0.settings, valAccuracy: nil, valLoss: nil, cv: nil)
        }
        let none = SweepContent(
            id: 1, createdAt: "", axes: flat, runs: unscored, rankedBy: "", chosen: 1, baselines: [])
        guard case .empty = none.heatmap else { return XCTFail("runs without val accuracy give no heatmap") }
    }
}
