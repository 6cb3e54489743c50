/// 1x1 convolution over `pixels` NHWC pixels: output (pixels x n) = input (pixels x k) · weights (k x n)
/// + bias (+ residual), then the clamp. Pixels are GEMM rows (NHWC): the memory-bound expand layers
/// then stream their output once instead of transposing it.
///
/// The output starts as bias (+ residual) and the GEMM accumulates onto it (beta = 1): with beta = 0
/// OpenBLAS first zeroes C in a pass of its own, which costs more than the fill at small K, and a
/// linear projection with a residual needs no pass after the GEMM at all. The residual is thus added before the K-sum rather than after
/// (Keras adds it after the projection's BatchNorm): a last-bit difference, the same for every image.
public func pointwise(
    _ input: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    _ output: UnsafeMutablePointer<Float>, pixels: Int, inChannels k: Int, outChannels n: Int,
    clamp: Clamp, residual: UnsafePointer<Float>? = nil
) {
    if let residual {
        fillRows(output, with: bias, plus: residual, rows: pixels, columns: n)
    } else {
        fillRows(output, with: bias, rows: pixels, columns: n)
    }
    gemm(input, weights, output, m: pixels, n: n, k: k, beta: 1)
    if clamp != .linear { clampInPlace(output, count: pixels * n, clamp: clamp) }
}

/// Every row of `x` (rows x columns) set to `row`.
func fillRows(_ x: UnsafeMutablePointer<Float>, with row: UnsafePointer<Float>, rows: Int, columns n: Int) {
    let vectors = n / 8
    for r in 0..<rows {
        let out = x + r * n
        for j in 0..<vectors { store8(load8(row + 8 * j), out + 8 * j) }
        for j in (vectors * 8)..<n { out[j] = row[j] }
    }
}

/// Every row of `x` (rows x columns) set to `row` + that row of `residual`.
func fillRows(
    _ x: UnsafeMutablePointer<Float>, with row: UnsafePointer<Float>, plus residual: UnsafePointer<Float>, rows: Int,
    columns n: Int
) {
    let vectors = n / 8
    for r in 0..<rows {
        let out = x + r * n
        let res = residual + r * n
        for j in 0..<vectors { store8(load8(row + 8 * j) + load8(res + 8 * j), out + 8 * j) }
        for j in (vectors * 8)..<n { out[j] = row[j] + res[j] }
    }
}

/// `count` floats in place: x = clamp(x).
func clampInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, clamp: Clamp) {
    let lo = SIMD8<Float>(repeating: clamp.lo)
    let hi = SIMD8<Float>(repeating: clamp.hi)
    let vectors = count / 8
    for j in 0..<vectors { store8(clamp8(load8(x + 8 * j), lo, hi), x + 8 * j) }
    for j in (vectors * 8)..<count { x[j] = clamp1(x[j], clamp.lo, clamp.hi) }
}

/// Naive 1x1 convolution for tests: Double accumulation, no BLAS.
public func pointwiseReference(
    _ input: [Float], weights: [Float], bias: [Float], pixels: Int, inChannels k: Int, outChannels n: Int,
    clamp: Clamp, residual: [Float]? = nil
) -> [Float] {
    precondition(
        input.count == pixels * k && weights.count == k * n && bias.count == n
            && (residual?.count ?? pixels * n) == pixels * n,
        "pointwiseReference: input \(input.count) weights \(weights.count) bias \(bias.count) for \(pixels)x\(k)->\(n)")
    var out = [Float](repeating: 0, count: pixels * n)
    for p in 0..<pixels {
        for j in 0..<n {
            var a = 0.0
            for i in 0..<k { a += Double(input[p * k + i]) * Double(weights[i * n + j]) }
            var v = Float(a) + bias[j]
            if let residual { v += residual[p * n + j] }
            out[p * n + j] = min(max(v, clamp.lo), clamp.hi)
        }
    }
    return out
}
