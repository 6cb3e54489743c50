/// Identifies the whole image -> tensor recipe; stored in the database as the embedding cache key,
/// so change it whenever decoding, resizing or scaling changes the numbers.
public enum Preprocessing {
    /// Full-size decode (EXIF orientation applied), Pillow BILINEAR resize, `x / 127.5 - 1`.
    public static let identifier = "pillow-bilinear;x/127.5-1"

    /// The key for embeddings made from images decoded with `minSide` (DCT scaling): large JPEGs then
    /// differ from Pillow's pixels, so they must not share a cache key with `identifier`.
    public static func identifier(minSide: Int?) -> String {
        guard let minSide else { return identifier }
        return identifier + ";dct-scale-min\(minSide)"
    }
}

/// `x / 127.5 - 1` in Float32 for every byte value, computed exactly as Keras's
/// `preprocess_input(mode="tf")` does on a float32 array (divide, then subtract), so the table
/// holds the same floats Keras would produce.
let unitScale: [Float] = (0..<256).map { Float($0) / Float(127.5) - Float(1) }

/// Resizes `image` to `size` x `size` (Pillow BILINEAR, see `resizeBilinear`), maps each byte to
/// [-1, 1] with `x / 127.5 - 1` (Keras MobileNetV2 "tf" mode) and writes `size * size * 3` floats
/// (NHWC, RGB) to `output`; `flip` mirrors left-right after resizing (the `hflip` view).
public func preprocess(_ image: RGBImage, size: Int, flip: Bool = false, into output: UnsafeMutablePointer<Float>) {
    precondition(size > 0, "preprocess size must be positive, got \(size)")
    let resized = resizeBilinear(image, width: size, height: size)
    if !flip {
        resized.pixels.withUnsafeBufferPointer { src in scaleToUnit(src.baseAddress!, count: src.count, into: output) }
        return
    }
    resized.pixels.withUnsafeBufferPointer { src in
        unitScale.withUnsafeBufferPointer { table in
            for y in 0..<size {
                let row = src.baseAddress! + y * size * 3
                let out = output + y * size * 3
                for x in 0..<size {
                    let s = row + (flip ? size - 1 - x : x) * 3
                    out[3 * x] = table[Int(s[0])]
                    out[3 * x + 1] = table[Int(s[1])]
                    out[3 * x + 2] = table[Int(s[2])]
                }
            }
        }
    }
}

/// `x / 127.5 - 1` over `count` bytes, 16 at a time: the same IEEE division and subtraction per lane
/// as `unitScale`'s, so the same floats, without a table lookup per byte.
private func scaleToUnit(_ src: UnsafePointer<UInt8>, count: Int, into output: UnsafeMutablePointer<Float>) {
    let divisor = SIMD16<Float>(repeating: 127.5)
    let one = SIMD16<Float>(repeating: 1)
    var i = 0
    while i + 16 <= count {
        let bytes = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<UInt8>.self)
        let v = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: bytes)) / divisor - one
        UnsafeMutableRawPointer(output + i).storeBytes(of: v, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count {
        output[i] = unitScale[Int(src[i])]
        i += 1
    }
}
