/// Global average pooling of one (pixels x channels) NHWC map into `channels` floats: the sum in
/// pixel order, then one division, so the result does not depend on anything but this map.
public func globalAveragePool(
    _ input: UnsafePointer<Float>, pixels: Int, channels c: Int, into output: UnsafeMutablePointer<Float>
) {
    precondition(pixels > 0 && c >= 0, "globalAveragePool: \(pixels) pixels, \(c) channels")
    let vectors = c / 8
    let count = SIMD8<Float>(repeating: Float(pixels))
    for j in 0..<vectors {
        var s = SIMD8<Float>(repeating: 0)
        for p in 0..<pixels { s += load8(input + p * c + 8 * j) }
        store8(s / count, output + 8 * j)
    }
    for j in (vectors * 8)..<c {
        var s: Float = 0
        for p in 0..<pixels { s += input[p * c + j] }
        output[j] = s / Float(pixels)
    }
}
