import Formats
import Store

/// How `tlearn query` prints a result set.
public enum QueryFormat: String, Sendable {
    /// Aligned columns for people; BLOBs as `<blob N B>`, NULL as `NULL`.
    case table
    /// RFC 4180: CRLF line ends, fields with `,` `"` CR or LF quoted, NULL as an empty field.
    case csv
    /// One array of objects; BLOBs of 4n bytes as arrays of float32 numbers, others as base64.
    case json
}

/// Writes result sets in one `QueryFormat` to a text sink, streaming rows where the format allows.
public struct QueryWriter {
    public let format: QueryFormat
    let write: (String) -> Void

    /// Writes through `write`, which receives text in order (whole rows at a time).
    public init(format: QueryFormat, write: @escaping (String) -> Void) {
        self.format = format
        self.write = write
    }

    /// Steps `statement` to the end and writes its rows; returns the row count.
    @discardableResult
    public func write(_ statement: Statement) throws -> Int {
        let columns = (0..<statement.columnCount).map(statement.columnName)
        switch format {
        case .table:
            var rows: [[SQLValue]] = []
            while try statement.step() { rows.append(statement.row()) }
            write(Self.table(columns: columns, rows: rows))
            return rows.count
        case .csv:
            write(columns.map(Self.csvField).joined(separator: ",") + "\r\n")
            var n = 0
            while try statement.step() {
                write(statement.row().map { Self.csvField(Self.plain($0)) }.joined(separator: ",") + "\r\n")
                n += 1
            }
            return n
        case .json:
            // Nothing is written before the first row is in hand, so a query that fails at once (a bad
            // argument, a missing table) prints only its error, not a stray "[". A failure after rows
            // were streamed still leaves them printed, with the error on stderr and a failing status.
            let keys = columns.map(JSON.string)
            var n = 0
            while try statement.step() {
                let fields = zip(keys, statement.row()).map { "\($0): \(Self.json($1))" }
                write((n == 0 ? "[\n" : ",\n") + "  {" + fields.joined(separator: ", ") + "}")
                n += 1
            }
            write(n == 0 ? "[]\n" : "\n]\n")
            return n
        }
    }

    /// Writes rows that are already in memory (the output of `similar`, `duplicates`).
    public func write(columns: [String], rows: [[SQLValue]]) {
        switch format {
        case .table: write(Self.table(columns: columns, rows: rows))
        case .csv:
            write(columns.map(Self.csvField).joined(separator: ",") + "\r\n")
            for row in rows { write(row.map { Self.csvField(Self.plain($0)) }.joined(separator: ",") + "\r\n") }
        case .json:
            let keys = columns.map(JSON.string)
            let objects = rows.map { row in
                "  {" + zip(keys, row).map { "\($0): \(Self.json($1))" }.joined(separator: ", ") + "}"
            }
            write(objects.isEmpty ? "[]\n" : "[\n" + objects.joined(separator: ",\n") + "\n]\n")
        }
    }

    /// Aligned columns: numbers right-aligned, everything else left-aligned.
    public static func table(columns: [String], rows: [[SQLValue]]) -> String {
        let cells = rows.map { $0.map(tableCell) }
        var widths = columns.map(\.count)
        for row in cells { for (j, c) in row.enumerated() { widths[j] = max(widths[j], c.count) } }
        let numeric = columns.indices.map { j in
            rows.contains { if case .null = $0[j] { false } else { true } }
                && rows.allSatisfy {
                    switch $0[j] {
                    case .integer, .real, .null: true
                    default: false
                    }
                }
        }
        func line(_ values: [String], alignNumbers: Bool) -> String {
            var parts: [String] = []
            for (j, v) in values.enumerated() {
                let pad = String(repeating: " ", count: widths[j] - v.count)
                parts.append(alignNumbers && numeric[j] ? pad + v : v + pad)
            }
            var s = parts.joined(separator: "  ")
            while s.last == " " { s.removeLast() }
            return s + "\n"
        }
        var out = line(columns, alignNumbers: true)
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in cells { out += line(row, alignNumbers: true) }
        return out
    }

    static func tableCell(_ v: SQLValue) -> String {
        switch v {
        case .null: return "NULL"
        case .blob(let b): return "<blob \(b.count) B>"
        default: return plain(v).tableCell  // control characters would break the alignment
        }
    }

    /// The text of a value in CSV: REALs in their shortest exact form, BLOBs as in JSON.
    static func plain(_ v: SQLValue) -> String {
        switch v {
        case .null: ""
        case .integer(let i): String(i)
        case .real(let d): d.isNaN ? "" : d.description  // "inf", "-inf" for infinities
        case .text(let s): s
        case .blob(let b): blobText(b)
        }
    }

    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return s
        }
        return "\"" + s.replacingAll("\"", with: "\"\"") + "\""
    }

    static func json(_ v: SQLValue) -> String {
        switch v {
        case .null: "null"
        case .integer(let i): String(i)
        case .real(let d): JSON.number(d)
        case .text(let s): JSON.string(s)
        case .blob(let b): b.count % 4 == 0 ? blobText(b) : JSON.string(base64(b))
        }
    }

    /// A vector BLOB as a JSON array of float32 (NaN as null); other BLOBs as base64.
    static func blobText(_ b: [UInt8]) -> String {
        guard b.count % 4 == 0 else { return base64(b) }
        let values = b.withUnsafeBytes { Vector($0).array }
        return "["
            + values.map { $0.isNaN ? "null" : ($0.isInfinite ? ($0 > 0 ? "1e999" : "-1e999") : JSON.number($0)) }
            .joined(separator: ",") + "]"
    }

    /// Standard base64 (RFC 4648) with padding.
    public static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var chunk = UInt32(bytes[i]) << 16
            if n > 1 { chunk |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { chunk |= UInt32(bytes[i + 2]) }
            for k in 0..<4 {
                out.append(k <= n ? alphabet[Int(chunk >> (18 - 6 * UInt32(k)) & 63)] : "=")
            }
            i += 3
        }
        return out
    }
}

extension String {
    /// Replaces every occurrence of `target` (no Foundation in this module).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}
