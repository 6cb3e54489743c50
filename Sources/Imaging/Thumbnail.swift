/// A small JPEG of an image file, for pages that show many images (`tlearn report`).
public struct Thumbnail: Sendable, Equatable {
    public let jpeg: [UInt8]
    public let width: Int
    public let height: Int
}

/// Makes thumbnails: decode (JPEG at a reduced DCT scale when the photo is large), shrink with the
/// same antialiasing resize as extraction, encode as JPEG. Holds TurboJPEG handles: one per thread.
public final class ThumbnailMaker {
    let decoder = ImageDecoder()
    let encoder = JPEGEncoder()
    /// Longest side of a thumbnail; smaller images keep their size (never enlarged).
    public let maxSide: Int
    public let quality: Int

    public init(maxSide: Int = 128, quality: Int = 80) {
        precondition(maxSide > 0, "thumbnail side must be positive, got \(maxSide)")
        self.maxSide = maxSide
        self.quality = quality
    }

    /// The size an image of `width` x `height` is shown at: longest side `maxSide`, aspect kept.
    public func size(width: Int, height: Int) -> (width: Int, height: Int) {
        let longest = max(width, height)
        guard longest > maxSide else { return (width, height) }
        let scale = Double(maxSide) / Double(longest)
        return (max(1, Int((Double(width) * scale).rounded())), max(1, Int((Double(height) * scale).rounded())))
    }

    /// The thumbnail of the image file at `path` (upright: EXIF orientation applied).
    public func make(fromFileAt path: String) throws -> Thumbnail {
        // minSide = maxSide keeps both decoded sides >= maxSide, so the DCT shortcut never
        // leaves fewer pixels than the thumbnail needs.
        let decoded = try decoder.decodeFile(at: path, minSide: maxSide)
        // Sized from the full image, so the aspect is not that of DCT-rounded sides.
        let (w, h) = size(width: decoded.originalWidth, height: decoded.originalHeight)
        let small = resizeBilinear(decoded.image, width: w, height: h)
        return Thumbnail(jpeg: try encoder.encode(small, quality: quality), width: w, height: h)
    }
}
