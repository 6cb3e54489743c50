import XCTest

@testable import Head

/// The one ranking `sweep`, its leaderboard and `tlearn report` use.
final class SweepSelectionTests: XCTestCase {
    /// Points 0...7: accuracy, loss.
    let scores: [(accuracy: Double?, loss: Double?)] = [
        (0.9, 0.5), (0.9, 0.3), (0.95, 0.5), (nil, 0.5), (0.5, 0.5), (0.9, 0.5), (.nan, 0.5), (0.1, 0.5),
    ]

    func testAccuracyRanksByAccuracyThenLossThenGridOrderWithMissingLast() {
        XCTAssertEqual(SweepSelection.accuracy.ranking(scores), [2, 1, 0, 5, 4, 7, 3, 6])
    }

    func testLossRanksByLossThenAccuracyThenGridOrderWithMissingLast() {
        XCTAssertEqual(SweepSelection.loss.ranking(scores), [1, 2, 0, 5, 4, 7, 3, 6])
        let losses: [(accuracy: Double?, loss: Double?)] = [
            (0.9, .nan), (0.2, 0.7), (0.9, nil), (0.95, 0.7), (0.5, 0.1),
        ]
        XCTAssertEqual(
            SweepSelection.loss.ranking(losses), [4, 3, 1, 0, 2], "NaN and missing losses last, by accuracy")
    }

    func testDescriptionsAndRawValuesAreTheCommandLineSpelling() {
        XCTAssertEqual(SweepSelection.allCases.map(\.rawValue), ["loss", "accuracy"])
        XCTAssertEqual(SweepSelection.loss.description, "loss, then accuracy")
        XCTAssertEqual(SweepSelection.accuracy.description, "accuracy, then loss")
    }

    /// The default picks the lowest val loss: a better-scored point beats a luckier-looking one.
    func testRunSweepRanksByValLossByDefault() throws {
        let data = Synthetic(dim: 12, perClass: [40, 30, 35], spread: 1.2).trainingData
        let grid = SweepGrid(learningRates: [1e-4, 1e-2], epochs: [2, 30])
        var base = TrainingConfig()
        base.seed = 1
        for select in SweepSelection.allCases {
            let outcome = try runSweep(data, grid: grid, base: base, select: select, jobs: 2)
            let expected = select.ranking(outcome.points.map { ($0.val?.accuracy, $0.val?.loss) })
            XCTAssertEqual(outcome.ranking, expected, "\(select)")
        }
        let byLoss = try runSweep(data, grid: grid, base: base, jobs: 2)
        let best = byLoss.points[byLoss.ranking[0]]
        XCTAssertEqual(best.val?.loss, byLoss.points.compactMap(\.val?.loss).min())
    }
}
