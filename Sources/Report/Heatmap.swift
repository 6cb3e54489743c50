/// One cell of a heatmap.
struct HeatCell {
    /// Written in the cell.
    let text: String
    /// Colour position in 0...1; nil draws an empty (hatched grey) cell.
    let shade: Double?
    /// Hover text.
    let title: String
    /// A `data-` attribute carrying the cell's exact value, e.g. ("data-count", "12").
    var data: (name: String, value: String)? = nil
}

/// A grid of coloured cells with their values written in them (viridis, so colour-blind readers
/// and grey print still see the order; the numbers carry the exact values), row and column
/// labels, axis titles and a colour legend.
func heatmap(
    id: String, kind: String, title: String, description: String, rowLabels: [String], columnLabels: [String],
    cells: [[HeatCell]], rowTitle: String, columnTitle: String,
    legend: (title: String, low: String, high: String)
) -> String {
    let longestText = cells.flatMap { $0.map { textWidth($0.text) } }.max() ?? 0
    let cellWidth = max(44, longestText + 12)
    let cellHeight = 30.0
    let rowLabelWidth = min(170, (rowLabels.map { textWidth(shortened($0)) }.max() ?? 0) + 10)
    let longestColumn = columnLabels.map { textWidth(shortened($0)) }.max() ?? 0
    let rotate = longestColumn > cellWidth - 6
    let columnLabelHeight = rotate ? longestColumn * 0.72 + 16 : 22
    let left = 28 + rowLabelWidth
    let top = 12.0
    let gridWidth = Double(columnLabels.count) * cellWidth
    let gridHeight = Double(rowLabels.count) * cellHeight
    let width = left + gridWidth + 110
    let height = top + gridHeight + columnLabelHeight + 28
    var s = svgOpen(id: id, kind: kind, width: width, height: height, title: title, description: description)
    let stops = Palette.viridisStops.indices.map { i in
        let t = Double(i) / Double(Palette.viridisStops.count - 1)
        return tag("stop", ["offset": cFormat("%.3f", t), "stop-color": Palette.viridis(t)])
    }
    s +=
        "<defs>"
        + tag(
            "pattern",
            [
                "id": "\(id)-none", "patternUnits": "userSpaceOnUse", "width": "6", "height": "6",
                "patternTransform": "rotate(45)",
            ],
            tag("rect", ["width": "6", "height": "6", "fill": "#eee"])
                + tag("rect", ["width": "1.5", "height": "6", "fill": "#bbb"]))
        + tag("linearGradient", ["id": "\(id)-scale", "x1": "0", "x2": "0", "y1": "1", "y2": "0"], stops.joined())
        + "</defs>"
    for (r, row) in cells.enumerated() {
        let cy = top + Double(r) * cellHeight
        s += svgText(
            left - 6, cy + cellHeight / 2, shortened(rowLabels[r]),
            ["class": "row-label", "text-anchor": "end", "dominant-baseline": "middle"], title: rowLabels[r])
        for (c, cell) in row.enumerated() {
            let cx = left + Double(c) * cellWidth
            let box = tag(
                "rect",
                [
                    "x": coord(cx), "y": coord(cy), "width": coord(cellWidth), "height": coord(cellHeight),
                    "fill": cell.shade.map(Palette.viridis) ?? "url(#\(id)-none)",
                ])
            let label = svgText(
                cx + cellWidth / 2, cy + cellHeight / 2, cell.text,
                [
                    "text-anchor": "middle", "dominant-baseline": "middle",
                    "fill": cell.shade.map(Palette.textOnViridis) ?? "#333",
                ])
            let data = cell.data.map { " \($0.name)=\"\(escapeHTML($0.value))\"" } ?? ""
            s +=
                "<g class=\"cell\" data-row=\"\(r)\" data-column=\"\(c)\"\(data)>" + svgTitle(cell.title) + box + label
                + "</g>"
        }
    }
    let labelY = top + gridHeight + 14
    for (c, label) in columnLabels.enumerated() {
        let lx = left + (Double(c) + 0.5) * cellWidth
        let placement: KeyValuePairs<String, String> =
            rotate
            ? ["class": "column-label", "text-anchor": "end", "transform": "rotate(-40 \(coord(lx)) \(coord(labelY)))"]
            : ["class": "column-label", "text-anchor": "middle"]
        s += svgText(lx, labelY, shortened(label), placement, title: label)
    }
    s += svgText(left + gridWidth / 2, height - 8, columnTitle, ["class": "axis-title", "text-anchor": "middle"])
    let ry = coord(top + gridHeight / 2)
    s += svgText(
        12, top + gridHeight / 2, rowTitle,
        [
            "class": "axis-title", "text-anchor": "middle",
            "transform": "rotate(-90 12 \(ry))",
        ])
    // Colour legend: the scale bar with its two ends labelled.
    let lx = left + gridWidth + 24
    let barHeight = min(max(gridHeight, 90), 200)
    s +=
        "<g class=\"legend\">"
        + svgText(lx, top + 4, legend.title, ["dominant-baseline": "middle"])
        + tag(
            "rect",
            [
                "x": coord(lx), "y": coord(top + 16), "width": "14", "height": coord(barHeight),
                "fill": "url(#\(id)-scale)", "stroke": "#666",
            ])
        + svgText(lx + 20, top + 22, legend.high, ["dominant-baseline": "middle"])
        + svgText(lx + 20, top + 10 + barHeight, legend.low, ["dominant-baseline": "middle"])
        + "</g>"
    return s + "</svg>"
}
