#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One writer per database: an exclusive `flock` on `<db>.lock`, holding the writer's pid.
///
/// SQLite alone would let two extractions interleave their batch transactions and do the
/// backbone work twice, so writers (extract, merge) take this lock for their whole run. The
/// kernel drops it when the process dies, SIGKILL included, so a stale file never blocks anyone.
/// It is a separate file because closing any descriptor of the database file itself would drop
/// SQLite's own POSIX locks.
public final class WriterLock {
    let lockPath: String
    private let fd: Int32

    /// Takes the lock for `databasePath` or throws `StoreError.locked` naming the holder's pid.
    public init(databasePath: String) throws {
        lockPath = databasePath + ".lock"
        while true {
            let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                let code = errno
                if code == ENOENT {
                    let folder =
                        databasePath.contains("/") ? String(databasePath[..<databasePath.lastIndex(of: "/")!]) : "."
                    throw StoreError.invalid("cannot create database \(databasePath): no folder \(folder)")
                }
                throw StoreError.invalid(
                    "cannot create lock file \(lockPath) for database \(databasePath): \(String(cString: strerror(code)))"
                )
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                let pid = Self.readPID(fd)
                close(fd)
                if code == EWOULDBLOCK {
                    throw StoreError.locked(path: databasePath, pid: pid)
                }
                throw StoreError.invalid("cannot lock \(lockPath): \(String(cString: strerror(code)))")
            }
            // The previous holder may have unlinked the file between our open and flock: then
            // we hold a lock on a file nobody else will see; start over.
            var a = stat()
            var b = stat()
            if fstat(fd, &a) == 0, stat(lockPath, &b) == 0, a.st_ino == b.st_ino, a.st_dev == b.st_dev {
                let text = Array("\(getpid())\n".utf8)
                _ = ftruncate(fd, 0)
                _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
                self.fd = fd
                return
            }
            close(fd)
        }
    }

    deinit {
        // Unlink while still holding the lock, so the next writer's inode check works.
        unlink(lockPath)
        close(fd)
    }

    private static func readPID(_ fd: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: " \n"))
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let c = s.first, chars.contains(c) { s.removeFirst() }
        while let c = s.last, chars.contains(c) { s.removeLast() }
        return String(s)
    }
}
