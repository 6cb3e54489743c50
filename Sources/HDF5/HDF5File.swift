import CHDF5
import Foundation

/// Why an HDF5 file could not be read: the file, and what went wrong with which object.
public enum HDF5Error: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case notHDF5(file: String)
    case invalid(file: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): "cannot read \(file): \(reason)"
        case .notHDF5(let file): "\(file) is not an HDF5 file"
        case .invalid(let file, let reason): "\(file): \(reason)"
        }
    }
}

/// libhdf5 (serial build) is not thread-safe: every call in this module runs under this lock.
public let hdf5Lock = NSLock()

/// A read-only HDF5 file; errors come back as `HDF5Error` naming the file and the object.
public final class HDF5File {
    let id: hid_t
    /// The file as the caller named it.
    public let path: String

    /// The 8-byte HDF5 signature; it sits at 0 or, after a user block, at 512, 1024, 2048, ...
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Opens `path`, checking it exists, is not empty and carries the HDF5 signature before HDF5 sees it.
    /// Call with `hdf5Lock` held.
    public init(path: String) throws {
        self.path = path
        try HDF5File.checkSignature(path)
        try HDF5File.loadLibrary(for: path)
        tl_H5Eset_auto2(tl_H5E_DEFAULT(), nil, nil)  // errors come back as WeightsError, not on stderr
        let id = tl_H5Fopen(path, tl_H5F_ACC_RDONLY(), tl_H5P_DEFAULT())
        guard id >= 0 else {
            throw HDF5Error.unreadable(
                file: path, reason: "HDF5 cannot open it (\(HDF5File.lastError())); truncated or damaged?")
        }
        self.id = id
    }

    deinit { tl_H5Fclose(id) }

    /// Opens libhdf5 (once per process; see CHDF5), or says why it cannot, naming the file it was for.
    static func loadLibrary(for path: String) throws {
        var message = [CChar](repeating: 0, count: 640)
        guard tl_hdf5_open(&message, message.count) == 0 else {
            throw HDF5Error.unreadable(
                file: path, reason: message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
    }

    private static func checkSignature(_ path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw HDF5Error.unreadable(file: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw HDF5Error.unreadable(file: path, reason: "is a directory") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw HDF5Error.unreadable(file: path, reason: "permission denied")
        }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        guard size > 0 else { throw HDF5Error.unreadable(file: path, reason: "the file is empty") }
        var offset: UInt64 = 0
        while offset + 8 <= size {
            try? handle.seek(toOffset: offset)
            if let bytes = try? handle.read(upToCount: 8), Array(bytes) == signature { return }
            offset = offset == 0 ? 512 : offset * 2
        }
        throw HDF5Error.notHDF5(file: path)
    }

    /// The innermost message on HDF5's error stack (the most specific one), then clears the stack.
    static func lastError() -> String {
        var messages: [String] = []
        withUnsafeMutablePointer(to: &messages) { pointer in
            _ = tl_H5Ewalk2(
                tl_H5E_DEFAULT(), H5E_WALK_UPWARD,
                { _, error, data in
                    if let text = error?.pointee.desc, let data {
                        data.assumingMemoryBound(to: [String].self).pointee.append(String(cString: text))
                    }
                    return 0
                }, pointer)
        }
        tl_H5Eclear2(tl_H5E_DEFAULT())
        return messages.first ?? "unknown HDF5 error"
    }

    /// Whether a link `name` (absolute path) exists, every intermediate group included.
    public func exists(_ name: String) -> Bool {
        var prefix = ""
        for part in name.split(separator: "/") {
            prefix += "/" + part
            guard tl_H5Lexists(id, prefix, tl_H5P_DEFAULT()) > 0 else { return false }
        }
        return true
    }

    /// Every dataset below `group` (absolute), as absolute paths, in name order.
    public func datasets(under group: String) throws -> [String] {
        let g = tl_H5Gopen2(id, group, tl_H5P_DEFAULT())
        guard g >= 0 else {
            throw HDF5Error.invalid(file: path, reason: "cannot open group \(group): \(HDF5File.lastError())")
        }
        defer { tl_H5Gclose(g) }
        var found: [String] = []
        let rc = withUnsafeMutablePointer(to: &found) { pointer in
            tl_H5Lvisit(
                g, H5_INDEX_NAME, H5_ITER_INC,
                { group, name, info, data in
                    guard let name, let data, info?.pointee.type == H5L_TYPE_HARD else { return 0 }
                    let object = tl_H5Oopen(group, name, tl_H5P_DEFAULT())
                    guard object >= 0 else { return 0 }
                    if tl_H5Iget_type(object) == H5I_DATASET {
                        data.assumingMemoryBound(to: [String].self).pointee.append(String(cString: name))
                    }
                    tl_H5Oclose(object)
                    return 0
                }, pointer)
        }
        guard rc >= 0 else {
            throw HDF5Error.invalid(file: path, reason: "cannot list \(group): \(HDF5File.lastError())")
        }
        let base = group.hasSuffix("/") ? group : group + "/"
        return found.map { base + $0 }
    }

    /// A string (or string array) attribute, fixed-length or variable-length, as Swift strings.
    /// nil if the attribute is absent; [] if it is not a string type (Keras writes an empty float64
    /// array as the `weight_names` of a layer without weights).
    public func strings(attribute name: String, of object: String) throws -> [String]? {
        guard exists(object), tl_H5Aexists_by_name(id, object, name, tl_H5P_DEFAULT()) > 0 else { return nil }
        let attr = tl_H5Aopen_by_name(id, object, name, tl_H5P_DEFAULT(), tl_H5P_DEFAULT())
        guard attr >= 0 else { throw bad("cannot open attribute \(name) of \(object)") }
        defer { tl_H5Aclose(attr) }
        let type = tl_H5Aget_type(attr)
        defer { tl_H5Tclose(type) }
        guard tl_H5Tget_class(type) == H5T_STRING else { return [] }
        let space = tl_H5Aget_space(attr)
        defer { tl_H5Sclose(space) }
        let count = Int(tl_H5Sget_simple_extent_npoints(space))
        guard count > 0 else { return [] }
        if tl_H5Tis_variable_str(type) > 0 {
            // Variable-length: HDF5 allocates each string; 1.10 has no H5Treclaim, so H5Dvlen_reclaim frees them.
            let memory = tl_H5Tcopy(tl_H5T_C_S1())
            defer { tl_H5Tclose(memory) }
            tl_H5Tset_size(memory, tl_H5T_VARIABLE())
            tl_H5Tset_cset(memory, tl_H5Tget_cset(type))
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            guard tl_H5Aread(attr, memory, &pointers) >= 0 else {
                throw bad("cannot read attribute \(name) of \(object)")
            }
            let result = pointers.map { $0.map { String(cString: $0) } ?? "" }
            tl_H5Dvlen_reclaim(memory, space, tl_H5P_DEFAULT(), &pointers)
            return result
        }
        // Fixed-length (h5py 2 / Keras 2): NUL-padded or space-padded records of `size` bytes.
        let size = tl_H5Tget_size(type)
        guard size > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count * size)
        guard tl_H5Aread(attr, type, &bytes) >= 0 else { throw bad("cannot read attribute \(name) of \(object)") }
        let spacePadded = tl_H5Tget_strpad(type) == H5T_STR_SPACEPAD
        return (0..<count).map { i in
            var record = bytes[(i * size)..<((i + 1) * size)]
            if let nul = record.firstIndex(of: 0) { record = record[..<nul] }
            var text = String(decoding: record, as: UTF8.self)
            if spacePadded { while text.hasSuffix(" ") { text.removeLast() } }
            return text
        }
    }

    /// A dataset's shape; nil when `name` is not a readable dataset.
    public func shape(of name: String) -> [Int]? {
        let ds = tl_H5Dopen2(id, name, tl_H5P_DEFAULT())
        guard ds >= 0 else {
            tl_H5Eclear2(tl_H5E_DEFAULT())
            return nil
        }
        defer { tl_H5Dclose(ds) }
        let space = tl_H5Dget_space(ds)
        guard space >= 0 else { return nil }
        defer { tl_H5Sclose(space) }
        let rank = Int(tl_H5Sget_simple_extent_ndims(space))
        guard rank >= 0 else { return nil }
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        guard tl_H5Sget_simple_extent_dims(space, &dims, nil) >= 0 else { return nil }
        return dims.prefix(rank).map { Int($0) }
    }

    /// A float dataset's values converted to native Float32 (HDF5 converts float16/float64 too).
    public func floats(_ name: String, count: Int) throws -> [Float] {
        let ds = tl_H5Dopen2(id, name, tl_H5P_DEFAULT())
        guard ds >= 0 else { throw bad("cannot open dataset \(name)") }
        defer { tl_H5Dclose(ds) }
        let type = tl_H5Dget_type(ds)
        defer { tl_H5Tclose(type) }
        guard tl_H5Tget_class(type) == H5T_FLOAT else {
            throw HDF5Error.invalid(file: path, reason: "dataset \(name) does not hold floating-point numbers")
        }
        var values = [Float](repeating: 0, count: count)
        let rc = values.withUnsafeMutableBytes {
            tl_H5Dread(ds, tl_H5T_NATIVE_FLOAT(), tl_H5S_ALL(), tl_H5S_ALL(), tl_H5P_DEFAULT(), $0.baseAddress)
        }
        guard rc >= 0 else { throw bad("cannot read dataset \(name)") }
        return values
    }

    private func bad(_ what: String) -> HDF5Error {
        .invalid(file: path, reason: "\(what): \(HDF5File.lastError())")
    }
}
