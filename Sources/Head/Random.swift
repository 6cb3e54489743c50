/// SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", 2014):
/// the one source of randomness in training, so a seed fixes every weight and every batch order.
/// Swift's own `shuffle(using:)` and `random(in:using:)` are not promised stable across releases,
/// so bounded integers and floats are derived here too.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose whole output is determined by `seed`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in 0..<bound without modulo bias (Lemire 2019, "Fast random integer generation in an interval").
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "SplitMix64.below: bound must be positive, got \(bound)")
        let s = UInt64(bound)
        var m = next().multipliedFullWidth(by: s)
        if m.low < s {
            let threshold = (0 &- s) % s
            while m.low < threshold { m = next().multipliedFullWidth(by: s) }
        }
        return Int(m.high)
    }

    /// Uniform in [0, 1) with 24 random bits, every value exactly representable as Float.
    mutating func unitFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Fisher-Yates shuffle of `array` in place.
    mutating func shuffle<T>(_ array: inout [T]) {
        var i = array.count
        while i > 1 {
            let j = below(i)
            i -= 1
            array.swapAt(i, j)
        }
    }
}

/// Keras `glorot_uniform`: U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)), for a
/// Dense kernel of shape (fanIn, fanOut), drawn row-major.
func glorotUniform(fanIn: Int, fanOut: Int, using rng: inout SplitMix64) -> [Float] {
    let limit = (6 / Float(fanIn + fanOut)).squareRoot()
    return (0..<(fanIn * fanOut)).map { _ in -limit + 2 * limit * rng.unitFloat() }
}
