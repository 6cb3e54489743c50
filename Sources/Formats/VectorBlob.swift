/// The vector BLOB of schema.sql: `count` IEEE-754 float32 values, little-endian, no header
/// (numpy: `np.frombuffer(blob, dtype="<f4")`). The one place that encodes and decodes it; the
/// `.f32` reference files use the same layout.
public enum VectorBlob {
    /// Bytes per value.
    public static let stride = 4

    /// Whether `byteCount` bytes hold a whole number of values.
    public static func isWhole(byteCount: Int) -> Bool { byteCount % stride == 0 }

    /// The BLOB of `values`.
    public static func bytes(_ values: some Collection<Float>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * stride)
        out.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: stride * i, as: UInt32.self)
            }
        }
        return out
    }

    /// Calls `body` with the BLOB bytes of `values`, without a copy on a little-endian host.
    public static func withBytes<R>(_ values: [Float], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        #if _endian(little)
            return try values.withUnsafeBytes(body)
        #else
            return try bytes(values).withUnsafeBytes(body)
        #endif
    }

    /// The values of a BLOB (any alignment; a trailing partial value is ignored).
    public static func floats(_ raw: UnsafeRawBufferPointer) -> [Float] {
        [Float](unsafeUninitializedCapacity: raw.count / stride) { out, initialized in
            copy(raw, into: out.baseAddress!)
            initialized = raw.count / stride
        }
    }

    /// Decodes the BLOB `raw` into `output` (raw.count / 4 values), which need not be aligned with it.
    public static func copy(_ raw: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<Float>) {
        let n = raw.count / stride
        guard n > 0, let base = raw.baseAddress else { return }
        #if _endian(little)
            UnsafeMutableRawPointer(output).copyMemory(from: base, byteCount: n * stride)
        #else
            for i in 0..<n { output[i] = Vector(raw)[i] }
        #endif
    }
}

/// A read-only view of a vector BLOB, valid as long as the bytes it wraps (SQLite's are unaligned).
public struct Vector {
    public let bytes: UnsafeRawBufferPointer

    /// Wraps `bytes`, whose count must be a multiple of 4 (checked by the caller).
    public init(_ bytes: UnsafeRawBufferPointer) {
        precondition(VectorBlob.isWhole(byteCount: bytes.count), "Vector: \(bytes.count) bytes is not a multiple of 4")
        self.bytes = bytes
    }

    /// Number of values.
    public var count: Int { bytes.count / VectorBlob.stride }

    /// Value `i`, read unaligned.
    @inline(__always)
    public subscript(i: Int) -> Float {
        Float(
            bitPattern: UInt32(
                littleEndian: bytes.loadUnaligned(fromByteOffset: VectorBlob.stride * i, as: UInt32.self)))
    }

    /// The values as an array.
    public var array: [Float] { VectorBlob.floats(bytes) }
}
