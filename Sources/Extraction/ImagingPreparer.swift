import Imaging

/// The real image path: TurboJPEG/libpng decode, Pillow-exact bilinear resize, `x/127.5 - 1`.
/// Holds an `ImageDecoder`, so one per worker thread.
public struct ImagingPreparer: ImagePreparer {
    let decoder = ImageDecoder()

    public init() {}

    public mutating func sniff(_ prefix: [UInt8], size: Int, path: String) throws {
        let jpeg = prefix.count >= 3 && prefix[0] == 0xFF && prefix[1] == 0xD8 && prefix[2] == 0xFF
        let png = prefix.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        if jpeg || png { return }
        // Anything else: the decoder's own verdict on the first bytes (not_image, ...), without
        // reading the rest of what may be a large non-image file.
        _ = try decoder.decode(prefix, path: path)
    }

    public mutating func prepare(_ bytes: [UInt8], path: String, size: Int, views: [View], into output: UnsafeMutablePointer<Float>) throws -> (width: Int, height: Int) {
        // Full-size decode, no DCT scaling: the vectors then match Pillow's pipeline (and `tlearn embed`).
        let decoded = try decoder.decode(bytes, path: path)
        for (k, view) in views.enumerated() {
            preprocess(decoded.image, size: size, flip: view == .hflip, into: output + k * size * size * 3)
        }
        return (decoded.image.width, decoded.image.height)
    }
}

extension ImagingError: FailureReason {}
