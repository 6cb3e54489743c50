/// Unfolds the 3x3 windows of one NHWC image into rows of `9 * channels` floats ordered (ky, kx, c),
/// the row order of a Keras (3, 3, Cin, Cout) kernel, so a 3x3 convolution becomes one GEMM.
/// Padded taps are written as zeros. `rows` limits the output rows unfolded; `output` receives
/// rows.count * outWidth * 9 * channels floats, starting with the first row of `rows`.
public func im2col3x3(_ input: UnsafePointer<Float>, window g: Window, channels c: Int, into output: UnsafeMutablePointer<Float>,
                      rows: Range<Int>? = nil) {
    let rowLength = 9 * c
    let rows = rows ?? 0..<g.outHeight
    precondition(rows.lowerBound >= 0 && rows.upperBound <= g.outHeight, "im2col3x3: rows \(rows) outside \(g)")
    for oy in rows {
        for ox in 0..<g.outWidth {
            var o = output + ((oy - rows.lowerBound) * g.outWidth + ox) * rowLength
            let ix0 = ox * g.stride - g.padLeft
            if c == 3 && ix0 >= 0 && ix0 + 2 < g.inWidth {
                // The stem's interior columns: a kernel row's 3 taps x 3 channels are 9 adjacent floats.
                for ky in 0..<3 {
                    let iy = oy * g.stride - g.padTop + ky
                    if iy >= 0 && iy < g.inHeight {
                        let p = input + (iy * g.inWidth + ix0) * 3
                        store8(load8(p), o)
                        o[8] = p[8]
                    } else {
                        store8(SIMD8(repeating: 0), o)
                        o[8] = 0
                    }
                    o += 9
                }
                continue
            }
            for ky in 0..<3 {
                let iy = oy * g.stride - g.padTop + ky
                for kx in 0..<3 {
                    let ix = ox * g.stride - g.padLeft + kx
                    let inside = iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth
                    if c == 3 {  // the stem: three stores, not a memcpy call per tap
                        let p = input + (inside ? (iy * g.inWidth + ix) * 3 : 0)
                        o[0] = inside ? p[0] : 0
                        o[1] = inside ? p[1] : 0
                        o[2] = inside ? p[2] : 0
                    } else if inside {
                        o.update(from: input + (iy * g.inWidth + ix) * c, count: c)
                    } else {
                        o.update(repeating: 0, count: c)
                    }
                    o += c
                }
            }
        }
    }
}
