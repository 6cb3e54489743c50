/// The stem: a dense 3x3 convolution over a 3-channel NHWC image, bias and clamp fused, computed
/// directly (like XNNPACK's `conv-hwc` first-layer kernels) instead of im2col + GEMM: at K = 27 a
/// GEMM is inefficient and needs an unfold pass, a bias fill and a clamp pass on top.
///
/// `weights` is Keras's (3, 3, 3, Cout) kernel flattened to (27, Cout), rows ordered (ky, kx, ci);
/// Cout must be a multiple of 8. Every output sums bias, then the taps in (ky, kx, ci) order, on
/// the fast path and on the border path alike, so which path computed a pixel never shows.
public func conv3x3Channels3(
    _ input: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    _ output: UnsafeMutablePointer<Float>, window g: Window, outChannels n: Int, clamp: Clamp, rows: Range<Int>
) {
    precondition(n % 8 == 0 && n > 0, "conv3x3Channels3: \(n) output channels is not a multiple of 8")
    precondition(rows.lowerBound >= 0 && rows.upperBound <= g.outHeight, "conv3x3Channels3: rows \(rows) outside \(g)")
    let lo = SIMD8<Float>(repeating: clamp.lo)
    let hi = SIMD8<Float>(repeating: clamp.hi)
    let s = g.stride
    let rowStride = g.inWidth * 3
    // Output columns whose 3 taps all fall inside the input.
    let oxFirst = (g.padLeft + s - 1) / s
    let oxLast = min(g.outWidth - 1, g.inWidth - 3 + g.padLeft >= 0 ? (g.inWidth - 3 + g.padLeft) / s : -1)
    for oy in rows {
        let out = output + (oy - rows.lowerBound) * g.outWidth * n
        let iy0 = oy * s - g.padTop
        guard iy0 >= 0 && iy0 + 2 < g.inHeight && oxFirst <= oxLast else {
            for ox in 0..<g.outWidth { conv3x3Pixel(input, weights, bias, out + ox * n, g, n, lo, hi, oy: oy, ox: ox) }
            continue
        }
        for ox in 0..<oxFirst { conv3x3Pixel(input, weights, bias, out + ox * n, g, n, lo, hi, oy: oy, ox: ox) }
        var ox = oxFirst
        while ox + 3 <= oxLast {
            let p = input + iy0 * rowStride + (ox * s - g.padLeft) * 3
            var v = 0
            // 4 pixels x 16 channels: 8 accumulators, one weight vector load feeds 4 FMAs.
            while v + 2 <= n / 8 {
                let b0 = load8(bias + 8 * v)
                let b1 = load8(bias + 8 * v + 8)
                var a0 = b0
                var a1 = b0
                var a2 = b0
                var a3 = b0
                var c0 = b1
                var c1 = b1
                var c2 = b1
                var c3 = b1
                for ky in 0..<3 {
                    let r = p + ky * rowStride
                    for t in 0..<9 {  // (kx, ci) of this kernel row: 9 adjacent floats per pixel
                        let w = weights + (ky * 9 + t) * n + 8 * v
                        let w0 = load8(w)
                        let w1 = load8(w + 8)
                        let x0 = SIMD8(repeating: r[t])
                        let x1 = SIMD8(repeating: r[t + 3 * s])
                        let x2 = SIMD8(repeating: r[t + 6 * s])
                        let x3 = SIMD8(repeating: r[t + 9 * s])
                        a0.addProduct(x0, w0)
                        a1.addProduct(x1, w0)
                        a2.addProduct(x2, w0)
                        a3.addProduct(x3, w0)
                        c0.addProduct(x0, w1)
                        c1.addProduct(x1, w1)
                        c2.addProduct(x2, w1)
                        c3.addProduct(x3, w1)
                    }
                }
                let o = out + ox * n + 8 * v
                store8(clamp8(a0, lo, hi), o)
                store8(clamp8(c0, lo, hi), o + 8)
                store8(clamp8(a1, lo, hi), o + n)
                store8(clamp8(c1, lo, hi), o + n + 8)
                store8(clamp8(a2, lo, hi), o + 2 * n)
                store8(clamp8(c2, lo, hi), o + 2 * n + 8)
                store8(clamp8(a3, lo, hi), o + 3 * n)
                store8(clamp8(c3, lo, hi), o + 3 * n + 8)
                v += 2
            }
            if v < n / 8 {  // an odd number of 8-channel groups (alpha 0.75: 24 channels)
                let b0 = load8(bias + 8 * v)
                var a0 = b0
                var a1 = b0
                var a2 = b0
                var a3 = b0
                for ky in 0..<3 {
                    let r = p + ky * rowStride
                    for t in 0..<9 {
                        let w0 = load8(weights + (ky * 9 + t) * n + 8 * v)
                        a0.addProduct(SIMD8(repeating: r[t]), w0)
                        a1.addProduct(SIMD8(repeating: r[t + 3 * s]), w0)
                        a2.addProduct(SIMD8(repeating: r[t + 6 * s]), w0)
                        a3.addProduct(SIMD8(repeating: r[t + 9 * s]), w0)
                    }
                }
                let o = out + ox * n + 8 * v
                store8(clamp8(a0, lo, hi), o)
                store8(clamp8(a1, lo, hi), o + n)
                store8(clamp8(a2, lo, hi), o + 2 * n)
                store8(clamp8(a3, lo, hi), o + 3 * n)
            }
            ox += 4
        }
        while ox < g.outWidth {
            conv3x3Pixel(input, weights, bias, out + ox * n, g, n, lo, hi, oy: oy, ox: ox)
            ox += 1
        }
    }
}

/// One output pixel, all channels, taps outside the input skipped (they are zero padding).
@inline(__always)
private func conv3x3Pixel(
    _ input: UnsafePointer<Float>, _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>,
    _ out: UnsafeMutablePointer<Float>,
    _ g: Window, _ n: Int, _ lo: SIMD8<Float>, _ hi: SIMD8<Float>, oy: Int, ox: Int
) {
    let iy0 = oy * g.stride - g.padTop
    let ix0 = ox * g.stride - g.padLeft
    for v in 0..<(n / 8) {
        var a = load8(bias + 8 * v)
        for ky in 0..<3 where iy0 + ky >= 0 && iy0 + ky < g.inHeight {
            for kx in 0..<3 where ix0 + kx >= 0 && ix0 + kx < g.inWidth {
                let p = input + ((iy0 + ky) * g.inWidth + ix0 + kx) * 3
                for ci in 0..<3 {
                    a.addProduct(SIMD8(repeating: p[ci]), load8(weights + ((ky * 3 + kx) * 3 + ci) * n + 8 * v))
                }
            }
        }
        store8(clamp8(a, lo, hi), out + 8 * v)
    }
}

/// The oracle for `conv3x3Channels3`: plain loops in Double over the zero-padded taps of a full 3x3
/// convolution of a 3-channel (h, w, 3) map; `weights` is Keras's (3, 3, 3, outChannels).
public func conv3x3Reference(
    _ x: [Float], weights w: [Float], bias b: [Float], window g: Window, outChannels n: Int, clamp: Clamp
) -> [Float] {
    precondition(
        x.count == g.inHeight * g.inWidth * 3 && w.count == 27 * n && b.count == n,
        "conv3x3Reference: input \(x.count) weights \(w.count) bias \(b.count) for \(g), \(n) channels")
    var out: [Float] = []
    out.reserveCapacity(g.outHeight * g.outWidth * n)
    for oy in 0..<g.outHeight {
        for ox in 0..<g.outWidth {
            for co in 0..<n {
                var a = Double(b[co])
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        let iy = oy * g.stride - g.padTop + ky
                        let ix = ox * g.stride - g.padLeft + kx
                        guard iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth else { continue }
                        for ci in 0..<3 {
                            a +=
                                Double(x[(iy * g.inWidth + ix) * 3 + ci]) * Double(w[((ky * 3 + kx) * 3 + ci) * n + co])
                        }
                    }
                }
                out.append(min(max(Float(a), clamp.lo), clamp.hi))
            }
        }
    }
    return out
}
