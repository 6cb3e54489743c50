#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file that may be an image, with the label it would get.
public struct Candidate: Sendable, Equatable {
    /// Relative to the dataset root, '/'-separated: the `images.path` key.
    public var path: String
    /// Where to open it.
    public var file: String
    public var label: String

    public init(path: String, file: String, label: String) {
        self.path = path
        self.file = file
        self.label = label
    }
}

/// What a scan found.
public struct ScanResult: Sendable {
    /// The dataset root the paths are relative to (stored as meta 'root').
    public var root: String = ""
    /// Sorted by path.
    public var candidates: [Candidate] = []
    /// Entries that exist but cannot be opened as files (dangling symlinks, sockets, unlistable
    /// folders): they become failure rows with reason `unreadable`.
    var unusable: [(path: String, message: String)] = []
    /// Relative folders that could not be listed: images stored under them are not "missing".
    var unlistedFolders: [String] = []
    /// Files directly in the root (not in a class folder), skipped.
    var looseFiles: [String] = []
}

/// Finds candidate images under a dataset root laid out as ROOT/<label>/.../<file>.
///
/// Every visible regular file under a class folder is a candidate whatever its name: content
/// decides later (a photo without an extension counts; a `.txt` becomes a `not_image` failure).
/// Skipped without a word: names starting with '.', `__MACOSX` folders, and the `Thumbs.db`,
/// `desktop.ini` and `Icon\r` files that file managers write. Symlinks are followed (a loop is
/// visited once).
public enum Scanner {
    static let junk: Set<String> = ["Thumbs.db", "desktop.ini", "Icon\r", "__MACOSX"]

    /// Scans `root`; throws `ExtractionError.badInput` when `root` is not a readable folder.
    public static func scan(root: String) throws -> ScanResult {
        var st = stat()
        guard stat(root, &st) == 0 else {
            throw ExtractionError.badInput("cannot read images folder \(root): \(String(cString: strerror(errno)))")
        }
        guard st.st_mode & S_IFMT == S_IFDIR else { throw ExtractionError.badInput("\(root) is not a folder") }
        var result = ScanResult()
        result.root = root
        var seen = Set<[UInt64]>([[UInt64(st.st_dev), UInt64(st.st_ino)]])
        let top: [String]
        do { top = try list(root) } catch let e as Errno {
            throw ExtractionError.badInput("cannot list images folder \(root): \(e.message)")
        }
        for name in top where !skipped(name) {
            let full = root + "/" + name
            var s = stat()
            if stat(full, &s) != 0 {
                result.looseFiles.append(name)
                continue
            }
            if s.st_mode & S_IFMT == S_IFDIR {
                if seen.insert([UInt64(s.st_dev), UInt64(s.st_ino)]).inserted {
                    walk(full, relative: name, label: name, into: &result, seen: &seen)
                }
            } else {
                result.looseFiles.append(name)
            }
        }
        result.candidates.sort { $0.path < $1.path }
        return result
    }

    static func skipped(_ name: String) -> Bool { name.hasPrefix(".") || junk.contains(name) }

    private static func walk(
        _ folder: String, relative: String, label: String, into result: inout ScanResult, seen: inout Set<[UInt64]>
    ) {
        let names: [String]
        do { names = try list(folder) } catch let e as Errno {
            result.unusable.append((relative, "cannot list folder \(folder): \(e.message)"))
            result.unlistedFolders.append(relative)
            return
        } catch { return }
        for name in names where !skipped(name) {
            let full = folder + "/" + name
            let rel = relative + "/" + name
            var s = stat()
            if stat(full, &s) != 0 {
                let reason = String(cString: strerror(errno))
                var l = stat()
                let dangling = lstat(full, &l) == 0 && l.st_mode & S_IFMT == S_IFLNK
                result.unusable.append(
                    (rel, "cannot read \(full): \(dangling ? "symbolic link to a missing file" : reason)"))
                continue
            }
            switch s.st_mode & S_IFMT {
            case S_IFDIR:
                if seen.insert([UInt64(s.st_dev), UInt64(s.st_ino)]).inserted {
                    walk(full, relative: rel, label: label, into: &result, seen: &seen)
                }
            case S_IFREG:
                result.candidates.append(Candidate(path: rel, file: full, label: label))
            default:
                result.unusable.append((rel, "cannot read \(full): not a regular file"))
            }
        }
    }

    struct Errno: Error {
        let code: Int32
        var message: String { String(cString: strerror(code)) }
    }

    /// Entry names of a folder in byte order, without "." and "..".
    static func list(_ folder: String) throws -> [String] {
        guard let dir = opendir(folder) else { throw Errno(code: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }
}
