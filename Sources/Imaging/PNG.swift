import CPNG

/// PNG decoding through libpng's simplified API (`png_image_*`), which catches libpng's
/// longjmp-based errors itself and reports them in `png_image.message`; the classic `png_*` API
/// would longjmp through Swift frames.
///
/// Differences from Pillow's `Image.open(f).convert("RGB")`, which is the reference pipeline:
/// - Alpha is dropped, not composited, as Pillow's RGBA -> RGB conversion does: the colour under a
///   transparent pixel is kept. For 8-bit files this is exact.
/// - 16-bit colour files keep the high byte of each sample, as Pillow's "RGB;16B" unpacker does.
///   With alpha, libpng only hands out 16-bit data premultiplied, so colours are un-premultiplied
///   before taking the high byte: exact where alpha is opaque, off by at most 1 where it is
///   partly transparent, and black (Pillow: the stored colour) where alpha is 0.
/// - 16-bit grayscale: Pillow opens it as mode "I;16"/"I" and clips values above 255 to white
///   when converting to RGB, which turns most such images white; here the high byte is kept.
/// - A gAMA chunk far from sRGB (for example gamma 1.0) makes libpng convert to sRGB; Pillow ignores
///   gAMA. Files with no gAMA, or with gAMA 1/2.2 as most writers store, are passed through.
enum PNG {
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws -> DecodedImage {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
            throw failure(message(of: &image), path: path)
        }
        defer { png_image_free(&image) }
        let width = Int(image.width)
        let height = Int(image.height)
        guard width > 0, height > 0 else {
            throw ImagingError.corrupt(path: path, reason: "PNG header gives size \(width)x\(height)")
        }
        guard width * height <= ImageDecoder.maxPixels else {
            throw ImagingError.unsupported(
                path: path, reason: "\(width)x\(height) pixels is more than the limit of \(ImageDecoder.maxPixels)")
        }
        let hasAlpha = image.format & png_uint_32(PNG_FORMAT_FLAG_ALPHA) != 0
        let sixteenBit = image.format & png_uint_32(PNG_FORMAT_FLAG_LINEAR) != 0
        let channels = hasAlpha ? 4 : 3
        let n = width * height
        var rgb = [UInt8](repeating: 0, count: n * 3)
        if sixteenBit {
            // No PNG_IMAGE_FLAG_16BIT_sRGB: libpng then calls the data linear and, with linear output
            // and no gAMA chunk, copies the samples unchanged, which is what Pillow reads.
            image.format = hasAlpha ? tlearn_PNG_FORMAT_LINEAR_RGB_ALPHA : tlearn_PNG_FORMAT_LINEAR_RGB
            var wide = [UInt16](repeating: 0, count: n * channels)
            try wide.withUnsafeMutableBytes { buffer in
                guard png_image_finish_read(&image, nil, buffer.baseAddress, png_int_32(width * channels), nil) != 0
                else {
                    throw failure(message(of: &image), path: path)
                }
            }
            wide.withUnsafeBufferPointer { src in
                rgb.withUnsafeMutableBufferPointer { dst in
                    for i in 0..<n {
                        let a = hasAlpha ? Int(src[4 * i + 3]) : 65535
                        for c in 0..<3 {
                            var v = Int(src[channels * i + c])
                            if a != 65535 { v = a == 0 ? 0 : min(65535, (v * 65535 + a / 2) / a) }
                            dst[3 * i + c] = UInt8(v >> 8)
                        }
                    }
                }
            }
        } else {
            image.format = hasAlpha ? tlearn_PNG_FORMAT_RGBA : tlearn_PNG_FORMAT_RGB
            var out = [UInt8](repeating: 0, count: n * channels)
            try out.withUnsafeMutableBytes { buffer in
                guard png_image_finish_read(&image, nil, buffer.baseAddress, png_int_32(width * channels), nil) != 0
                else {
                    throw failure(message(of: &image), path: path)
                }
            }
            if hasAlpha {
                out.withUnsafeBufferPointer { src in
                    rgb.withUnsafeMutableBufferPointer { dst in
                        for i in 0..<n {
                            dst[3 * i] = src[4 * i]
                            dst[3 * i + 1] = src[4 * i + 1]
                            dst[3 * i + 2] = src[4 * i + 2]
                        }
                    }
                }
            } else {
                rgb = out
            }
        }
        let decoded = RGBImage(width: width, height: height, pixels: rgb)
        return DecodedImage(image: decoded, originalWidth: width, originalHeight: height, format: .png)
    }

    /// libpng says "read beyond end of data" when the memory reader runs out: the file was cut short.
    private static func failure(_ message: String, path: String) -> ImagingError {
        let lower = message.lowercased()
        if lower.contains("end of data") || lower.contains("not enough image data") || lower.contains("unexpected end")
        {
            return .truncated(path: path, reason: "PNG: \(message)")
        }
        return .corrupt(path: path, reason: "PNG: \(message)")
    }

    private static func message(of image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let text = String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            return text.isEmpty ? "unknown libpng error" : text
        }
    }
}
