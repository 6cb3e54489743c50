import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes `path` through a temporary file in the same folder, renamed over `path` only when `body` has
/// written it whole: a failed or interrupted export leaves no partial file under the final name.
/// `body` gets the temporary path (which does not exist yet); anything it leaves there is removed on error.
func writeAtomically(_ path: String, _ body: (String) throws -> Void) throws {
    try checkWritable(path)
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent().path
    let temporary = folder + "/." + url.lastPathComponent + ".partial-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    do {
        try body(temporary)
        guard rename(temporary, path) == 0 else {
            throw ExportError.unwritable(path: path, reason: String(cString: strerror(errno)))
        }
    } catch {
        unlink(temporary)
        throw error
    }
}

/// Throws `ExportError.unwritable` unless a file can be written at `path`: its folder exists and is writable,
/// and `path` is not a directory. Exports check it before the slow part, and again when writing.
public func checkWritable(_ path: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw ExportError.unwritable(path: path, reason: "no directory \(folder)")
    }
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw ExportError.unwritable(path: path, reason: "it is a directory")
    }
    guard access(folder, W_OK) == 0 else {
        throw ExportError.unwritable(path: path, reason: "\(folder): \(String(cString: strerror(errno)))")
    }
}

/// Writes `data` to `path` atomically (see `writeAtomically`).
func writeAtomically(_ data: Data, to path: String) throws {
    try writeAtomically(path) { temporary in
        do { try data.write(to: URL(fileURLWithPath: temporary), options: [.withoutOverwriting]) } catch {
            throw ExportError.unwritable(path: path, reason: (error as NSError).localizedDescription)
        }
    }
}
