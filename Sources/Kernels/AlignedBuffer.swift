#if canImport(Glibc)
    import Glibc
#endif

/// A 64-byte aligned, uninitialised-then-zeroed float buffer: Swift `Array` storage is only
/// 16-byte aligned, and the SIMD kernels' loads split across cache lines then.
public final class AlignedBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// Allocates `count` floats, zero-filled.
    public init(count: Int) {
        precondition(count >= 0, "AlignedBuffer: negative count \(count)")
        self.count = count
        pointer = allocateFloats(max(count, 16))
        pointer.initialize(repeating: 0, count: max(count, 16))
    }

    /// Copies `values` into a new aligned buffer.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    public var array: [Float] { Array(buffer) }
}

/// Buffers at least this big (bytes) get 2 MB pages of their own.
let hugePageThreshold = 256 << 10

/// Uninitialised room for `count` floats, 64-byte aligned; released with
/// `UnsafeMutableRawPointer.deallocate()`. From `hugePageThreshold` bytes up it is whole 2 MB pages
/// asked to be huge pages (Linux THP is often "madvise"): the forward pass streams ~9 MB of weights
/// and a few MB of strip buffers per image, more than the 4 KB-page TLB covers, and a loaded matrix
/// of vectors or maps is written once in a few thousand page faults otherwise. Costs up to 2 MB of
/// memory per buffer.
public func allocateFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    let bytes = max(count, 1) * 4
    let raw: UnsafeMutableRawPointer
    #if os(Linux)
        if bytes >= hugePageThreshold {
            let huge = 2 << 20
            let rounded = (bytes + huge - 1) / huge * huge
            raw = UnsafeMutableRawPointer.allocate(byteCount: rounded, alignment: huge)
            _ = madvise(raw, rounded, MADV_HUGEPAGE)
        } else {
            raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        }
    #else
        raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
    #endif
    return raw.bindMemory(to: Float.self, capacity: max(count, 1))
}
