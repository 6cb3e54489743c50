/// The embedding map: one marker per vector, colour and shape by class, misclassified images
/// ringed in black and drawn last (on top). Each marker's `<title>` gives the path, so hovering
/// names the image.
func scatterPlot(id: String, _ map: EmbeddingContent, title: String, description: String) -> String {
    let frame = PlotFrame(left: 64, top: 16, width: 560, height: 440)
    let names = map.classes.map { shortened($0) }
    let legendWidth = 40 + (names.map(textWidth).max() ?? 0)
    let width = frame.right + 16 + max(legendWidth, 150)
    let height = frame.bottom + 48
    let x = LinearScale(domain: paddedExtent(map.points.map(\.x)), range: (frame.left, frame.right))
    let y = LinearScale(domain: paddedExtent(map.points.map(\.y)), range: (frame.bottom, frame.top))
    let ring = { (cx: String, cy: String) in
        "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"6.5\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.6\"/>"
    }
    var s = svgOpen(id: id, kind: "embedding-map", width: width, height: height, title: title, description: description)
    s +=
        "<defs>"
        + map.classes.indices.map { k in
            tag(
                "path",
                [
                    "id": "\(id)-m\(k)", "d": MarkerShape.of(k).path(3.6), "fill": Palette.category(k),
                    "fill-opacity": "0.85",
                ])
        }.joined() + "</defs>"
    s += frame.yAxis(niceTicks(y.domain.0, y.domain.1), y, title: map.yLabel)
    s += frame.xAxis(niceTicks(x.domain.0, x.domain.1), x, title: map.xLabel)
    // Correct points first, then the mistakes on top of them.
    let order =
        map.points.indices.filter { map.points[$0].mistakenFor == nil }
        + map.points.indices.filter { map.points[$0].mistakenFor != nil }
    s += "<g class=\"points\">"
    for i in order {
        let p = map.points[i]
        let px = coord(x(p.x))
        let py = coord(y(p.y))
        var hover = "\(p.path) (\(map.classes[p.classIndex]), \(p.split))"
        if let wrong = p.mistakenFor { hover += ": misclassified as \(wrong)" }
        let marker = "<use href=\"#\(id)-m\(p.classIndex)\" x=\"\(px)\" y=\"\(py)\"/>"
        let kind = p.mistakenFor == nil ? "point" : "point mistake"
        s += tag(
            "g", ["class": kind, "data-path": p.path],
            svgTitle(hover) + (p.mistakenFor == nil ? "" : ring(px, py)) + marker)
    }
    s += "</g>"
    var items: [(name: String, swatch: (Double, Double) -> String)] = map.classes.indices.map { k in
        (names[k], { lx, ly in "<use href=\"#\(id)-m\(k)\" x=\"\(coord(lx + 8))\" y=\"\(coord(ly))\"/>" })
    }
    if map.points.contains(where: { $0.mistakenFor != nil }) {
        items.append(("misclassified", { lx, ly in ring(coord(lx + 8), coord(ly)) }))
    }
    s += legend(x: frame.right + 16, y: frame.top + 8, entries: items)
    return s + "</svg>"
}
