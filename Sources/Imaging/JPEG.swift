import CTurboJPEG

/// A TurboJPEG 2.1.5 decompressor (the `tj3*` API only came in 3.0). A tjhandle is not thread-safe
/// and costs an allocation to make, so one lives per `ImageDecoder`, that is per worker thread.
///
/// Warnings: TurboJPEG finishes the image and then reports a warning (`tjGetErrorCode` ==
/// `TJERR_WARNING`) whose text is the last one libjpeg emitted. A file whose markers do not run to
/// an EOI was cut short and its missing rows came out grey: that is a `truncated` failure, not an
/// image (Pillow also refuses these: "image file is truncated"). Otherwise "Corrupt JPEG data"
/// warnings (bad Huffman code, premature end of a data segment, ...) mean garbled pixels:
/// `corrupt`, except "extraneous bytes before marker", which many cameras and editors produce and
/// which leaves every pixel intact. Remaining warnings (odd progression sequences and the like)
/// are accepted, as Pillow does. Fatal errors are `truncated` for incomplete files, `unsupported`
/// when libjpeg says so (12-bit, lossless, arithmetic-coded variants it lacks), else `corrupt`.
final class JPEGDecoder {
    private let handle: tjhandle?

    init() { handle = tjInitDecompress() }
    deinit { if let handle { tjDestroy(handle) } }

    /// Every shrinking scale `tjGetScalingFactors` offers (1/8 ... 7/8, and 1/1), smallest first.
    static let allShrinkFactors: [(num: Int, denom: Int)] = {
        var count: Int32 = 0
        guard let list = tjGetScalingFactors(&count) else { return [(1, 1)] }
        return (0..<Int(count)).map { (Int(list[$0].num), Int(list[$0].denom)) }
            .filter { $0.num <= $0.denom }
            .sorted { $0.num * $1.denom < $1.num * $0.denom }
    }()

    /// The scales used by default: 1/8, 1/4, 1/2 (and 1/1). The others (3/8 ... 7/8) run libjpeg's
    /// generic scaled IDCT and decode slower than full size here (2048x1536: 7/8 95 ms, 3/4 84 ms,
    /// 1/1 65 ms, 1/2 49 ms, 1/8 39 ms; one core of a loaded machine): accuracy lost for nothing.
    static let fastShrinkFactors = allShrinkFactors.filter { $0.num == 1 }

    /// Candidate scales, smallest first; internal so measurements can try `allShrinkFactors`.
    var shrinkFactors = JPEGDecoder.fastShrinkFactors

    /// Smallest DCT scale whose output keeps both sides at least `minSide` (1/1 when none does);
    /// requiring both sides makes the choice the same whichever way EXIF later rotates the image.
    func scale(width: Int, height: Int, minSide: Int?) -> (num: Int, denom: Int) {
        guard let minSide, minSide > 0 else { return (1, 1) }
        for f in shrinkFactors where Self.scaled(width, f) >= minSide && Self.scaled(height, f) >= minSide {
            return f
        }
        return (1, 1)
    }

    /// TurboJPEG's `TJSCALED` macro, which Swift cannot import.
    static func scaled(_ dimension: Int, _ f: (num: Int, denom: Int)) -> Int {
        (dimension * f.num + f.denom - 1) / f.denom
    }

    func decode(_ bytes: UnsafeBufferPointer<UInt8>, path: String, minSide: Int?) throws -> DecodedImage {
        guard let handle, let base = bytes.baseAddress else {
            throw ImagingError.unsupported(path: path, reason: "TurboJPEG could not create a decompressor")
        }
        var width: Int32 = 0
        var height: Int32 = 0
        var subsampling: Int32 = 0
        var colorspace: Int32 = 0
        if tjDecompressHeader3(handle, base, UInt(bytes.count), &width, &height, &subsampling, &colorspace) != 0 {
            throw fatal(message: lastMessage(), bytes: bytes, path: path)
        }
        guard width > 0, height > 0 else {  // a header cut before its SOF reads as "tables only"
            throw fatal(message: "JPEG header gives size \(width)x\(height)", bytes: bytes, path: path)
        }
        let factor = scale(width: Int(width), height: Int(height), minSide: minSide)
        let outW = Self.scaled(Int(width), factor)
        let outH = Self.scaled(Int(height), factor)
        guard outW * outH <= ImageDecoder.maxPixels else {
            let scaled = factor == (1, 1) ? "" : " (\(outW)x\(outH) at DCT scale \(factor.num)/\(factor.denom))"
            throw ImagingError.unsupported(
                path: path,
                reason: "\(width)x\(height) pixels\(scaled) is more than the limit of \(ImageDecoder.maxPixels)")
        }
        let cmyk = colorspace == TJCS_CMYK.rawValue || colorspace == TJCS_YCCK.rawValue
        let format = cmyk ? TJPF_CMYK : TJPF_RGB
        let channels = cmyk ? 4 : 3
        // Not zero-filled first: the decoder writes every byte (and on failure the array is dropped).
        var pixels = [UInt8](unsafeUninitializedCapacity: outW * outH * channels) { $1 = outW * outH * channels }
        let rc = pixels.withUnsafeMutableBufferPointer { dst in
            tjDecompress2(
                handle, base, UInt(bytes.count), dst.baseAddress, Int32(outW), Int32(outW * channels),
                Int32(outH), format.rawValue, TJFLAG_ACCURATEDCT)
        }
        if rc != 0 {
            let message = lastMessage()
            if tjGetErrorCode(handle) != TJERR_WARNING.rawValue {
                throw fatal(message: message, bytes: bytes, path: path)
            }
            if !JPEGStructure.reachesEOI(bytes) { throw ImagingError.truncated(path: path, reason: message) }
            let lower = message.lowercased()
            if lower.contains("corrupt jpeg data"), !lower.contains("extraneous bytes") {
                throw ImagingError.corrupt(path: path, reason: message)
            }
        }
        if cmyk { pixels = Self.rgb(fromInvertedCMYK: pixels) }
        let orientation = Orientation.fromJPEG(bytes)
        let image = orientation.apply(to: RGBImage(width: outW, height: outH, pixels: pixels))
        let (origW, origH) = orientation.swapsAxes ? (Int(height), Int(width)) : (Int(width), Int(height))
        return DecodedImage(image: image, originalWidth: origW, originalHeight: origH, format: .jpeg)
    }

    /// The error for a decode that produced no image (see the type's doc).
    private func fatal(message: String, bytes: UnsafeBufferPointer<UInt8>, path: String) -> ImagingError {
        if !JPEGStructure.reachesEOI(bytes) { return .truncated(path: path, reason: message) }
        if message.lowercased().contains("unsupported") { return .unsupported(path: path, reason: message) }
        return .corrupt(path: path, reason: message)
    }

    private func lastMessage() -> String {
        guard let handle, let c = tjGetErrorStr2(handle) else { return "unknown TurboJPEG error" }
        return String(cString: c)
    }

    /// CMYK as stored by Adobe (and by Pillow and libjpeg): inverted, 255 = no ink. Pillow reads such
    /// files as "CMYK;I" (c = 255 - stored) and `convert("RGB")` computes, per channel,
    /// `nk - nk * c / 255` with nk = 255 - k and its rounded integer divide (Convert.c `cmyk2rgb`,
    /// `MULDIV255`). Done the same way here so CMYK JPEGs match Pillow bit for bit.
    static func rgb(fromInvertedCMYK cmyk: [UInt8]) -> [UInt8] {
        let n = cmyk.count / 4
        var rgb = [UInt8](repeating: 0, count: n * 3)
        cmyk.withUnsafeBufferPointer { src in
            rgb.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    let nk = Int(src[4 * i + 3])  // 255 - (255 - stored k)
                    for c in 0..<3 {
                        let ink = 255 - Int(src[4 * i + c])
                        let t = ink * nk + 128
                        let v = nk - (((t >> 8) + t) >> 8)
                        dst[3 * i + c] = UInt8(clamping: v)
                    }
                }
            }
        }
        return rgb
    }
}

/// A TurboJPEG 2.1.5 compressor (`tjInitCompress`/`tjCompress2`), for thumbnails. Like the
/// decompressor, a handle is not thread-safe: one per thread.
final class JPEGEncoder {
    private let handle: tjhandle?

    public init() { handle = tjInitCompress() }
    deinit { if let handle { tjDestroy(handle) } }

    /// `image` as a baseline JPEG (4:2:0, `quality` 1...100).
    public func encode(_ image: RGBImage, quality: Int = 80) throws -> [UInt8] {
        precondition((1...100).contains(quality), "JPEG quality must be 1...100, got \(quality)")
        guard let handle else {
            throw ImagingError.unsupported(path: "(thumbnail)", reason: "TurboJPEG could not create a compressor")
        }
        // Compress into a buffer of the worst-case size, so TurboJPEG never reallocates ours.
        let capacity = Int(tjBufSize(Int32(image.width), Int32(image.height), Int32(TJSAMP_420.rawValue)))
        var out = [UInt8](repeating: 0, count: capacity)
        var size: UInt = 0
        let rc = image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var pointer: UnsafeMutablePointer<UInt8>? = dst.baseAddress
                size = UInt(capacity)
                return tjCompress2(
                    handle, src.baseAddress, Int32(image.width), Int32(image.width * 3),
                    Int32(image.height), Int32(TJPF_RGB.rawValue), &pointer, &size,
                    Int32(TJSAMP_420.rawValue), Int32(quality), TJFLAG_NOREALLOC | TJFLAG_ACCURATEDCT)
            }
        }
        guard rc == 0 else {
            let message = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown TurboJPEG error"
            throw ImagingError.unsupported(path: "(thumbnail)", reason: "JPEG compression failed: \(message)")
        }
        out.removeSubrange(Int(size)...)
        return out
    }
}
