/// One line of a line chart.
struct LineSeries {
    let name: String
    /// Non-finite y values (a diverged loss) leave a gap.
    let points: [(x: Double, y: Double)]
    let dashed: Bool
    let marker: MarkerShape
}

/// Lines over a numeric x axis with markers and a legend; lines differ by colour, dash and marker
/// shape. `mark` draws a labelled vertical line (the kept epoch).
func lineChart(
    id: String, kind: String, title: String, description: String, series: [LineSeries],
    xTitle: String, yTitle: String, yRange: (Double, Double)? = nil,
    mark: (x: Double, label: String)? = nil
) -> String {
    let frame = PlotFrame(left: 64, top: 28, width: 360, height: 220)
    let legendWidth = 40 + (series.map { textWidth($0.name) }.max() ?? 0)
    let width = frame.right + 16 + legendWidth
    let height = frame.bottom + 48
    let xs = series.flatMap { $0.points.map(\.x) }
    let ys = series.flatMap { $0.points.map(\.y) }.filter(\.isFinite)
    let xLo = xs.min() ?? 0
    let xHi = max(xs.max() ?? 1, xLo + 1)
    let x = LinearScale(domain: (xLo, xHi), range: (frame.left, frame.right))
    let (yLo, yHi) = yRange ?? paddedExtent(ys)
    let y = LinearScale(domain: (yLo, yHi), range: (frame.bottom, frame.top))
    // Epochs are whole numbers: never a tick at 2.5.
    var xTicks = niceTicks(xLo, xHi, count: 6).filter { $0 == $0.rounded() }
    if xTicks.isEmpty { xTicks = [xLo] }
    func point(_ p: (x: Double, y: Double)) -> (String, String) { (coord(x(p.x)), coord(y(min(max(p.y, yLo), yHi)))) }

    var s = svgOpen(id: id, kind: kind, width: width, height: height, title: title, description: description)
    s += frame.yAxis(niceTicks(yLo, yHi), y, title: yTitle)
    s += frame.xAxis(xTicks, x, title: xTitle)
    if let mark {
        s += tag(
            "g", ["class": "mark", "data-mark": exact(mark.x)],
            svgLine(x(mark.x), frame.top, x(mark.x), frame.bottom)
                + svgText(x(mark.x), frame.top - 8, mark.label, ["text-anchor": "middle"]))
    }
    let markerRadius = (series.map(\.points.count).max() ?? 0) <= 60 ? 3.5 : 1.5
    for (k, line) in series.enumerated() {
        let colour = Palette.category(k)
        // One path; a gap wherever y is not finite.
        var d = ""
        var pen = false
        for p in line.points {
            guard p.y.isFinite else {
                pen = false
                continue
            }
            let (px, py) = point(p)
            d += (pen ? "L" : "M") + px + " " + py
            pen = true
        }
        var g =
            line.dashed
            ? tag("path", ["class": "line", "d": d, "stroke": colour, "stroke-dasharray": "6 4"])
            : tag("path", ["class": "line", "d": d, "stroke": colour])
        for p in line.points where p.y.isFinite {
            let (px, py) = point(p)
            g += tag(
                "path",
                [
                    "class": "point", "d": line.marker.path(markerRadius), "transform": "translate(\(px) \(py))",
                    "fill": colour, "data-x": exact(p.x), "data-y": exact(p.y),
                ],
                svgTitle("\(xTitle) \(tickLabel(p.x, step: 1)): \(line.name) \(fixed(p.y, 4))"))
        }
        s += tag("g", ["class": "series", "data-series": line.name], g)
    }
    s += legend(
        x: frame.right + 16, y: frame.top + 8,
        entries: series.enumerated().map { k, line in
            (
                line.name,
                { lx, ly in
                    let colour = Palette.category(k)
                    return
                        (line.dashed
                        ? svgLine(lx, ly, lx + 18, ly, ["class": "line", "stroke": colour, "stroke-dasharray": "6 4"])
                        : svgLine(lx, ly, lx + 18, ly, ["class": "line", "stroke": colour]))
                        + tag(
                            "path",
                            [
                                "d": line.marker.path(3.5), "transform": "translate(\(coord(lx + 9)) \(coord(ly)))",
                                "fill": colour,
                            ])
                }
            )
        })
    return s + "</svg>"
}
