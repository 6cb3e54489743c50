import CSIMD

/// An activation applied as a clamp in the kernels' output pass, like XNNPACK's `minmax` kernels:
/// relu6 = (0, 6), linear = (-inf, inf).
public struct Clamp: Sendable, Equatable {
    public let lo: Float
    public let hi: Float

    public init(lo: Float, hi: Float) {
        precondition(lo <= hi, "Clamp: lo \(lo) > hi \(hi)")
        self.lo = lo
        self.hi = hi
    }

    /// Keras `ReLU(6.0)`.
    public static let relu6 = Clamp(lo: 0, hi: 6)
    /// No activation.
    public static let linear = Clamp(lo: -.infinity, hi: .infinity)
}

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

@inline(__always) func clamp8(_ v: SIMD8<Float>, _ lo: SIMD8<Float>, _ hi: SIMD8<Float>) -> SIMD8<Float> {
    // Not pointwiseMin/pointwiseMax (un-inlined generic calls) nor compare + replacing (two compare +
    // blend pairs, twice the micro-ops of vmaxps + vminps on the FMA ports the kernels are bound by).
    csimd_clamp8(v, lo, hi)
}

@inline(__always) func clamp1(_ v: Float, _ lo: Float, _ hi: Float) -> Float {
    v < lo ? lo : (v > hi ? hi : v)
}
