import Store

/// FNV-1a 64-bit (Fowler, Noll, Vo): a short, stable digest for split fingerprints. Not
/// cryptographic; it only has to notice that the set of (image, split) pairs changed.
struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01B3
        }
    }

    /// 16 lowercase hex digits.
    public var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

/// The fingerprint of a split: FNV-1a 64 over the lines "image_id split\n", sorted by image id.
/// `sqlite3 db "SELECT id || ' ' || split FROM images ORDER BY id"` gives the same lines.
public func splitFingerprint(_ pairs: [(imageID: Int64, partition: Split)]) -> String {
    var h = FNV1a64()
    for pair in pairs.sorted(by: { $0.imageID < $1.imageID }) {
        h.update("\(pair.imageID) \(pair.partition.rawValue)\n".utf8)
    }
    return h.hex
}
