/// NumPy's .npy format, version 1.0 (numpy/lib/format.py): the magic `\x93NUMPY`, version
/// bytes 1 0, a little-endian UInt16 header length, then an ASCII dict padded with spaces and
/// ended by `\n` so that the data starts at a multiple of 64 bytes, then the raw C-order data.
public enum Npy {
    /// The header of a C-order little-endian float32 array of `shape`.
    public static func float32Header(shape: [Int]) -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ")
        let tuple = shape.count == 1 ? "(\(dims),)" : "(\(dims))"
        var dict = Array("{'descr': '<f4', 'fortran_order': False, 'shape': \(tuple), }".utf8)
        let prefix = 10  // magic (6) + version (2) + length (2)
        let total = (prefix + dict.count + 1 + 63) / 64 * 64
        dict += [UInt8](repeating: 0x20, count: total - prefix - dict.count - 1) + [0x0A]
        precondition(dict.count <= Int(UInt16.max), "Npy: header of \(dict.count) bytes needs format 2.0")
        let n = UInt16(dict.count)
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + dict
    }
}
