#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `path,label` CSV naming the images of a dataset in any layout.
///
/// RFC 4180 quoting, optional `path,label` header, UTF-8 (a BOM is ignored), CRLF or LF. Paths are
/// relative to the dataset root (the `--images` folder, else the CSV's folder); an absolute path
/// must lie under the root. A malformed line stops the run before any work, naming file and line.
enum Manifest {
    /// Reads `csv` and returns candidates (sorted by path) plus listed files that cannot be read.
    public static func read(_ csv: String, root: String) throws -> ScanResult {
        let bytes: [UInt8]
        do { bytes = try FileReader.readAll(csv) } catch {
            throw ExtractionError.badInput("cannot read manifest \(csv): \(reasonText(error))")
        }
        guard
            let text = String(
                validating: bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes, as: UTF8.self)
        else {
            throw ExtractionError.badInput("manifest \(csv) is not UTF-8 text")
        }
        var result = ScanResult()
        result.root = root
        var labels: [String: String] = [:]
        for (index, record) in try records(text, file: csv).enumerated() {
            let line = record.line
            let fields = record.fields
            if fields.count == 1 && fields[0].isEmpty { continue }
            if index == 0, fields.map({ $0.lowercased() }) == ["path", "label"] { continue }
            guard fields.count == 2 else {
                throw ExtractionError.manifest(
                    file: csv, line: line, reason: "expected 2 fields (path,label), found \(fields.count)")
            }
            let label = fields[1]
            guard !label.isEmpty else { throw ExtractionError.manifest(file: csv, line: line, reason: "empty label") }
            guard let rel = normalize(fields[0], root: root) else {
                throw ExtractionError.manifest(
                    file: csv, line: line, reason: "path \(fields[0]) is empty or outside the dataset root \(root)")
            }
            if let previous = labels[rel] {
                if previous != label {
                    throw ExtractionError.manifest(
                        file: csv, line: line, reason: "\(rel) is listed again with label \(label) (was \(previous))")
                }
                continue
            }
            labels[rel] = label
            let file = root + "/" + rel
            var s = stat()
            if stat(file, &s) != 0 {
                result.unusable.append((rel, "cannot read \(file): \(String(cString: strerror(errno)))"))
            } else if s.st_mode & S_IFMT != S_IFREG {
                result.unusable.append((rel, "cannot read \(file): not a regular file"))
            } else {
                result.candidates.append(Candidate(path: rel, file: file, label: label))
            }
        }
        result.candidates.sort { $0.path < $1.path }
        return result
    }

    /// `path` relative to `root`, '/'-separated without `.` parts; nil when empty or escaping the root.
    static func normalize(_ path: String, root: String) -> String? {
        var p = path
        if p.hasPrefix("/") {
            let r = root.hasSuffix("/") ? root : root + "/"
            guard p.hasPrefix(r) else { return nil }
            p = String(p.dropFirst(r.count))
        }
        var parts: [Substring] = []
        for part in p.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if parts.isEmpty { return nil }
                parts.removeLast()
            } else {
                parts.append(part)
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: "/")
    }

    /// CSV records with the line each starts on.
    static func records(_ text: String, file: String) throws -> [(line: Int, fields: [String])] {
        var out: [(Int, [String])] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var afterQuote = false
        var line = 1
        var recordLine = 1
        var chars = Array(text.unicodeScalars)
        if chars.last != "\n" { chars.append("\n") }
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count && chars[i + 1] == "\"" {
                        field.unicodeScalars.append("\"")
                        i += 1
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
            } else if c == "," {
                fields.append(field)
                field = ""
                afterQuote = false
            } else if c == "\n" || c == "\r" {
                if c == "\r" && i + 1 < chars.count && chars[i + 1] == "\n" { i += 1 }
                fields.append(field)
                out.append((recordLine, fields))
                fields = []
                field = ""
                afterQuote = false
                line += 1
                recordLine = line
            } else if c == "\"" && field.isEmpty && !afterQuote {
                quoted = true
            } else {
                if afterQuote {
                    throw ExtractionError.manifest(file: file, line: line, reason: "text after a closing quote")
                }
                field.unicodeScalars.append(c)
            }
            i += 1
        }
        if quoted { throw ExtractionError.manifest(file: file, line: recordLine, reason: "unterminated quoted field") }
        return out
    }
}

func reasonText(_ error: Error) -> String {
    if case ExtractionError.unreadable(_, let reason) = error { return reason }
    return "\(error)"
}
