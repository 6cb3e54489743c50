#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open file read in two steps: a prefix to sniff, then (only if it may be an image) the rest.
struct FileReader: ~Copyable {
    let path: String
    let fd: Int32
    /// Size when opened.
    let size: Int

    /// Opens `path`; throws `ExtractionError.unreadable` with the system's reason.
    init(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ExtractionError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        var s = stat()
        guard fstat(fd, &s) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ExtractionError.unreadable(path: path, reason: reason)
        }
        guard s.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw ExtractionError.unreadable(path: path, reason: "not a regular file")
        }
        self.path = path
        self.fd = fd
        self.size = Int(s.st_size)
    }

    deinit { close(fd) }

    /// Up to `count` bytes from the start.
    func prefix(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let n = try out.withUnsafeMutableBytes { try fill($0, at: 0) }
        out.removeSubrange(n...)
        return out
    }

    /// The whole file (it may have changed size since it was opened: read to end of file).
    func all() throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        var n = try out.withUnsafeMutableBytes { try fill($0, at: 0) }
        if n == size {
            // Grown since fstat: keep reading.
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let m = try chunk.withUnsafeMutableBytes { try fill($0, at: n) }
                if m == 0 { break }
                out.append(contentsOf: chunk[0..<m])
                n += m
            }
        }
        out.removeSubrange(n...)
        return out
    }

    /// Reads into `buffer` from file offset `offset` until full or end of file; returns bytes read.
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ExtractionError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads a whole file.
    static func readAll(_ path: String) throws -> [UInt8] { try FileReader(path).all() }
}
