/// The shape of a feature map: `height` x `width` pixels of `channels` values, NHWC.
public struct MapShape: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let height: Int
    public let width: Int
    public let channels: Int

    public init(height: Int, width: Int, channels: Int) {
        self.height = height
        self.width = width
        self.channels = channels
    }

    /// Pixels per map.
    public var pixels: Int { height * width }
    /// Values per map.
    public var count: Int { height * width * channels }

    public var description: String { "\(height)x\(width)x\(channels)" }
}

/// The maps BLOB of schema.sql: one feature map (height x width x channels, NHWC, row-major) as
/// IEEE-754 float16 values, little-endian, no header (numpy: `np.frombuffer(blob, "<f2")`).
/// The one place that encodes and decodes it.
public enum MapBlob {
    /// Bytes per value.
    public static let stride = 2

    /// Bytes of one map of `shape`.
    public static func byteCount(_ shape: MapShape) -> Int { shape.count * stride }

    /// The BLOB of `count` values, each rounded to the nearest float16 (ties to even). Values beyond
    /// float16's range (65504) would become infinities: callers check with `fits` first.
    public static func bytes(_ values: UnsafePointer<Float>, count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count * stride) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            for i in 0..<count {
                raw.storeBytes(
                    of: Float16(values[i]).bitPattern.littleEndian, toByteOffset: stride * i, as: UInt16.self)
            }
            initialized = count * stride
        }
    }

    /// Whether every value is finite and within float16's range, so `bytes` keeps it finite.
    public static func fits(_ values: UnsafePointer<Float>, count: Int) -> Bool {
        for i in 0..<count where !(abs(values[i]) <= Float(Float16.greatestFiniteMagnitude)) { return false }
        return true
    }

    /// Decodes the BLOB `raw` (raw.count / 2 values, any alignment) into float32 `output`.
    public static func copy(_ raw: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<Float>) {
        for i in 0..<(raw.count / stride) {
            output[i] = Float(
                Float16(
                    bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: stride * i, as: UInt16.self))))
        }
    }

    /// The values of a BLOB as float32.
    public static func floats(_ raw: UnsafeRawBufferPointer) -> [Float] {
        [Float](unsafeUninitializedCapacity: raw.count / stride) { out, initialized in
            copy(raw, into: out.baseAddress!)
            initialized = raw.count / stride
        }
    }
}
