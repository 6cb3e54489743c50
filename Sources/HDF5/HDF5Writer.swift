import CHDF5
import Foundation

/// A new HDF5 file of groups, float32 datasets and string attributes: the subset h5py writes for Keras
/// weights (contiguous little-endian float32 datasets, scalar variable-length UTF-8 string attributes).
/// Errors come back as `HDF5Error.invalid` naming the file and the object.
public final class HDF5Writer {
    let id: hid_t
    /// The file as the caller named it.
    public let path: String
    private var closed = false

    /// Writes a new file at `path` (which must not exist yet) through `body`, holding `hdf5Lock` throughout,
    /// and closes it. On error the file may be incomplete: write to a temporary name and rename.
    public static func write(_ path: String, _ body: (HDF5Writer) throws -> Void) throws {
        hdf5Lock.lock()
        defer { hdf5Lock.unlock() }
        let writer = try HDF5Writer(path: path)
        try body(writer)
        try writer.close()
    }

    /// Creates `path`, failing if it exists. Call with `hdf5Lock` held.
    init(path: String) throws {
        self.path = path
        try HDF5File.loadLibrary(for: path)
        tl_H5Eset_auto2(tl_H5E_DEFAULT(), nil, nil)
        let id = tl_H5Fcreate(path, tl_H5F_ACC_EXCL(), tl_H5P_DEFAULT(), tl_H5P_DEFAULT())
        guard id >= 0 else { throw HDF5Error.invalid(file: path, reason: "cannot create it (\(HDF5File.lastError()))") }
        self.id = id
    }

    deinit { if !closed { tl_H5Fclose(id) } }

    /// Flushes and closes the file; a failure here means the file on disk is incomplete.
    func close() throws {
        closed = true
        guard tl_H5Fclose(id) >= 0 else { throw bad("cannot close the file") }
    }

    /// Creates the group `name` (absolute) and any missing groups above it.
    public func createGroup(_ name: String) throws {
        var prefix = ""
        for part in name.split(separator: "/") {
            prefix += "/" + part
            if tl_H5Lexists(id, prefix, tl_H5P_DEFAULT()) > 0 { continue }
            let g = tl_H5Gcreate2(id, prefix, tl_H5P_DEFAULT(), tl_H5P_DEFAULT(), tl_H5P_DEFAULT())
            guard g >= 0 else { throw bad("cannot create group \(prefix)") }
            tl_H5Gclose(g)
        }
    }

    /// A contiguous float32 (little-endian) dataset `name` (absolute; its group must exist) of `shape`.
    public func writeFloats(_ name: String, shape: [Int], _ values: [Float]) throws {
        precondition(
            shape.reduce(1, *) == values.count,
            "HDF5Writer.writeFloats: \(values.count) values for shape \(shape) of \(name)")
        var dims = shape.map { hsize_t($0) }
        let space = tl_H5Screate_simple(Int32(dims.count), &dims, nil)
        guard space >= 0 else { throw bad("cannot make the dataspace of \(name)") }
        defer { tl_H5Sclose(space) }
        let ds = tl_H5Dcreate2(
            id, name, tl_H5T_IEEE_F32LE(), space, tl_H5P_DEFAULT(), tl_H5P_DEFAULT(), tl_H5P_DEFAULT())
        guard ds >= 0 else { throw bad("cannot create dataset \(name)") }
        defer { tl_H5Dclose(ds) }
        let rc = values.withUnsafeBytes {
            tl_H5Dwrite(ds, tl_H5T_NATIVE_FLOAT(), tl_H5S_ALL(), tl_H5S_ALL(), tl_H5P_DEFAULT(), $0.baseAddress)
        }
        guard rc >= 0 else { throw bad("cannot write dataset \(name)") }
    }

    /// A scalar variable-length UTF-8 string attribute `name` on the object `object` (absolute path), as
    /// h5py writes `attrs[name] = "text"`.
    public func setAttribute(_ name: String, string value: String, on object: String) throws {
        let type = tl_H5Tcopy(tl_H5T_C_S1())
        defer { tl_H5Tclose(type) }
        guard tl_H5Tset_size(type, tl_H5T_VARIABLE()) >= 0, tl_H5Tset_cset(type, H5T_CSET_UTF8) >= 0,
            tl_H5Tset_strpad(type, H5T_STR_NULLTERM) >= 0
        else { throw bad("cannot make the string type of \(name)") }
        let space = tl_H5Screate(H5S_SCALAR)
        guard space >= 0 else { throw bad("cannot make the dataspace of attribute \(name)") }
        defer { tl_H5Sclose(space) }
        let attr = tl_H5Acreate_by_name(
            id, object, name, type, space, tl_H5P_DEFAULT(), tl_H5P_DEFAULT(), tl_H5P_DEFAULT())
        guard attr >= 0 else { throw bad("cannot create attribute \(name) of \(object)") }
        defer { tl_H5Aclose(attr) }
        let rc = value.withCString { text -> herr_t in
            var pointer: UnsafePointer<CChar>? = text
            return tl_H5Awrite(attr, type, &pointer)
        }
        guard rc >= 0 else { throw bad("cannot write attribute \(name) of \(object)") }
    }

    private func bad(_ what: String) -> HDF5Error {
        .invalid(file: path, reason: "\(what): \(HDF5File.lastError())")
    }
}
