/// Packs a Keras depthwise kernel, (3, 3, C, 1) = HWC, and a per-channel bias per group of 8 channels
/// as `[bias x8, tap0 x8, ..., tap8 x8]` (XNNPACK `xnn_pack_f32_dwconv_hwg_w`), zero-padding the last group.
public func packDepthwise3x3(kernel: [Float], bias: [Float], channels c: Int) -> AlignedBuffer {
    precondition(
        kernel.count == 9 * c && bias.count == c,
        "packDepthwise3x3: kernel \(kernel.count) floats, bias \(bias.count), expected \(9 * c) and \(c)")
    let groups = (c + 7) / 8
    let packed = AlignedBuffer(count: groups * depthwiseGroupStride)
    let p = packed.pointer
    for ch in 0..<c {
        let base = (ch / 8) * depthwiseGroupStride + ch % 8
        p[base] = bias[ch]
        for t in 0..<9 { p[base + 8 * (1 + t)] = kernel[t * c + ch] }
    }
    return packed
}

/// Floats per packed group of 8 channels: bias + 9 taps.
let depthwiseGroupStride = 80

/// 3x3 depthwise convolution with stride 1 over NHWC (one image), bias and clamp fused. `rows` limits
/// the output rows computed (the input still starts at row 0), so a caller can stream a map in strips.
public func depthwise3x3Stride1(
    _ input: UnsafePointer<Float>, packed: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
    window: Window, channels: Int, clamp: Clamp, rows: Range<Int>? = nil
) {
    precondition(window.stride == 1, "depthwise3x3Stride1: \(window)")
    depthwise3x3Channels(input, packed, output, window, channels, clamp, rows ?? 0..<window.outHeight, Stride1.self)
}

/// 3x3 depthwise convolution with stride 2 over NHWC (one image), bias and clamp fused; `rows` as above.
public func depthwise3x3Stride2(
    _ input: UnsafePointer<Float>, packed: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
    window: Window, channels: Int, clamp: Clamp, rows: Range<Int>? = nil
) {
    precondition(window.stride == 2, "depthwise3x3Stride2: \(window)")
    depthwise3x3Channels(input, packed, output, window, channels, clamp, rows ?? 0..<window.outHeight, Stride2.self)
}

/// MobileNetV2's expanded channel counts (alpha 1.0) as constants: with `c` known, every tap is a
/// fixed offset from one pointer per kernel row, where a run-time `c` made LLVM keep 18 pointers that
/// did not fit the registers and reload them from the stack on every load. One generic
/// specialisation per count (a plain switch of constants was folded back into one copy).
@inline(__always)
private func depthwise3x3Channels<S: FixedStride>(
    _ input: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
    _ g: Window, _ c: Int, _ clamp: Clamp, _ rows: Range<Int>, _ s: S.Type
) {
    switch c {
    case 32: depthwise3x3(input, w, output, g, c, clamp, rows, s, Channels32.self)
    case 96: depthwise3x3(input, w, output, g, c, clamp, rows, s, Channels96.self)
    case 144: depthwise3x3(input, w, output, g, c, clamp, rows, s, Channels144.self)
    case 192: depthwise3x3(input, w, output, g, c, clamp, rows, s, Channels192.self)
    case 384: depthwise3x3(input, w, output, g, c, clamp, rows, s, Channels384.self)
    case 576: depthwise3x3(input, w, output, g, c, clamp, rows, s, Channels576.self)
    case 960: depthwise3x3(input, w, output, g, c, clamp, rows, s, Channels960.self)
    default: depthwise3x3(input, w, output, g, c, clamp, rows, s, AnyChannels.self)
    }
}

/// A channel count fixed at compile time, or nil for one known only at run time.
private protocol FixedChannels { static var count: Int? { get } }
private enum Channels32: FixedChannels { static var count: Int? { 32 } }
private enum Channels96: FixedChannels { static var count: Int? { 96 } }
private enum Channels144: FixedChannels { static var count: Int? { 144 } }
private enum Channels192: FixedChannels { static var count: Int? { 192 } }
private enum Channels384: FixedChannels { static var count: Int? { 384 } }
private enum Channels576: FixedChannels { static var count: Int? { 576 } }
private enum Channels960: FixedChannels { static var count: Int? { 960 } }
private enum AnyChannels: FixedChannels { static var count: Int? { nil } }
/// The convolution stride as a type, so each specialisation has it as a constant.
private protocol FixedStride { static var value: Int { get } }
private enum Stride1: FixedStride { static var value: Int { 1 } }
private enum Stride2: FixedStride { static var value: Int { 2 } }

/// The shared body, specialised per stride by inlining. Interior pixels (all 9 taps inside the input)
/// run 4 output pixels per step with the group's 9 weight vectors held in registers; border pixels
/// and the `channels % 8` tail take `depthwisePixel`, which sums taps in the same order (ky, then kx),
/// so every output is bit-identical whichever path computed it.
@inline(__always)
private func depthwise3x3<S: FixedStride, C: FixedChannels>(
    _ input: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
    _ g: Window, _ runtimeChannels: Int, _ clamp: Clamp, _ rows: Range<Int>, _: S.Type, _: C.Type
) {
    let c = C.count ?? runtimeChannels
    let s = S.value
    precondition(rows.lowerBound >= 0 && rows.upperBound <= g.outHeight, "depthwise3x3: rows \(rows) outside \(g)")
    let groups = c / 8
    let rowStride = g.inWidth * c
    let lo = SIMD8<Float>(repeating: clamp.lo)
    let hi = SIMD8<Float>(repeating: clamp.hi)
    // Output columns whose 3 taps all fall inside the input.
    let oxFirst = (g.padLeft + s - 1) / s
    let oxLast = min(g.outWidth - 1, g.inWidth - 3 + g.padLeft >= 0 ? (g.inWidth - 3 + g.padLeft) / s : -1)
    for oy in rows {
        let iy0 = oy * s - g.padTop
        let out = output + oy * g.outWidth * c
        guard iy0 >= 0 && iy0 + 2 < g.inHeight && oxFirst <= oxLast && groups > 0 else {
            for ox in 0..<g.outWidth { depthwisePixel(input, w, out + ox * c, g, c, clamp, oy: oy, ox: ox) }
            continue
        }
        for ox in 0..<oxFirst { depthwisePixel(input, w, out + ox * c, g, c, clamp, oy: oy, ox: ox) }
        // Pixels outer, channel groups inner: a tile's 3 input rows x 6 (stride 1) or 9 (stride 2)
        // pixels x all channels stay in L1 while every group reads them, and each 64-byte line is used
        // whole. Groups outer swept a whole row per group: 8 channels per line, every tap from L2.
        let r0 = input + iy0 * rowStride
        let r1 = r0 + rowStride
        let r2 = r1 + rowStride
        let step = s * c
        var ox = oxFirst
        while ox + 3 <= oxLast {
            let off = (ox * s - g.padLeft) * c
            let o = out + ox * c
            for gi in 0..<groups {
                let wp = w + gi * depthwiseGroupStride
                let b = load8(wp)
                let w0 = load8(wp + 8)
                let w1 = load8(wp + 16)
                let w2 = load8(wp + 24)
                let w3 = load8(wp + 32)
                let w4 = load8(wp + 40)
                let w5 = load8(wp + 48)
                let w6 = load8(wp + 56)
                let w7 = load8(wp + 64)
                let w8 = load8(wp + 72)
                let gOff = off + gi * 8
                var a0 = b
                var a1 = b
                var a2 = b
                var a3 = b
                var p = r0 + gOff
                a0.addProduct(load8(p), w0)
                a0.addProduct(load8(p + c), w1)
                a0.addProduct(load8(p + 2 * c), w2)
                a1.addProduct(load8(p + step), w0)
                a1.addProduct(load8(p + step + c), w1)
                a1.addProduct(load8(p + step + 2 * c), w2)
                a2.addProduct(load8(p + 2 * step), w0)
                a2.addProduct(load8(p + 2 * step + c), w1)
                a2.addProduct(load8(p + 2 * step + 2 * c), w2)
                a3.addProduct(load8(p + 3 * step), w0)
                a3.addProduct(load8(p + 3 * step + c), w1)
                a3.addProduct(load8(p + 3 * step + 2 * c), w2)
                p = r1 + gOff
                a0.addProduct(load8(p), w3)
                a0.addProduct(load8(p + c), w4)
                a0.addProduct(load8(p + 2 * c), w5)
                a1.addProduct(load8(p + step), w3)
                a1.addProduct(load8(p + step + c), w4)
                a1.addProduct(load8(p + step + 2 * c), w5)
                a2.addProduct(load8(p + 2 * step), w3)
                a2.addProduct(load8(p + 2 * step + c), w4)
                a2.addProduct(load8(p + 2 * step + 2 * c), w5)
                a3.addProduct(load8(p + 3 * step), w3)
                a3.addProduct(load8(p + 3 * step + c), w4)
                a3.addProduct(load8(p + 3 * step + 2 * c), w5)
                p = r2 + gOff
                a0.addProduct(load8(p), w6)
                a0.addProduct(load8(p + c), w7)
                a0.addProduct(load8(p + 2 * c), w8)
                a1.addProduct(load8(p + step), w6)
                a1.addProduct(load8(p + step + c), w7)
                a1.addProduct(load8(p + step + 2 * c), w8)
                a2.addProduct(load8(p + 2 * step), w6)
                a2.addProduct(load8(p + 2 * step + c), w7)
                a2.addProduct(load8(p + 2 * step + 2 * c), w8)
                a3.addProduct(load8(p + 3 * step), w6)
                a3.addProduct(load8(p + 3 * step + c), w7)
                a3.addProduct(load8(p + 3 * step + 2 * c), w8)
                let og = o + gi * 8
                store8(clamp8(a0, lo, hi), og)
                store8(clamp8(a1, lo, hi), og + c)
                store8(clamp8(a2, lo, hi), og + 2 * c)
                store8(clamp8(a3, lo, hi), og + 3 * c)
            }
            ox += 4
        }
        while ox <= oxLast {
            let off = (ox * s - g.padLeft) * c
            for gi in 0..<groups {
                let wp = w + gi * depthwiseGroupStride
                let gOff = off + gi * 8
                var a = load8(wp)
                var p = r0 + gOff
                a.addProduct(load8(p), load8(wp + 8))
                a.addProduct(load8(p + c), load8(wp + 16))
                a.addProduct(load8(p + 2 * c), load8(wp + 24))
                p = r1 + gOff
                a.addProduct(load8(p), load8(wp + 32))
                a.addProduct(load8(p + c), load8(wp + 40))
                a.addProduct(load8(p + 2 * c), load8(wp + 48))
                p = r2 + gOff
                a.addProduct(load8(p), load8(wp + 56))
                a.addProduct(load8(p + c), load8(wp + 64))
                a.addProduct(load8(p + 2 * c), load8(wp + 72))
                store8(clamp8(a, lo, hi), out + ox * c + gi * 8)
            }
            ox += 1
        }
        if c % 8 != 0 {
            for ox in oxFirst...oxLast { depthwiseTail(input, w, out + ox * c, g, c, clamp, oy: oy, ox: ox) }
        }
        for ox in (oxLast + 1)..<g.outWidth { depthwisePixel(input, w, out + ox * c, g, c, clamp, oy: oy, ox: ox) }
    }
}

/// One output pixel, all channels, taps outside the input skipped (they are zero padding).
@inline(__always)
private func depthwisePixel(
    _ input: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    _ g: Window, _ c: Int, _ clamp: Clamp, oy: Int, ox: Int
) {
    let lo = SIMD8<Float>(repeating: clamp.lo)
    let hi = SIMD8<Float>(repeating: clamp.hi)
    let iy0 = oy * g.stride - g.padTop
    let ix0 = ox * g.stride - g.padLeft
    for gi in 0..<(c / 8) {
        let wp = w + gi * depthwiseGroupStride
        var a = load8(wp)
        for ky in 0..<3 where iy0 + ky >= 0 && iy0 + ky < g.inHeight {
            for kx in 0..<3 where ix0 + kx >= 0 && ix0 + kx < g.inWidth {
                a.addProduct(
                    load8(input + ((iy0 + ky) * g.inWidth + ix0 + kx) * c + gi * 8), load8(wp + 8 * (1 + ky * 3 + kx)))
            }
        }
        store8(clamp8(a, lo, hi), out + gi * 8)
    }
    depthwiseTail(input, w, out, g, c, clamp, oy: oy, ox: ox)
}

/// The last `c % 8` channels of one output pixel, scalar.
@inline(__always)
private func depthwiseTail(
    _ input: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    _ g: Window, _ c: Int, _ clamp: Clamp, oy: Int, ox: Int
) {
    let iy0 = oy * g.stride - g.padTop
    let ix0 = ox * g.stride - g.padLeft
    for ch in (c / 8 * 8)..<c {
        let wp = w + (ch / 8) * depthwiseGroupStride + ch % 8
        var a = wp[0]
        for ky in 0..<3 where iy0 + ky >= 0 && iy0 + ky < g.inHeight {
            for kx in 0..<3 where ix0 + kx >= 0 && ix0 + kx < g.inWidth {
                a = a.addingProduct(input[((iy0 + ky) * g.inWidth + ix0 + kx) * c + ch], wp[8 * (1 + ky * 3 + kx)])
            }
        }
        out[ch] = clamp1(a, clamp.lo, clamp.hi)
    }
}

/// The oracle: plain loops over an unpacked (3, 3, C) kernel, no SIMD, no packing, no fast paths.
public func depthwiseReference(
    _ input: [Float], kernel: [Float], bias: [Float], window g: Window, channels c: Int, clamp: Clamp
) -> [Float] {
    precondition(
        input.count == g.inHeight * g.inWidth * c && kernel.count == 9 * c && bias.count == c,
        "depthwiseReference: input \(input.count) kernel \(kernel.count) bias \(bias.count) for \(g), \(c) channels")
    var out = [Float](repeating: 0, count: g.outHeight * g.outWidth * c)
    for oy in 0..<g.outHeight {
        for ox in 0..<g.outWidth {
            for ch in 0..<c {
                var a = Double(bias[ch])
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        let iy = oy * g.stride - g.padTop + ky
                        let ix = ox * g.stride - g.padLeft + kx
                        if iy < 0 || iy >= g.inHeight || ix < 0 || ix >= g.inWidth { continue }
                        a += Double(input[(iy * g.inWidth + ix) * c + ch]) * Double(kernel[(ky * 3 + kx) * c + ch])
                    }
                }
                out[(oy * g.outWidth + ox) * c + ch] = min(max(Float(a), clamp.lo), clamp.hi)
            }
        }
    }
    return out
}
