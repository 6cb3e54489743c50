import Imaging
import Store

/// The real image path: TurboJPEG/libpng decode, Pillow-exact bilinear resize, `x/127.5 - 1`.
/// Holds an `ImageDecoder`, so one per worker thread.
public struct ImagingPreparer: ImagePreparer {
    let decoder = ImageDecoder()
    /// nil: full-size decode, bit-identical to Pillow's pipeline. Else JPEGs decode at the smallest
    /// DCT scale keeping both sides >= minSide: much faster on large photos, slightly different vectors.
    public let minSide: Int?

    public init(minSide: Int? = nil) { self.minSide = minSide }

    /// The preparer whose `identifier` is `identifier` for `inputSize`-pixel inputs, or nil when
    /// this tlearn does not make that preprocessing: new images must be decoded as the stored ones were.
    public init?(identifier: String, inputSize: Int) {
        switch identifier {
        case Preprocessing.identifier: self.init(minSide: nil)
        case Preprocessing.identifier(minSide: inputSize): self.init(minSide: inputSize)
        default: return nil
        }
    }

    /// The `backbones.preprocessing` value for vectors made by this preparer.
    public var identifier: String { Preprocessing.identifier(minSide: minSide) }

    public mutating func sniff(_ prefix: [UInt8], size: Int, path: String) throws {
        let jpeg = prefix.count >= 3 && prefix[0] == 0xFF && prefix[1] == 0xD8 && prefix[2] == 0xFF
        let png = prefix.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        if jpeg || png { return }
        // Anything else: the decoder's own verdict on the first bytes (not_image, ...), without
        // reading the rest of what may be a large non-image file.
        _ = try decoder.decode(prefix, path: path)
    }

    public mutating func prepare(
        _ bytes: [UInt8], path: String, size: Int, views: [View], into output: UnsafeMutablePointer<Float>
    ) throws -> (width: Int, height: Int) {
        let decoded = try decoder.decode(bytes, path: path, minSide: minSide)
        for (k, view) in views.enumerated() {
            preprocess(decoded.image, size: size, flip: view == .hflip, into: output + k * size * size * 3)
        }
        // Full-size dimensions (after EXIF orientation), whatever scale the pixels were decoded at.
        return (decoded.originalWidth, decoded.originalHeight)
    }
}

extension ImagingError: FailureReason {}
