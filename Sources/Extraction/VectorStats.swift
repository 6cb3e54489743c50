/// A few numbers that tell vectors apart at a glance (`tlearn embed` without --json).
public struct VectorStats: Sendable, Equatable {
    public var mean: Float
    public var max: Float
    public var norm: Float
    public var nonzero: Int

    public init(_ v: [Float]) {
        var sum: Float = 0
        var sq: Float = 0
        var hi = -Float.infinity
        var nz = 0
        for x in v {
            sum += x
            sq += x * x
            hi = Swift.max(hi, x)
            if x != 0 { nz += 1 }
        }
        mean = v.isEmpty ? 0 : sum / Float(v.count)
        max = v.isEmpty ? 0 : hi
        norm = sq.squareRoot()
        nonzero = nz
    }
}
