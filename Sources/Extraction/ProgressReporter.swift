#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Shows extraction progress on stderr: a live bar on a terminal, a plain line every few seconds
/// otherwise (logs, CI), nothing when quiet.
public final class ProgressReporter {
    public enum Style: Sendable { case bar, lines, quiet }

    public let style: Style
    private var lastLine = -1.0
    private var drawn = false
    private let interval: Double

    /// `bar` when stderr is a terminal, else `lines`; `quiet` wins.
    public init(quiet: Bool, lineInterval: Double = 5) {
        style = quiet ? .quiet : (isatty(STDERR_FILENO) != 0 ? .bar : .lines)
        interval = lineInterval
    }

    public init(style: Style, lineInterval: Double = 5) {
        self.style = style
        interval = lineInterval
    }

    /// Takes one progress sample.
    public func update(_ p: ExtractionProgress) {
        switch style {
        case .quiet: return
        case .bar:
            let width = 28
            let fraction = p.total > 0 ? Double(p.done) / Double(p.total) : 1
            let filled = min(width, Int(fraction * Double(width)))
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            var text = "\r[\(bar)] \(p.done)/\(p.total)  \(Self.rate(p)) images/s  ETA \(Self.eta(p))"
            if p.failed > 0 { text += "  failed \(p.failed)" }
            write(text + "\u{1B}[K")
            drawn = true
        case .lines:
            guard p.seconds - lastLine >= interval || (p.done == p.total && lastLine >= 0) else { return }
            if p.done == p.total && lastLine < 0 { return }  // short runs: the summary says it all
            lastLine = p.seconds
            let percent = p.total > 0 ? 100 * p.done / p.total : 100
            write(
                "extract: \(p.done)/\(p.total) (\(percent)%), \(Self.rate(p)) images/s, ETA \(Self.eta(p)), extracted \(p.extracted), cached \(p.cached), failed \(p.failed)\n"
            )
        }
    }

    /// Ends the bar's line so the next output starts clean.
    public func finish() {
        if drawn { write("\n") }
        drawn = false
    }

    /// Prints a line on stderr without breaking the bar.
    public func message(_ line: String) {
        if drawn { write("\r\u{1B}[K") }
        write(line + "\n")
    }

    static func rate(_ p: ExtractionProgress) -> String {
        p.seconds > 0 ? String(format1: Double(p.done) / p.seconds) : "-"
    }

    static func eta(_ p: ExtractionProgress) -> String {
        guard p.done > 0, p.seconds > 0 else { return "-" }
        let left = Double(p.total - p.done) * p.seconds / Double(p.done)
        let s = Int(left.rounded())
        return s >= 3600 ? "\(s / 3600)h\(twoDigits(s / 60 % 60))m" : "\(s / 60):\(twoDigits(s % 60))"
    }

    private static func twoDigits(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    private func write(_ s: String) { writeStandardError(s) }
}

extension String {
    /// One decimal, without Foundation.
    init(format1 value: Double) {
        guard value.isFinite else {
            self = "-"
            return
        }
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}

extension ExtractionSummary {
    /// The summary line (README.md): `extracted N, cached N, failed N (reason N, ...), missing N in S s (R images/s)`,
    /// with `maps N` (maps stored) after `missing N` when the run extracts maps.
    public var line: String {
        var parts = ["extracted \(extracted)", "cached \(cached)"]
        var failedPart = "failed \(failedCount)"
        if failedCount > 0 {
            failedPart +=
                " (" + failed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
        }
        parts.append(failedPart)
        parts.append("missing \(missing)")
        if let maps { parts.append("maps \(maps)") }
        if pruned > 0 { parts.append("pruned \(pruned)") }
        if relabeled > 0 { parts.append("relabeled \(relabeled)") }
        if recovered > 0 { parts.append("recovered \(recovered)") }
        var text = parts.joined(separator: ", ") + " in \(String(format1: seconds)) s"
        if extracted > 0 && seconds > 0 { text += " (\(String(format1: Double(extracted) / seconds)) images/s)" }
        return text
    }
}

/// Writes to file descriptor 2 unbuffered, so progress and warnings interleave in order.
public func writeStandardError(_ s: String) {
    var s = s
    s.withUTF8 { buffer in
        var done = 0
        while done < buffer.count {
            let n = Glibc.write(STDERR_FILENO, buffer.baseAddress! + done, buffer.count - done)
            if n <= 0 { break }
            done += n
        }
    }
}
