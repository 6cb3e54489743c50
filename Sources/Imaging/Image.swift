/// An 8-bit RGB image, interleaved (R, G, B per pixel), rows top to bottom.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// Wraps `pixels`, which must hold exactly `width * height * 3` bytes.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(
            width > 0 && height > 0 && pixels.count == width * height * 3,
            "RGBImage \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// The container format, detected from the file's first bytes (never from its name).
public enum ImageFormat: String, Sendable {
    case jpeg, png
}

/// A decoded image plus what is known about the file it came from.
public struct DecodedImage: Sendable {
    /// The pixels, upright (EXIF orientation applied); smaller than the original when a JPEG was
    /// decoded with DCT scaling because `minSide` allowed it.
    public var image: RGBImage
    /// Full-size width after EXIF orientation, whatever scale the pixels were decoded at.
    public let originalWidth: Int
    /// Full-size height after EXIF orientation.
    public let originalHeight: Int
    public let format: ImageFormat

    public init(image: RGBImage, originalWidth: Int, originalHeight: Int, format: ImageFormat) {
        self.image = image
        self.originalWidth = originalWidth
        self.originalHeight = originalHeight
        self.format = format
    }
}
