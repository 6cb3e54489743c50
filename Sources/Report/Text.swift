#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `s` safe as HTML text and as a double- or single-quoted attribute value: & < > " ' become
/// character references, everything else is kept (the page is UTF-8).
func escapeHTML(_ s: String) -> String {
    guard s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else {
        return s
    }
    var out = ""
    out.reserveCapacity(s.utf8.count + 16)
    for c in s.unicodeScalars {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}

/// JSON text made safe inside `<script type="application/json">`: `<`, `>` and `&` become the JSON
/// escapes \u003c, \u003e, \u0026, so no `</script>` or `<!--` can end the block early. Outside
/// strings JSON has none of these characters, so the document parses to the same value.
func escapeJSONForScript(_ json: String) -> String {
    var out = ""
    out.reserveCapacity(json.utf8.count)
    for c in json.unicodeScalars {
        switch c {
        case "<": out += "\\u003c"
        case ">": out += "\\u003e"
        case "&": out += "\\u0026"
        default: out.unicodeScalars.append(c)
        }
    }
    return out
}

/// A `file://` URL for an absolute path: every byte except unreserved characters and `/`
/// percent-encoded (RFC 3986), so spaces, `#`, `?` and non-ASCII names survive.
public func fileURL(forPath path: String) -> String {
    var out = "file://"
    for b in path.utf8 {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
            out.unicodeScalars.append(Unicode.Scalar(b))
        default:
            let hex = Array("0123456789ABCDEF".unicodeScalars)
            out.unicodeScalars.append("%")
            out.unicodeScalars.append(hex[Int(b >> 4)])
            out.unicodeScalars.append(hex[Int(b & 15)])
        }
    }
    return out
}

/// Standard base64 (RFC 4648, with padding), for `data:` URIs.
public func base64(_ bytes: [UInt8]) -> String {
    let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out = [UInt8]()
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var i = 0
    while i + 3 <= bytes.count {
        let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
        out += [table[Int(v >> 18)], table[Int(v >> 12 & 63)], table[Int(v >> 6 & 63)], table[Int(v & 63)]]
        i += 3
    }
    let rest = bytes.count - i
    if rest == 1 {
        let v = UInt32(bytes[i]) << 16
        out += [table[Int(v >> 18)], table[Int(v >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
    } else if rest == 2 {
        let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
        out += [table[Int(v >> 18)], table[Int(v >> 12 & 63)], table[Int(v >> 6 & 63)], UInt8(ascii: "=")]
    }
    return String(decoding: out, as: UTF8.self)
}

/// printf-style formatting of one number (the module has no Foundation).
func cFormat(_ format: String, _ value: Double) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `value` with `digits` decimals; "–" for nil, and "nan"/"inf" as such.
func fixed(_ value: Double?, _ digits: Int = 3) -> String {
    guard let value else { return "–" }
    return cFormat("%.\(digits)f", value)
}

/// A coordinate for SVG: one decimal, no "-0.0".
func coord(_ v: Double) -> String {
    let s = cFormat("%.1f", v)
    return s == "-0.0" ? "0.0" : s
}

/// A number for a `data-` attribute: Swift's shortest round-trip form, so a reader gets the
/// exact Double back ("nan", "inf" for the non-finite).
func exact(_ v: Double) -> String {
    v.isNaN ? "nan" : v.isInfinite ? (v > 0 ? "inf" : "-inf") : "\(v)"
}

/// "1 image", "3 images".
func plural(_ n: Int, _ noun: String, _ nouns: String? = nil) -> String {
    "\(n) \(n == 1 ? noun : nouns ?? noun + "s")"
}
