/// Walks JPEG markers without decoding, to tell a cut-short file from a damaged one: TurboJPEG
/// reports both as "premature end" warnings.
enum JPEGStructure {
    /// True when the marker sequence runs, through every scan's entropy-coded data, to an EOI marker.
    /// A file cut anywhere before its EOI is incomplete; trailing bytes after EOI are fine.
    static func reachesEOI(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var pos = 2  // after SOI
        while pos + 1 < bytes.count {
            guard bytes[pos] == 0xFF else { return false }
            let marker = bytes[pos + 1]
            switch marker {
            case 0xFF: pos += 1  // fill byte
            case 0xD9: return true
            case 0x01, 0xD0...0xD8: pos += 2  // no length field
            default:
                guard pos + 3 < bytes.count else { return false }
                let length = Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
                guard length >= 2 else { return false }
                pos += 2 + length
                if marker == 0xDA {
                    // Entropy-coded data: 0xFF is followed by a stuffed 0x00 or a restart marker
                    // inside it; any other 0xFF xx is the next marker.
                    while pos + 1 < bytes.count {
                        if bytes[pos] == 0xFF, bytes[pos + 1] != 0x00, !(0xD0...0xD7).contains(bytes[pos + 1]) { break }
                        pos += 1
                    }
                }
            }
        }
        return false
    }
}
