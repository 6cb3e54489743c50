import Store

#if canImport(Glibc)
    import Glibc
#endif

/// printf-style formatting of one number (FoundationEssentials has no `String(format:)`).
public func formatNumber(_ format: String, _ value: Double) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `value` with `digits` decimals, or "-" when nil; "nan" and "inf" as such.
public func fixed(_ value: Double?, _ digits: Int = 4) -> String {
    guard let value else { return "-" }
    return formatNumber("%.\(digits)f", value)
}

/// A hyperparameter as it is typed on the command line: 0.001 -> "1e-3", 0.0003 -> "3e-4",
/// 0.1 -> "0.1", 0 -> "0".
public func compact(_ value: Double) -> String {
    if value == 0 { return "0" }
    if abs(value) < 0.01 || abs(value) >= 1e6 {
        // %e writes 1.000000e-03: drop the mantissa's trailing zeros and the exponent's padding.
        let parts = formatNumber("%.6e", value).split(separator: "e")
        var mantissa = String(parts[0])
        while mantissa.hasSuffix("0") { mantissa.removeLast() }
        if mantissa.hasSuffix(".") { mantissa.removeLast() }
        return "\(mantissa)e\(Int(parts[1]) ?? 0)"
    }
    return formatNumber("%g", value)
}

/// A plain-text table: numbers right-aligned, the `left` columns (names) left-aligned.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]] = []
    public var left: Set<Int>

    public init(_ header: [String], left: Set<Int> = [0]) {
        self.header = header.map(\.tableCell)
        self.left = left
    }

    /// Adds a row; cells holding newlines or tabs (a class name can) are escaped, not printed raw.
    public mutating func add(_ row: [String]) { rows.append(row.map(\.tableCell)) }

    public func render(indent: String = "") -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0.count > c ? $0[c].count : 0 }.max() ?? 0 }
        return all.map { row in
            indent
                + header.indices.map { c in
                    let cell = c < row.count ? row[c] : ""
                    let pad = String(repeating: " ", count: widths[c] - cell.count)
                    return left.contains(c) ? cell + pad : pad + cell
                }.joined(separator: "  ").replacingTrailingSpaces()
        }.joined(separator: "\n") + "\n"
    }
}

extension String {
    fileprivate func replacingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// The per-epoch curve as a table.
public func renderHistory(_ history: [EpochStats]) -> String {
    var t = TextTable(["epoch", "train loss", "train acc", "val loss", "val acc"], left: [])
    for e in history {
        t.add(["\(e.epoch)", fixed(e.trainLoss), fixed(e.trainAccuracy), fixed(e.valLoss), fixed(e.valAccuracy)])
    }
    return t.render()
}

/// Accuracy, per-class precision/recall/F1 and the confusion matrix of one split.
public func renderMetrics(_ m: SplitMetrics, title: String) -> String {
    var out =
        "\(title): accuracy \(fixed(m.accuracy)) (\(m.confusion.indices.reduce(0) { $0 + m.confusion[$1][$1] })/\(m.count))"
    if let loss = m.loss { out += ", loss \(fixed(loss))" }
    out += ", macro F1 \(fixed(m.macroF1))\n"
    var t = TextTable(["class", "precision", "recall", "f1", "support"])
    for c in m.perClass { t.add([c.name, fixed(c.precision), fixed(c.recall), fixed(c.f1), "\(c.support)"]) }
    out += t.render(indent: "  ")
    out += "  confusion (rows: true class, columns: predicted)\n"
    var conf = TextTable([""] + m.perClass.map(\.name))
    for (i, row) in m.confusion.enumerated() { conf.add([m.perClass[i].name] + row.map(String.init)) }
    out += conf.render(indent: "  ")
    return out
}
