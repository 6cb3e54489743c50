import Kernels

#if canImport(Glibc)
    import Glibc
#endif

/// A classifier as a run stores it (`runs.head`, with `runs.classes`, `runs.dim` and the config's
/// model kind and map shape), and the one function that applies it: `tlearn predict`, `evaluate`,
/// training's final metrics and SQL's `head_predict`/`head_proba` all call `logits` here.
///
/// Parameters, float32 little-endian in the BLOB, in this order:
/// - finetune only, the tuned top: Conv_1 kernel (channels x dim, row-major: Keras's (1, 1, channels,
///   dim)) then its bias (dim), BatchNorm folded in;
/// - the Dense layer: W (dim x classes, row-major) then b (classes). logits = x W + b.
public struct StoredModel: Sendable, Equatable {
    public let kind: ModelKind
    /// Class names in logit order.
    public let classes: [String]
    /// Width of the Dense layer's input: the embedding (1280 at alpha <= 1).
    public let dim: Int
    /// The maps a finetune model reads (block_16's output); nil for vector models.
    public let map: MapShape?
    /// Every parameter, in the BLOB's order.
    public let parameters: [Float]
    /// W widened once (so logits are sums of exact products), each row padded with zeros to
    /// `denseStride` values, then b padded the same way: whole SIMD blocks of classes, no tail loop.
    private let denseWide: [Double]
    /// Values per row of `denseWide`: the class count rounded up to a multiple of 8.
    private let denseStride: Int

    /// Number of classes.
    public var classCount: Int { classes.count }
    /// Floats of one input: `dim` for a vector model, the map's values for a finetune model.
    public var inputCount: Int { map?.count ?? dim }
    /// Offset of W in `parameters`.
    var denseOffset: Int { map.map { $0.channels * dim + dim } ?? 0 }

    /// The parameter count of a model of this shape.
    public static func parameterCount(classes: Int, dim: Int, map: MapShape?) -> Int {
        (map.map { $0.channels * dim + dim } ?? 0) + dim * classes + classes
    }

    /// Checks the shapes (a kind that reads maps needs `map`, one that does not must not have one).
    public init(kind: ModelKind, classes: [String], dim: Int, map: MapShape? = nil, parameters: [Float])
        throws(FormatError)
    {
        try Self.checkShape(kind: kind, classes: classes, dim: dim, map: map)
        let expected = Self.parameterCount(classes: classes.count, dim: dim, map: map)
        guard parameters.count == expected else {
            throw FormatError(
                "\(parameters.count) parameters for a \(kind.rawValue) model of dim \(dim), \(classes.count) classes"
                    + (map.map { " and \($0) maps" } ?? "") + "; expected \(expected)")
        }
        self.kind = kind
        self.classes = classes
        self.dim = dim
        self.map = map
        self.parameters = parameters
        let offset = map.map { $0.channels * dim + dim } ?? 0
        let c = classes.count
        let stride = (c + 7) / 8 * 8
        var wide = [Double](repeating: 0, count: (dim + 1) * stride)
        for i in 0...dim {
            for j in 0..<c { wide[i * stride + j] = Double(parameters[offset + i * c + j]) }
        }
        denseWide = wide
        denseStride = stride
    }

    /// Reads a `runs.head` BLOB.
    public init(kind: ModelKind, classes: [String], dim: Int, map: MapShape? = nil, blob: UnsafeRawBufferPointer)
        throws(FormatError)
    {
        try Self.checkShape(kind: kind, classes: classes, dim: dim, map: map)
        let expected = Self.parameterCount(classes: classes.count, dim: dim, map: map)
        guard blob.count == VectorBlob.stride * expected else {
            throw FormatError(
                "the head BLOB is \(blob.count) bytes; a \(kind.rawValue) model of dim \(dim) and \(classes.count) classes"
                    + (map.map { " reading \($0) maps" } ?? "") + " needs \(VectorBlob.stride * expected)")
        }
        try self.init(kind: kind, classes: classes, dim: dim, map: map, parameters: VectorBlob.floats(blob))
    }

    /// Throws unless a model of `kind` can have these classes, dim and maps (bounds keep sizes from overflowing).
    private static func checkShape(kind: ModelKind, classes: [String], dim: Int, map: MapShape?) throws(FormatError) {
        guard kind != .knn else {
            throw FormatError("a knn baseline stores no parameters: it cannot predict from a vector")
        }
        guard !classes.isEmpty else { throw FormatError("the class list is empty") }
        guard dim > 0 && dim < 1 << 24 else { throw FormatError("dim is \(dim)") }
        if kind.readsMaps {
            guard let map else { throw FormatError("a \(kind.rawValue) model needs the shape of its maps") }
            let sides = [map.height, map.width, map.channels]
            guard sides.allSatisfy({ (1..<(1 << 16)).contains($0) }) else {
                throw FormatError("maps of shape \(sides) are not a feature map")
            }
        } else if map != nil {
            throw FormatError("a \(kind.rawValue) model reads vectors, not maps")
        }
    }

    /// The `runs.head` BLOB.
    public var blob: [UInt8] { VectorBlob.bytes(parameters) }

    /// The tuned Conv_1 of a finetune model: kernel (channels x dim) and bias (dim).
    public var top: (kernel: ArraySlice<Float>, bias: ArraySlice<Float>)? {
        guard let map else { return nil }
        let k = map.channels * dim
        return (parameters[0..<k], parameters[k..<(k + dim)])
    }

    /// The Dense layer: W (dim x classes, row-major) and b.
    public var dense: (weights: ArraySlice<Float>, bias: ArraySlice<Float>) {
        let w = denseOffset
        let b = w + dim * classCount
        return (parameters[w..<b], parameters[b...])
    }

    /// Logits of one input (`inputCount` floats) into `logits` (`classCount` values). `scratch` holds
    /// `scratchCount` floats (finetune: the Conv_1 output); vector models do not touch it.
    ///
    /// Dense sums run in Double over exact float products, in input order, so the result depends on the
    /// input alone. A finetune model's top is the backbone's own code path (one image's Conv_1 GEMM with
    /// single-threaded BLAS, ReLU6, pooling): with the backbone's Conv_1 it gives its embedding bit for bit.
    public func logits(
        _ input: UnsafePointer<Float>, into logits: UnsafeMutablePointer<Double>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        if let map {
            let pooled = scratch + map.pixels * dim
            parameters.withUnsafeBufferPointer { p in
                BLASThreads.set(1)
                pointwise(
                    input, weights: p.baseAddress!, bias: p.baseAddress! + map.channels * dim, scratch,
                    pixels: map.pixels, inChannels: map.channels, outChannels: dim, clamp: .relu6)
            }
            globalAveragePool(scratch, pixels: map.pixels, channels: dim, into: pooled)
            denseLogits(UnsafePointer(pooled), into: logits)
        } else {
            denseLogits(input, into: logits)
        }
    }

    /// Floats of scratch space `logits` needs.
    public var scratchCount: Int { map.map { $0.pixels * dim + dim } ?? 0 }

    /// z = b + sum_i x_i W_i over the nonzero x_i in input order, each product exact in Double: the
    /// same bits as the many-row kernel. One row's sum is one chain of dependent adds, so it is kept
    /// as short as the row's nonzero inputs (often half of a ReLU6 embedding) rather than run beside
    /// copies of itself.
    private func denseLogits(_ x: UnsafePointer<Float>, into z: UnsafeMutablePointer<Double>) {
        let c = classCount
        let d = dim
        let s = denseStride
        // Uninitialized: SQL's head_predict comes here once per row, and only what is written is read.
        let values = UnsafeMutablePointer<Double>.allocate(capacity: d)
        let offsets = UnsafeMutablePointer<Int>.allocate(capacity: d)
        defer {
            values.deallocate()
            offsets.deallocate()
        }
        var n = 0
        for i in 0..<d where x[i] != 0 {
            values[n] = Double(x[i])
            offsets[n] = i * s
            n += 1
        }
        denseWide.withUnsafeBufferPointer { w in
            let w = w.baseAddress!
            let bias = w + d * s
            var j = 0
            while j < s {
                var sum = UnsafeRawPointer(bias + j).loadUnaligned(as: SIMD8<Double>.self)
                for k in 0..<n {
                    let row = UnsafeRawPointer(w + offsets[k] + j).loadUnaligned(as: SIMD8<Double>.self)
                    sum += SIMD8(repeating: values[k]) * row
                }
                Self.store(sum, lanes: min(8, c - j), to: z + j)
                j += 8
            }
        }
    }

    /// Rows `denseLogits(rows:)` takes at once.
    static let rowBlock = 8

    /// `logits` of up to `rowBlock` inputs, `inputs[r]` into `z + r * classCount`: the same bits as one
    /// call per input. W in Double outgrows a core's L2 with many classes (1280 x 100: 1 MB), so
    /// reading each of its rows once for several inputs instead of once per input keeps it fast.
    public func logits(
        rows inputs: UnsafeBufferPointer<UnsafePointer<Float>>, into z: UnsafeMutablePointer<Double>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        guard map == nil, inputs.count > 1 else {
            for (r, x) in inputs.enumerated() { logits(x, into: z + r * classCount, scratch: scratch) }
            return
        }
        var start = 0
        while start < inputs.count {
            let end = min(start + Self.rowBlock, inputs.count)
            denseLogits(rows: UnsafeBufferPointer(rebasing: inputs[start..<end]), into: z + start * classCount)
            start = end
        }
    }

    /// Logits of each of `xs` (at most `rowBlock`), into `z + r * classCount`: z_j = b_j, then
    /// z_j += x_i W_ij for each nonzero x_i in input order, every lane the same IEEE multiply and add
    /// (no fused multiply-add), so a row's logits do not depend on the rows beside it. Each block of
    /// W's columns is read for all the rows before the next, four rows summed side by side (one
    /// row's sum is a chain of dependent adds; four chains keep the adder busy), a zero input skipped
    /// by a select rather than a branch.
    private func denseLogits(rows xs: UnsafeBufferPointer<UnsafePointer<Float>>, into z: UnsafeMutablePointer<Double>) {
        let c = classCount
        denseWide.withUnsafeBufferPointer { w in
            var j = 0
            while j < denseStride {
                let wide = j + 16 <= denseStride
                var first = 0
                while first < xs.count {
                    let n = min(4, xs.count - first)
                    if n == 1 {
                        if j == 0 { denseLogits(xs[first], into: z + first * c) }
                        first += 1
                        continue
                    }
                    // Two or three rows: the first one fills the empty places, and only n are stored.
                    let x = (xs[first], xs[first + min(1, n - 1)], xs[first + min(2, n - 1)], xs[first + min(3, n - 1)])
                    // `wide` as a literal in each call, so each inlined copy keeps only its own loop body.
                    if wide {
                        denseBlock(x, w.baseAddress!, column: j, wide: true, rows: n, into: z + first * c)
                    } else {
                        denseBlock(x, w.baseAddress!, column: j, wide: false, rows: n, into: z + first * c)
                    }
                    first += n
                }
                j += wide ? 16 : 8
            }
        }
    }

    /// Logits j..<j+8 (j+16 when `wide`) of four rows, the first `rows` of them stored from `z` on.
    @inline(__always)
    private func denseBlock(
        _ x: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
        _ w: UnsafePointer<Double>, column j: Int, wide: Bool, rows: Int, into z: UnsafeMutablePointer<Double>
    ) {
        let c = classCount
        let s = denseStride
        let bias = w + dim * s + j
        let b0 = UnsafeRawPointer(bias).loadUnaligned(as: SIMD8<Double>.self)
        let b1 = wide ? UnsafeRawPointer(bias + 8).loadUnaligned(as: SIMD8<Double>.self) : .zero
        var (a0, a1, a2, a3) = (b0, b0, b0, b0)
        var (h0, h1, h2, h3) = (b1, b1, b1, b1)
        for i in 0..<dim {
            let row = w + i * s + j
            let lo = UnsafeRawPointer(row).loadUnaligned(as: SIMD8<Double>.self)
            let (v0, v1, v2, v3) = (x.0[i], x.1[i], x.2[i], x.3[i])
            a0.replace(with: a0 + SIMD8(repeating: Double(v0)) * lo, where: .init(repeating: v0 != 0))
            a1.replace(with: a1 + SIMD8(repeating: Double(v1)) * lo, where: .init(repeating: v1 != 0))
            a2.replace(with: a2 + SIMD8(repeating: Double(v2)) * lo, where: .init(repeating: v2 != 0))
            a3.replace(with: a3 + SIMD8(repeating: Double(v3)) * lo, where: .init(repeating: v3 != 0))
            if wide {
                let hi = UnsafeRawPointer(row + 8).loadUnaligned(as: SIMD8<Double>.self)
                h0.replace(with: h0 + SIMD8(repeating: Double(v0)) * hi, where: .init(repeating: v0 != 0))
                h1.replace(with: h1 + SIMD8(repeating: Double(v1)) * hi, where: .init(repeating: v1 != 0))
                h2.replace(with: h2 + SIMD8(repeating: Double(v2)) * hi, where: .init(repeating: v2 != 0))
                h3.replace(with: h3 + SIMD8(repeating: Double(v3)) * hi, where: .init(repeating: v3 != 0))
            }
        }
        func put(_ r: Int, _ lo: SIMD8<Double>, _ hi: SIMD8<Double>) {
            guard r < rows else { return }
            Self.store(lo, lanes: min(8, c - j), to: z + r * c + j)
            if wide { Self.store(hi, lanes: min(8, c - j - 8), to: z + r * c + j + 8) }
        }
        put(0, a0, h0)
        put(1, a1, h1)
        put(2, a2, h2)
        put(3, a3, h3)
    }

    /// Stores the first `lanes` values of `v` (the rest are padding classes).
    private static func store(_ v: SIMD8<Double>, lanes: Int, to p: UnsafeMutablePointer<Double>) {
        if lanes == 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Double>.self)
        } else {
            for l in 0..<max(lanes, 0) { p[l] = v[l] }
        }
    }

    /// Logits of `count` inputs (count x inputCount floats, row-major): count x classCount values.
    public func logits(_ inputs: UnsafePointer<Float>, count: Int) -> [Double] {
        let c = classCount
        let n = inputCount
        var scratch = [Float](repeating: 0, count: max(scratchCount, 1))
        let rows = (0..<count).map { inputs + $0 * n }
        return [Double](unsafeUninitializedCapacity: count * c) { out, initialized in
            scratch.withUnsafeMutableBufferPointer { s in
                rows.withUnsafeBufferPointer { logits(rows: $0, into: out.baseAddress!, scratch: s.baseAddress!) }
            }
            initialized = count * c
        }
    }

    /// Class probabilities of `count` inputs: count x classCount values, each row the softmax of its logits.
    public func probabilities(_ inputs: UnsafePointer<Float>, count: Int) -> [Double] {
        var z = logits(inputs, count: count)
        let c = classCount
        z.withUnsafeMutableBufferPointer { z in
            for r in 0..<count { softmax(z.baseAddress! + r * c, count: c) }
        }
        return z
    }

    /// Probabilities of the inputs in `x` (a whole number of inputs).
    public func probabilities(_ x: [Float]) -> [Double] {
        precondition(
            x.count % inputCount == 0,
            "StoredModel: \(x.count) floats is not a whole number of \(inputCount)-float inputs")
        return x.withUnsafeBufferPointer { probabilities($0.baseAddress!, count: x.count / inputCount) }
    }

    /// Logits of the inputs in `x` (a whole number of inputs).
    public func logits(_ x: [Float]) -> [Double] {
        precondition(
            x.count % inputCount == 0,
            "StoredModel: \(x.count) floats is not a whole number of \(inputCount)-float inputs")
        return x.withUnsafeBufferPointer { logits($0.baseAddress!, count: x.count / inputCount) }
    }

    /// The predicted class of each row of `logits`: the largest, the first one on ties (numpy.argmax).
    public func predictions(_ logits: [Double]) -> [Int32] {
        let c = classCount
        return (0..<(logits.count / c)).map { r in Int32(argmax(logits[(r * c)..<((r + 1) * c)])) }
    }

    /// The `k` most probable classes of one probability row, most probable first (ties: lower index).
    public func top(_ k: Int, of probabilities: ArraySlice<Double>) -> [(class: String, probability: Double)] {
        let row = Array(probabilities)
        let order = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }
        return order.prefix(k).map { (classes[$0], row[$0]) }
    }
}

/// Replaces `count` logits by their softmax, the maximum subtracted first so nothing overflows.
public func softmax(_ z: UnsafeMutablePointer<Double>, count: Int) {
    guard count > 0 else { return }
    var m = z[0]
    for j in 1..<count { m = max(m, z[j]) }
    var s = 0.0
    for j in 0..<count {
        z[j] = exp(z[j] - m)
        s += z[j]
    }
    for j in 0..<count { z[j] /= s }
}

/// Index of the largest value, the first one on ties.
public func argmax(_ values: ArraySlice<Double>) -> Int {
    var best = values.startIndex
    for j in values.indices where values[j] > values[best] { best = j }
    return best - values.startIndex
}
