/// The small amount of JSON tlearn reads and writes outside Foundation (SQL functions, `.keras`
/// configs): the loadable extension must not drag libFoundation into a C host process.
public enum JSON {
    /// `[1.5,-0.25,...]`: each float32 in its shortest form that reads back to the same float32.
    /// Non-finite values have no JSON form: throws with the index.
    public static func array(_ values: [Float]) throws(JSONError) -> String {
        var out = "["
        out.reserveCapacity(values.count * 12 + 2)
        for (i, v) in values.enumerated() {
            guard v.isFinite else { throw JSONError("element \(i) is \(v), which JSON cannot represent") }
            if i > 0 { out += "," }
            out += number(v)
        }
        return out + "]"
    }

    /// The shortest decimal that reads back as `v` (Swift's description, `1.0` written as `1.0`).
    public static func number(_ v: Float) -> String { v.description }

    /// The shortest decimal that reads back as `v`; infinities as `±1e999`, which JSON parsers
    /// read as infinity; NaN as `null`.
    public static func number(_ v: Double) -> String {
        if v.isNaN { return "null" }
        if v.isInfinite { return v > 0 ? "1e999" : "-1e999" }
        return v.description
    }

    /// A JSON string literal with the escapes RFC 8259 requires.
    public static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// Parses a JSON array of numbers into float32 values (each number rounded once, to nearest).
    public static func floats(_ text: String) throws(JSONError) -> [Float] {
        var p = Parser(text)
        var out: [Float] = []
        try p.array { (p: inout Parser) throws(JSONError) in
            let start = p.i
            let literal = try p.number()
            guard let f = Float(literal) else {
                throw JSONError("cannot read \(literal) at offset \(start) as a number")
            }
            guard f.isFinite else { throw JSONError("\(literal) at offset \(start) is out of float32 range") }
            out.append(f)
        }
        try p.end()
        return out
    }

    /// Parses a JSON array of strings.
    public static func strings(_ text: String) throws(JSONError) -> [String] {
        var p = Parser(text)
        var out: [String] = []
        try p.array { (p: inout Parser) throws(JSONError) in out.append(try p.string()) }
        try p.end()
        return out
    }
}

/// A malformed JSON input or a value JSON cannot hold.
public struct JSONError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A cursor over UTF-8 bytes for the two array shapes above.
struct Parser {
    let bytes: [UInt8]
    var i = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    func describe(_ c: UInt8?) -> String {
        guard let c else { return "end of text" }
        return c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
    }

    mutating func expect(_ c: UInt8) throws(JSONError) {
        skipSpace()
        guard peek == c else {
            throw JSONError("expected '\(Character(Unicode.Scalar(c)))' at offset \(i), found \(describe(peek))")
        }
        i += 1
    }

    /// `[ elem (, elem)* ]` or `[ ]`.
    mutating func array(_ element: (inout Parser) throws(JSONError) -> Void) throws(JSONError) {
        try expect(UInt8(ascii: "["))
        skipSpace()
        if peek == UInt8(ascii: "]") {
            i += 1
            return
        }
        while true {
            skipSpace()
            try element(&self)
            skipSpace()
            if peek == UInt8(ascii: ",") {
                i += 1
                continue
            }
            try expect(UInt8(ascii: "]"))
            return
        }
    }

    mutating func end() throws(JSONError) {
        skipSpace()
        if i != bytes.count { throw JSONError("unexpected \(describe(peek)) at offset \(i) after the array") }
    }

    /// A number in strict JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    mutating func number() throws(JSONError) -> String {
        let start = i
        func digits(_ p: inout Parser) -> Int {
            let s = p.i
            while let c = p.peek, c >= 0x30 && c <= 0x39 { p.i += 1 }
            return p.i - s
        }
        if peek == UInt8(ascii: "-") { i += 1 }
        if peek == UInt8(ascii: "0") {
            i += 1
        } else if digits(&self) == 0 {
            throw JSONError(
                "expected a number at offset \(start), found \(describe(bytes.indices.contains(start) ? bytes[start] : nil))"
            )
        }
        if peek == UInt8(ascii: ".") {
            i += 1
            if digits(&self) == 0 { throw JSONError("expected digits after '.' at offset \(i)") }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            i += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { i += 1 }
            if digits(&self) == 0 { throw JSONError("expected exponent digits at offset \(i)") }
        }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    /// A string literal with escapes, including \uXXXX surrogate pairs.
    mutating func string() throws(JSONError) -> String {
        try expect(UInt8(ascii: "\""))
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw JSONError("unterminated string") }
            i += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let e = peek else { throw JSONError("unterminated escape") }
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00, peek == UInt8(ascii: "\\"),
                        i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "u")
                    {
                        i += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else {
                            throw JSONError("invalid surrogate pair at offset \(i)")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw JSONError("invalid \\u escape at offset \(i)") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw JSONError("invalid escape \\\(Character(Unicode.Scalar(e))) at offset \(i - 1)")
                }
            case 0..<0x20:
                throw JSONError("control character in string at offset \(i - 1)")
            default:
                out.append(c)
            }
        }
    }

    mutating func hex4() throws(JSONError) -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
            throw JSONError("invalid \\u escape at offset \(i)")
        }
        i += 4
        return v
    }
}
