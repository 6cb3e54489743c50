import Store

/// The BLOB encoding of schema.sql (little-endian float32), written independently of the code under test.
public func blob(_ v: [Float]) -> SQLValue {
    var bytes: [UInt8] = []
    for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
    return .blob(bytes)
}
