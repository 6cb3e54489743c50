/// A setting a sweep varies: its name and its values in grid order.
public struct SweepAxis: Sendable {
    public let name: String
    public let values: [String]
    public init(name: String, values: [String]) {
        self.name = name
        self.values = values
    }
}

/// One trained run of a sweep, as the leaderboard and heatmap need it.
public struct SweepRun: Sendable {
    public let runID: Int64
    /// One value per axis, in the axes' order.
    public let settings: [String]
    public let valAccuracy: Double?
    public let valLoss: Double?
    /// Mean fold accuracy and loss when the sweep cross-validated.
    public let cv: (accuracy: Double, loss: Double)?
    public init(
        runID: Int64, settings: [String], valAccuracy: Double?, valLoss: Double?, cv: (accuracy: Double, loss: Double)?
    ) {
        self.runID = runID
        self.settings = settings
        self.valAccuracy = valAccuracy
        self.valLoss = valLoss
        self.cv = cv
    }
}

extension SweepContent {
    /// The leaderboard and heatmap of a sweep's runs.
    ///
    /// `runs` come best first, as `tlearn sweep` ranked them, and `rankedBy` says by what (e.g. "val
    /// loss, then accuracy"). The leaderboard shows the axes with more than one value (lr and epochs
    /// always). The heatmap is val accuracy over `lr` (rows) and `epochs` (columns), each cell the
    /// best run sharing those two values; when one of them has a single value and other axes vary,
    /// it uses the two axes with the most values instead.
    public init(
        id: Int64, createdAt: String, axes: [SweepAxis], runs ranked: [SweepRun], rankedBy: String, chosen: Int64,
        baselines: [BaselineRow], leaderboardRows: Int = 10
    ) {
        self.init()
        self.id = id
        self.createdAt = createdAt
        self.baselines = baselines
        self.rankedBy = rankedBy
        runCount = ranked.count
        let shownAxes = axes.indices.filter { axes[$0].values.count > 1 || ["lr", "epochs"].contains(axes[$0].name) }
        settingNames = shownAxes.map { axes[$0].name }
        var shown = Array(ranked.enumerated().prefix(leaderboardRows))
        if let i = ranked.firstIndex(where: { $0.runID == chosen }), i >= shown.count { shown.append((i, ranked[i])) }
        leaderboard = shown.map { rank, r in
            LeaderboardRow(
                rank: rank + 1, runID: r.runID, settings: shownAxes.map { r.settings[$0] },
                valAccuracy: r.valAccuracy, valLoss: r.valLoss, cvAccuracy: r.cv?.accuracy)
        }
        heatmap = Self.heatmap(axes: axes, runs: ranked)
    }

    static func heatmap(axes: [SweepAxis], runs: [SweepRun]) -> Part<SweepHeatmap> {
        guard !runs.isEmpty else { return .empty("The sweep has no trained runs.") }
        var pick = ["lr", "epochs"].compactMap { name in axes.firstIndex { $0.name == name } }
        if pick.count < 2 || pick.contains(where: { axes[$0].values.count < 2 }) {
            let varying = axes.indices.filter { axes[$0].values.count > 1 }.sorted {
                axes[$0].values.count > axes[$1].values.count
            }
            if varying.count >= 2 { pick = [varying[0], varying[1]].sorted() }
        }
        guard pick.count == 2 else { return .empty("The sweep has fewer than two settings to lay out.") }
        let (rows, columns) = (axes[pick[0]], axes[pick[1]])
        var h = SweepHeatmap()
        h.yName = rows.name
        h.xName = columns.name
        h.yValues = rows.values
        h.xValues = columns.values
        h.accuracy = Array(repeating: Array(repeating: nil, count: columns.values.count), count: rows.values.count)
        h.bestRun = h.accuracy.map { $0.map { _ in nil } }
        var perCell: [Int: Int] = [:]
        for r in runs {
            guard let y = rows.values.firstIndex(of: r.settings[pick[0]]),
                let x = columns.values.firstIndex(of: r.settings[pick[1]])
            else { continue }
            perCell[y * columns.values.count + x, default: 0] += 1
            guard let a = r.valAccuracy, !a.isNaN else { continue }
            if h.accuracy[y][x].map({ a > $0 }) ?? true {
                h.accuracy[y][x] = a
                h.bestRun[y][x] = r.runID
            }
        }
        h.runsPerCell = perCell.values.max() ?? 0
        if h.accuracy.allSatisfy({ $0.allSatisfy { $0 == nil } }) {
            return .empty("No run of this sweep has a val accuracy.")
        }
        return .shown(h)
    }
}
