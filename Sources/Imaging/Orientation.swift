/// EXIF orientation (TIFF tag 0x0112): how the stored pixels must be turned to appear upright.
/// Raw values follow the EXIF 2.3 spec; 1 is "already upright".
enum Orientation: Int {
    case up = 1
    case mirrored = 2
    case down = 3
    case downMirrored = 4
    case leftMirrored = 5
    case right = 6
    case rightMirrored = 7
    case left = 8

    /// Orientations 5-8 store the image rotated by 90 degrees, so width and height trade places.
    var swapsAxes: Bool { rawValue >= 5 }

    /// Reads the orientation from the first APP1 "Exif" segment of a JPEG; `.up` when there is none
    /// or it is malformed (a bad EXIF block is no reason to reject an image whose pixels are fine).
    static func fromJPEG(_ bytes: UnsafeBufferPointer<UInt8>) -> Orientation {
        var pos = 2  // after SOI
        while pos + 4 <= bytes.count {
            guard bytes[pos] == 0xFF else { return .up }
            let marker = bytes[pos + 1]
            if marker == 0xFF {
                pos += 1
                continue
            }  // fill byte before a marker
            // Markers without a length: TEM, RSTn, SOI. SOS or EOI end the header: no EXIF after that.
            if marker == 0x01 || (0xD0...0xD8).contains(marker) {
                pos += 2
                continue
            }
            if marker == 0xDA || marker == 0xD9 { return .up }
            let length = Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
            guard length >= 2, pos + 2 + length <= bytes.count else { return .up }
            let body = pos + 4
            let bodyEnd = pos + 2 + length
            if marker == 0xE1, bodyEnd - body >= 6,
                bytes[body] == 0x45, bytes[body + 1] == 0x78, bytes[body + 2] == 0x69, bytes[body + 3] == 0x66,
                bytes[body + 4] == 0, bytes[body + 5] == 0
            {
                return fromTIFF(UnsafeBufferPointer(rebasing: bytes[(body + 6)..<bodyEnd])) ?? .up
            }
            pos = bodyEnd
        }
        return .up
    }

    /// Finds tag 0x0112 in IFD0 of a TIFF header ("II*\0" little-endian or "MM\0*" big-endian).
    static func fromTIFF(_ tiff: UnsafeBufferPointer<UInt8>) -> Orientation? {
        guard tiff.count >= 8 else { return nil }
        let little: Bool
        switch (tiff[0], tiff[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[at]) | Int(tiff[at + 1]) << 8 : Int(tiff[at]) << 8 | Int(tiff[at + 1])
        }
        func u32(_ at: Int) -> Int? {
            guard let a = u16(at), let b = u16(at + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for i in 0..<count {
            let entry = ifd + 2 + 12 * i
            guard let tag = u16(entry) else { return nil }
            guard tag == 0x0112 else { continue }
            // Type 3 (SHORT), count 1: the value sits in the first two bytes of the value field.
            guard u16(entry + 2) == 3, u32(entry + 4) == 1, let value = u16(entry + 8) else { return nil }
            return Orientation(rawValue: value)
        }
        return nil
    }

    /// Returns `image` turned upright. Each case maps output (x, y) to a source pixel index
    /// `start + y * rowStep + x * colStep`, the same transforms as Pillow's `ImageOps.exif_transpose`.
    func apply(to image: RGBImage) -> RGBImage {
        if self == .up { return image }
        let w = image.width
        let h = image.height
        let (outW, outH) = swapsAxes ? (h, w) : (w, h)
        let (start, rowStep, colStep): (Int, Int, Int) =
            switch self {
            case .up: (0, w, 1)
            case .mirrored: (w - 1, w, -1)
            case .down: (h * w - 1, -w, -1)
            case .downMirrored: ((h - 1) * w, -w, 1)
            case .leftMirrored: (0, 1, w)  // transpose
            case .right: ((h - 1) * w, 1, -w)  // rotate 90 degrees clockwise
            case .rightMirrored: ((h - 1) * w + w - 1, -1, -w)  // transverse
            case .left: (w - 1, -1, w)  // rotate 90 degrees counter-clockwise
            }
        var out = [UInt8](repeating: 0, count: outW * outH * 3)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var o = 0
                for y in 0..<outH {
                    var s = start + y * rowStep
                    for _ in 0..<outW {
                        dst[o] = src[3 * s]
                        dst[o + 1] = src[3 * s + 1]
                        dst[o + 2] = src[3 * s + 2]
                        o += 3
                        s += colStep
                    }
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: out)
    }
}
