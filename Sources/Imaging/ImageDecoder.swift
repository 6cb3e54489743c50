#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Decodes JPEG and PNG bytes to upright RGB. Holds a TurboJPEG handle, which is not thread-safe:
/// give each worker thread its own decoder and reuse it for every image that thread decodes.
public final class ImageDecoder {
    /// Largest image, in decoded pixels (after DCT scaling), that is decoded at all: 50 megapixels
    /// is 150 MB of RGB. Larger headers (a 65000x65000 JPEG, a PNG bomb) are `unsupported` before
    /// any pixel memory is allocated.
    static let maxPixels = 50_000_000

    let jpeg = JPEGDecoder()

    public init() {}

    /// Decodes `bytes`, detecting JPEG or PNG from the signature; `path` only names the file in
    /// errors. With `minSide`, a JPEG is decoded at the smallest DCT scale of 1/8, 1/4, 1/2 that keeps
    /// both sides >= `minSide` (else full size): faster for large photos, but then no longer
    /// bit-identical to Pillow, which decodes at full size. Pass nil for exact Pillow parity.
    public func decode(_ bytes: [UInt8], path: String, minSide: Int? = nil) throws -> DecodedImage {
        try bytes.withUnsafeBufferPointer { buffer in
            guard !buffer.isEmpty else { throw ImagingError.empty(path: path) }
            switch ImageFormat(signatureOf: buffer) {
            case .jpeg: return try jpeg.decode(buffer, path: path, minSide: minSide)
            case .png: return try PNG.decode(buffer, path: path)
            case nil: throw ImagingError.notImage(path: path, firstBytes: Array(buffer.prefix(8)))
            }
        }
    }

    /// Reads and decodes the file at `path` (see `decode(_:path:minSide:)`).
    func decodeFile(at path: String, minSide: Int? = nil) throws -> DecodedImage {
        try decode(readImageFile(at: path), path: path, minSide: minSide)
    }
}

/// Reads and decodes one image with a fresh decoder; for loops and worker threads, keep an
/// `ImageDecoder` per thread instead.
public func decodeImage(at path: String, minSide: Int? = nil) throws -> DecodedImage {
    try ImageDecoder().decodeFile(at: path, minSide: minSide)
}

extension ImageFormat {
    /// JPEG starts with SOI and the first marker's 0xFF (FF D8 FF); PNG with its 8-byte signature.
    init?(signatureOf bytes: UnsafeBufferPointer<UInt8>) {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF {
            self = .jpeg
        } else if bytes.count >= 8, bytes.prefix(8).elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else {
            return nil
        }
    }
}

/// Largest file read into memory: far above any photo, low enough that a stray disk image or video
/// named .jpg is refused instead of read whole.
let maxFileBytes = 512 << 20

/// Reads a whole file; missing, unreadable, directory or oversized -> `unreadable` or `unsupported`
/// with the system's reason.
func readImageFile(at path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ImagingError.unreadable(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
        throw ImagingError.unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    guard info.st_mode & S_IFMT != S_IFDIR else { throw ImagingError.unreadable(path: path, reason: "is a directory") }
    let size = Int(info.st_size)
    guard size <= maxFileBytes else {
        throw ImagingError.unsupported(
            path: path, reason: "file is \(size) bytes, more than the limit of \(maxFileBytes)")
    }
    var bytes = [UInt8](repeating: 0, count: size)
    var filled = 0
    try bytes.withUnsafeMutableBytes { buffer in
        while filled < size {
            let n = read(fd, buffer.baseAddress! + filled, size - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw ImagingError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }  // the file shrank while we read it
            filled += n
        }
    }
    if filled < size { bytes.removeSubrange(filled...) }
    return bytes
}
