#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `<name a="v" …>content</name>`, or `<name … />` without content. Every attribute value is
/// escaped here, so no name, label or path can break out of it; `content` is markup already.
func tag(_ name: String, _ attributes: KeyValuePairs<String, String>, _ content: String? = nil) -> String {
    var s = "<" + name
    for (key, value) in attributes { s += " " + key + "=\"" + escapeHTML(value) + "\"" }
    guard let content else { return s + "/>" }
    return s + ">" + content + "</" + name + ">"
}

/// `<title>` with escaped text: the hover text of an SVG element, read out by screen readers.
func svgTitle(_ text: String) -> String { "<title>" + escapeHTML(text) + "</title>" }

/// `<text>` at (x, y) with escaped content and extra attributes.
func svgText(
    _ x: Double, _ y: Double, _ text: String, _ attributes: KeyValuePairs<String, String> = [:],
    title: String? = nil
) -> String {
    var s = "<text x=\"\(coord(x))\" y=\"\(coord(y))\""
    for (key, value) in attributes { s += " " + key + "=\"" + escapeHTML(value) + "\"" }
    return s + ">" + (title.map(svgTitle) ?? "") + escapeHTML(text) + "</text>"
}

/// A line from (x1, y1) to (x2, y2).
func svgLine(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ attributes: KeyValuePairs<String, String> = [:])
    -> String
{
    var s = "<line x1=\"\(coord(x1))\" y1=\"\(coord(y1))\" x2=\"\(coord(x2))\" y2=\"\(coord(y2))\""
    for (key, value) in attributes { s += " " + key + "=\"" + escapeHTML(value) + "\"" }
    return s + "/>"
}

/// The opening of an accessible chart: `role="img"`, labelled by its `<title>` and `<desc>`
/// (which screen readers announce and browsers show on hover), and `data-chart` naming its kind
/// so tests and scripts can find it. Close it with `</svg>`.
func svgOpen(id: String, kind: String, width: Double, height: Double, title: String, description: String) -> String {
    let w = coord(width)
    let h = coord(height)
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"\(id)\" data-chart=\"\(kind)\" class=\"chart\" role=\"img\" "
        + "viewBox=\"0 0 \(w) \(h)\" width=\"\(w)\" height=\"\(h)\" aria-labelledby=\"\(id)-title \(id)-desc\">"
        + "<title id=\"\(id)-title\">\(escapeHTML(title))</title>"
        + "<desc id=\"\(id)-desc\">\(escapeHTML(description))</desc>"
}

/// A linear map from a data interval to a pixel interval.
struct LinearScale {
    let domain: (Double, Double)
    let range: (Double, Double)

    func callAsFunction(_ v: Double) -> Double {
        let span = domain.1 - domain.0
        let t = span == 0 ? 0.5 : (v - domain.0) / span
        return range.0 + t * (range.1 - range.0)
    }
}

/// Round tick values (1, 2 or 5 times a power of ten) within `lo...hi`, about `count` of them.
func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
    guard lo.isFinite, hi.isFinite else { return [] }
    if hi <= lo { return [lo] }
    let step = niceStep(lo, hi, count: count)
    var ticks: [Double] = []
    var v = ceil(lo / step - 1e-9) * step
    while v <= hi + step * 1e-9 {
        ticks.append(abs(v) < step * 1e-9 ? 0 : v)
        v += step
    }
    return ticks
}

/// The tick spacing `niceTicks` uses.
func niceStep(_ lo: Double, _ hi: Double, count: Int = 5) -> Double {
    let raw = (hi - lo) / Double(max(count, 1))
    let magnitude = pow(10, floor(log10(raw)))
    return [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
}

/// A tick label: as few decimals as the step needs.
func tickLabel(_ v: Double, step: Double) -> String {
    let decimals = step >= 1 ? 0 : min(6, Int(ceil(-log10(step) - 1e-9)))
    return cFormat("%.\(decimals)f", v)
}

/// The range to plot `values` in: their min and max, widened a little, never empty.
func paddedExtent(_ values: [Double], includeZero: Bool = false) -> (Double, Double) {
    let finite = values.filter(\.isFinite)
    guard var lo = finite.min(), var hi = finite.max() else { return (0, 1) }
    if includeZero {
        lo = min(lo, 0)
        hi = max(hi, 0)
    }
    if hi == lo { return (lo - 0.5, hi + 0.5) }
    let pad = (hi - lo) * 0.05
    return (includeZero && lo == 0 ? 0 : lo - pad, hi + pad)
}

/// Axes with grid lines, tick labels and axis titles for a plot area.
struct PlotFrame {
    let left: Double, top: Double, width: Double, height: Double
    var right: Double { left + width }
    var bottom: Double { top + height }

    /// Horizontal grid lines and labels for `ticks` on the y scale, and the y axis title.
    func yAxis(_ ticks: [Double], _ y: LinearScale, title: String) -> String {
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        var s = "<g class=\"axis y\">"
        for t in ticks {
            s += svgLine(left, y(t), right, y(t), ["class": "grid"])
            s += svgText(
                left - 6, y(t), tickLabel(t, step: step), ["text-anchor": "end", "dominant-baseline": "middle"])
        }
        let cx = coord(left - 48)
        let cy = coord(top + height / 2)
        s += svgText(
            left - 48, top + height / 2, title,
            [
                "class": "axis-title", "text-anchor": "middle",
                "transform": "rotate(-90 \(cx) \(cy))",
            ])
        return s + "</g>"
    }

    /// Tick marks and labels for `ticks` on the x scale, and the x axis title.
    func xAxis(_ ticks: [Double], _ x: LinearScale, title: String) -> String {
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : 1
        var s = "<g class=\"axis x\">" + svgLine(left, bottom, right, bottom, ["class": "baseline"])
        for t in ticks {
            s += svgLine(x(t), bottom, x(t), bottom + 4, ["class": "tick"])
            s += svgText(x(t), bottom + 16, tickLabel(t, step: step), ["text-anchor": "middle"])
        }
        s += svgText(left + width / 2, bottom + 36, title, ["class": "axis-title", "text-anchor": "middle"])
        return s + "</g>"
    }
}

/// A legend row per entry: a swatch (drawn by `swatch` at the given origin) and its name.
func legend(
    x: Double, y: Double, entries: [(name: String, swatch: (Double, Double) -> String)],
    rowHeight: Double = 16
) -> String {
    var s = "<g class=\"legend\">"
    for (i, e) in entries.enumerated() {
        let ry = y + Double(i) * rowHeight
        s += e.swatch(x, ry) + svgText(x + 22, ry, e.name, ["dominant-baseline": "middle"])
    }
    return s + "</g>"
}
