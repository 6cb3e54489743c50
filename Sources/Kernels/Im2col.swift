/// Unfolds the 3x3 windows of one NHWC image into rows of `9 * channels` floats ordered (ky, kx, c),
/// the row order of a Keras (3, 3, Cin, Cout) kernel, so a 3x3 convolution becomes one GEMM.
/// Padded taps are written as zeros. `output` holds outHeight * outWidth * 9 * channels floats.
public func im2col3x3(_ input: UnsafePointer<Float>, window g: Window, channels c: Int, into output: UnsafeMutablePointer<Float>) {
    let rowLength = 9 * c
    for oy in 0..<g.outHeight {
        for ox in 0..<g.outWidth {
            var o = output + (oy * g.outWidth + ox) * rowLength
            for ky in 0..<3 {
                let iy = oy * g.stride - g.padTop + ky
                for kx in 0..<3 {
                    let ix = ox * g.stride - g.padLeft + kx
                    if iy >= 0 && iy < g.inHeight && ix >= 0 && ix < g.inWidth {
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
