/// One series of a grouped bar chart: a value per category.
struct BarSeries {
    let name: String
    let values: [Double]
}

/// Rough width of `text` at the charts' 12 px font, for layout only.
func textWidth(_ text: String) -> Double { Double(text.count) * 6.6 }

/// `text` cut to `limit` characters with an ellipsis (the full text is in the element's title).
func shortened(_ text: String, _ limit: Int = 22) -> String {
    text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
}

/// A series' fill: its colour, plus a hatch or dot pattern from the second series on, so bars
/// differ by texture as well as colour (and in grey print).
func seriesFill(chart: String, index: Int) -> (defs: String, fill: String) {
    let colour = Palette.category(index)
    let id = "\(chart)-pattern\(index)"
    switch index % 3 {
    case 1:
        let tile =
            tag("rect", ["width": "6", "height": "6", "fill": colour])
            + tag("rect", ["width": "2", "height": "6", "fill": "#fff", "fill-opacity": "0.55"])
        let pattern = tag(
            "pattern",
            [
                "id": id, "patternUnits": "userSpaceOnUse", "width": "6", "height": "6",
                "patternTransform": "rotate(45)",
            ], tile)
        return (pattern, "url(#\(id))")
    case 2:
        let tile =
            tag("rect", ["width": "5", "height": "5", "fill": colour])
            + tag("circle", ["cx": "2.5", "cy": "2.5", "r": "1.1", "fill": "#fff", "fill-opacity": "0.7"])
        return (
            tag("pattern", ["id": id, "patternUnits": "userSpaceOnUse", "width": "5", "height": "5"], tile),
            "url(#\(id))"
        )
    default:
        return ("", colour)
    }
}

/// Bars grouped by category, one bar per series, with a legend; every bar carries its value in
/// `data-value` and a `<title>` ("daisy, train: 512").
func groupedBarChart(
    id: String, kind: String, title: String, description: String, categories: [String],
    series: [BarSeries], yTitle: String, yMax: Double? = nil, digits: Int = 0
) -> String {
    let barWidth = series.count > 2 ? 12.0 : 16.0
    let groupWidth = Double(series.count) * barWidth + 14
    let longest = categories.map { textWidth(shortened($0)) }.max() ?? 0
    let rotate = longest > groupWidth - 4
    let bottomMargin = rotate ? 30 + longest * 0.72 : 52
    let legendWidth = 30 + (series.map { textWidth($0.name) }.max() ?? 0)
    let frame = PlotFrame(left: 64, top: 16, width: max(240, Double(categories.count) * groupWidth), height: 220)
    let width = frame.right + 16 + legendWidth
    let height = frame.bottom + bottomMargin
    // The axis ends on a round number at or above the largest bar.
    let largest = yMax ?? max(1, series.flatMap(\.values).filter(\.isFinite).max() ?? 1)
    let step = niceStep(0, largest)
    let top = yMax ?? (largest / step).rounded(.up) * step
    let y = LinearScale(domain: (0, top), range: (frame.bottom, frame.top))
    var s = svgOpen(id: id, kind: kind, width: width, height: height, title: title, description: description)
    let fills = series.indices.map { seriesFill(chart: id, index: $0) }
    s += "<defs>" + fills.map(\.defs).joined() + "</defs>"
    s += frame.yAxis(niceTicks(0, top), y, title: yTitle)
    for (c, category) in categories.enumerated() {
        let gx = frame.left + Double(c) * groupWidth + 7
        for (k, serie) in series.enumerated() {
            let v = serie.values[c]
            let barTop = y(v.isFinite ? min(max(v, 0), top) : 0)
            let valueText = digits == 0 ? "\(Int(v))" : fixed(v, digits)
            s += tag(
                "rect",
                [
                    "class": "bar", "x": coord(gx + Double(k) * barWidth), "y": coord(barTop),
                    "width": coord(barWidth - 1), "height": coord(frame.bottom - barTop),
                    "fill": fills[k].fill, "stroke": Palette.category(k),
                    "data-category": category, "data-series": serie.name, "data-value": exact(v),
                ],
                svgTitle("\(category), \(serie.name): \(valueText)"))
        }
        let lx = gx + Double(series.count) * barWidth / 2
        let ly = frame.bottom + 14
        let placement: KeyValuePairs<String, String> =
            rotate
            ? ["class": "category", "text-anchor": "end", "transform": "rotate(-40 \(coord(lx)) \(coord(ly)))"]
            : ["class": "category", "text-anchor": "middle"]
        s += svgText(lx, ly, shortened(category), placement, title: category)
    }
    s += svgLine(frame.left, frame.bottom, frame.right, frame.bottom, ["class": "baseline"])
    s += legend(
        x: frame.right + 16, y: frame.top + 8,
        entries: series.enumerated().map { k, serie in
            (
                serie.name,
                { x, y in
                    tag(
                        "rect",
                        [
                            "x": coord(x), "y": coord(y - 6), "width": "16", "height": "12", "fill": fills[k].fill,
                            "stroke": Palette.category(k),
                        ])
                }
            )
        })
    return s + "</svg>"
}
