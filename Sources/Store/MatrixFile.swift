import CSQLite3
import Formats

#if canImport(Glibc)
    import Glibc
#endif

/// The vectors of one backbone and view, memory-mapped from a derived file beside the database
/// (`MatrixFile`): row i is image `imageIDs[i]`, rows in image-id order, as `VectorMatrix.load`
/// orders them. Valid while this object lives.
public final class MappedMatrix: @unchecked Sendable {
    public let backbone: Int64
    public let view: String
    public let dim: Int
    public let count: Int
    /// count x dim float32, row-major, 64-byte aligned.
    public let values: UnsafePointer<Float>
    /// Image ids, increasing.
    public let imageIDs: UnsafeBufferPointer<Int64>
    /// 1 / |row| as `rowInverseNorm` gave it when the file was built (0 for an all-zero row).
    public let inverseNorms: UnsafeBufferPointer<Float>
    /// The file it maps.
    public let path: String
    private let base: UnsafeMutableRawPointer
    private let length: Int

    init(path: String, base: UnsafeMutableRawPointer, length: Int, header: MatrixFile.Header) {
        self.path = path
        self.base = base
        self.length = length
        backbone = header.backbone
        view = header.view
        dim = header.dim
        count = header.count
        values = UnsafePointer(base.advanced(by: MatrixFile.headerBytes).assumingMemoryBound(to: Float.self))
        imageIDs = UnsafeBufferPointer(
            start: base.advanced(by: header.idsOffset).assumingMemoryBound(to: Int64.self), count: count)
        inverseNorms = UnsafeBufferPointer(
            start: base.advanced(by: header.normsOffset).assumingMemoryBound(to: Float.self), count: count)
    }

    deinit { munmap(base, length) }

    /// The row of `imageID`, if it has a vector here (binary search: ids increase).
    public func row(ofImage imageID: Int64) -> Int? {
        var lo = 0
        var hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if imageIDs[mid] < imageID { lo = mid + 1 } else { hi = mid }
        }
        return lo < count && imageIDs[lo] == imageID ? lo : nil
    }

    /// Row `i` as a copy.
    public func vector(_ i: Int) -> [Float] { Array(UnsafeBufferPointer(start: values + i * dim, count: dim)) }

    /// The byte range of the vectors in the file (for streaming them out without mapping them in).
    public var vectorBytes: Range<Int> { MatrixFile.headerBytes..<(MatrixFile.headerBytes + count * dim * 4) }
}

/// The one owner of the derived matrix file `DB.matrix-<backbone>-<view>` (schema.sql, docs/scale.md):
/// the vectors of one backbone and view laid out for `mmap`, so a command that searches all of them
/// maps a file instead of reading every BLOB out of SQLite again.
///
/// Layout, little-endian: a 4096-byte header (`Header`, the rest zero), then count x dim float32
/// vectors (row-major, rows in image-id order), then count Int64 image ids, then count float32
/// inverse norms. The file is never trusted blindly: `open` uses it only when the header's
/// magic, format, backbone, view, dim and file size are right, its token equals the database's
/// `vectors_token` (which triggers change on any change to the vectors, plain SQL included), its
/// row count equals the database's, and a sample of rows is byte-identical to the BLOBs in SQLite;
/// all read inside the caller's read transaction. Otherwise it rebuilds the file (written to a
/// temporary name, synced, renamed), or returns nil when it cannot: a schema-1 database opened
/// read-only has no token, a folder may not be writable. Callers then load the plain way.
public enum MatrixFile {
    /// When to use the file: `auto` for matrices of at least `autoMinimumBytes`, `always`, or
    /// `never`; from the environment variable `TLEARN_MATRIX_FILE` (default auto).
    public enum Mode: String, Sendable {
        case auto, always, never

        public static var fromEnvironment: Mode {
            getenv("TLEARN_MATRIX_FILE").flatMap { Mode(rawValue: String(cString: $0)) } ?? .auto
        }
    }

    /// Below this many vector bytes a plain load is fast enough, and no extra file appears.
    static let autoMinimumBytes = 64 << 20
    static let headerBytes = 4096
    static let magic: [UInt8] = Array("TLMATRIX".utf8)
    static let format: UInt32 = 1
    /// Rows compared with SQLite on every open (first, last and evenly spaced ones between).
    static let sampleRows = 16

    struct Header: Equatable {
        var dim: Int
        var count: Int
        var tableCount: Int
        var backbone: Int64
        var view: String
        var token: Int64
        var idsOffset: Int
        var normsOffset: Int
        var fileBytes: Int

        init(dim: Int, count: Int, tableCount: Int, backbone: Int64, view: String, token: Int64) {
            self.dim = dim
            self.count = count
            self.tableCount = tableCount
            self.backbone = backbone
            self.view = view
            self.token = token
            idsOffset = MatrixFile.headerBytes + (count * dim * 4 + 7) / 8 * 8
            normsOffset = idsOffset + count * 8
            fileBytes = normsOffset + count * 4
        }

        // magic 0..<8, format 8..<12, dim 12..<16, count 16..<24, tableCount 24..<32,
        // backbone 32..<40, token 40..<48, fileBytes 48..<56, view 56..<72 (UTF-8, zero-padded).
        func encode(into p: UnsafeMutableRawPointer) {
            p.initializeMemory(as: UInt8.self, repeating: 0, count: MatrixFile.headerBytes)
            for (i, b) in MatrixFile.magic.enumerated() { p.storeBytes(of: b, toByteOffset: i, as: UInt8.self) }
            p.storeBytes(of: MatrixFile.format.littleEndian, toByteOffset: 8, as: UInt32.self)
            p.storeBytes(of: UInt32(dim).littleEndian, toByteOffset: 12, as: UInt32.self)
            p.storeBytes(of: UInt64(count).littleEndian, toByteOffset: 16, as: UInt64.self)
            p.storeBytes(of: UInt64(tableCount).littleEndian, toByteOffset: 24, as: UInt64.self)
            p.storeBytes(of: backbone.littleEndian, toByteOffset: 32, as: Int64.self)
            p.storeBytes(of: token.littleEndian, toByteOffset: 40, as: Int64.self)
            p.storeBytes(of: UInt64(fileBytes).littleEndian, toByteOffset: 48, as: UInt64.self)
            for (i, b) in view.utf8.prefix(16).enumerated() {
                p.storeBytes(of: b, toByteOffset: 56 + i, as: UInt8.self)
            }
        }

        static func decode(_ p: UnsafeRawPointer, length: Int) -> Header? {
            guard length >= MatrixFile.headerBytes,
                (0..<8).allSatisfy({ p.load(fromByteOffset: $0, as: UInt8.self) == MatrixFile.magic[$0] }),
                UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) == MatrixFile.format
            else { return nil }
            let dim = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
            let count = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            let tableCount = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            guard dim > 0, dim <= 1 << 20, count <= 1 << 40, tableCount <= 1 << 40 else { return nil }
            var viewBytes: [UInt8] = []
            for i in 0..<16 {
                let b = p.load(fromByteOffset: 56 + i, as: UInt8.self)
                if b == 0 { break }
                viewBytes.append(b)
            }
            let h = Header(
                dim: dim, count: Int(count), tableCount: Int(tableCount),
                backbone: Int64(littleEndian: p.loadUnaligned(fromByteOffset: 32, as: Int64.self)),
                view: String(decoding: viewBytes, as: UTF8.self),
                token: Int64(littleEndian: p.loadUnaligned(fromByteOffset: 40, as: Int64.self)))
            let stored = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 48, as: UInt64.self))
            return stored == UInt64(h.fileBytes) && h.fileBytes == length ? h : nil
        }
    }

    /// 1 / |row| in the precision `VectorMath` computes norms (Double), 0 for an all-zero row (whose
    /// cosine with anything is 0): what the file stores beside each row.
    public static func inverseNorm(_ row: UnsafeBufferPointer<Float>) -> Float {
        let n = VectorMath.norm(Vector(UnsafeRawBufferPointer(row)))
        return n == 0 ? 0 : Float(1 / n)
    }

    /// The file of `backbone` and `view` beside the database at `database`.
    public static func path(database: String, backbone: Int64, view: String) -> String {
        "\(database).matrix-\(backbone)-\(view)"
    }

    /// The triggers that keep `vectors_token`; without all of them the token proves nothing.
    static let triggers = [
        "embeddings_insert_token", "embeddings_update_token", "embeddings_delete_token",
        "images_delete_token", "images_id_token", "classes_delete_token",
    ]

    /// The database's vectors token, or nil when it has none the file could be keyed by (schema 1,
    /// or triggers dropped).
    static func token(_ db: Connection) throws -> Int64? {
        let hasTable =
            try db.scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'vectors_token'")?.int
            ?? 0
        guard hasTable == 1 else { return nil }
        let list = triggers.map { "'\($0)'" }.joined(separator: ", ")
        let found =
            try db.scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND name IN (\(list))")?.int ?? 0
        guard found == Int64(triggers.count) else { return nil }
        return try db.scalar("SELECT token FROM vectors_token WHERE id = 1")?.int
    }

    /// Vectors of `backbone`/`view` in `embeddings`, whether or not their image row exists (the
    /// index answers it without reading a BLOB).
    static func tableCount(_ db: Connection, backbone: Int64, view: String) throws -> Int {
        Int(
            try db.scalar(
                "SELECT count(*) FROM embeddings WHERE backbone_id = ?1 AND view = ?2",
                [.integer(backbone), .text(view)])?.int ?? 0)
    }

    /// The valid matrix file of `backbone`/`view` for the database `db` (opened from `database`),
    /// built or rebuilt when missing or stale; nil when `mode` says no, when the database has no
    /// token, or when the file cannot be written. Call inside a read transaction, so the rows the
    /// caller reads from SQLite next belong to the same state as the vectors.
    /// `rowInverseNorm` gives 1/|row| (0 for a zero row), stored so searches need not recompute it.
    public static func open(
        _ db: Connection, database: String, backbone: Int64, view: String, mode: Mode = .fromEnvironment,
        rowInverseNorm: (UnsafeBufferPointer<Float>) -> Float = MatrixFile.inverseNorm
    ) throws -> MappedMatrix? {
        #if _endian(big)
            return nil  // the file is little-endian, mapped as is
        #else
            if mode == .never { return nil }
            guard let token = try token(db) else { return nil }
            guard let dim = try db.scalar("SELECT dim FROM backbones WHERE id = ?1", [.integer(backbone)])?.int, dim > 0
            else { return nil }
            let tableCount = try tableCount(db, backbone: backbone, view: view)
            if mode == .auto && tableCount * Int(dim) * 4 < autoMinimumBytes { return nil }
            let file = path(database: database, backbone: backbone, view: view)
            if let mapped = map(file), mapped.dim == Int(dim), mapped.view == view, mapped.backbone == backbone,
                mappedHeaderToken(mapped) == token, mappedTableCount(mapped) == tableCount, try samplesMatch(mapped, db)
            {
                return mapped
            }
            guard
                try build(
                    db, file: file, backbone: backbone, view: view, dim: Int(dim), token: token, tableCount: tableCount,
                    rowInverseNorm: rowInverseNorm)
            else { return nil }
            guard let mapped = map(file), mappedHeaderToken(mapped) == token else { return nil }
            return mapped
        #endif
    }

    private static func mappedHeaderToken(_ m: MappedMatrix) -> Int64 {
        Int64(littleEndian: UnsafeRawPointer(m.values).advanced(by: -headerBytes + 40).loadUnaligned(as: Int64.self))
    }

    private static func mappedTableCount(_ m: MappedMatrix) -> Int {
        Int(
            UInt64(
                littleEndian: UnsafeRawPointer(m.values).advanced(by: -headerBytes + 24).loadUnaligned(as: UInt64.self))
        )
    }

    /// Maps `file` read-only when its header is sound; nil otherwise.
    static func map(_ file: String) -> MappedMatrix? {
        let fd = Glibc.open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var s = stat()
        guard fstat(fd, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG, s.st_size >= headerBytes else { return nil }
        let length = Int(s.st_size)
        guard let base = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), base != MAP_FAILED else { return nil }
        guard let header = Header.decode(UnsafeRawPointer(base), length: length) else {
            munmap(base, length)
            return nil
        }
        // Searches read every row: ask for the whole file up front, in large reads.
        _ = madvise(base, length, MADV_WILLNEED)
        return MappedMatrix(path: file, base: base, length: length, header: header)
    }

    /// The first, last and evenly spaced rows equal SQLite's BLOBs byte for byte, and their ids
    /// are the images whose vectors they are.
    static func samplesMatch(_ m: MappedMatrix, _ db: Connection) throws -> Bool {
        if m.count == 0 { return true }
        let statement = try db.prepare(
            """
            SELECT e.vector FROM embeddings e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id
            WHERE e.image_id = ?1 AND e.backbone_id = ?2 AND e.view = ?3
            """)
        let rows = Set((0..<sampleRows).map { $0 * (m.count - 1) / max(1, sampleRows - 1) })
        for r in rows.sorted() {
            statement.reset()
            try statement.bind([.integer(m.imageIDs[r]), .integer(m.backbone), .text(m.view)])
            guard try statement.step() else { return false }
            let blob = statement.blob(0)
            guard blob.count == m.dim * 4, memcmp(blob.baseAddress!, m.values + r * m.dim, blob.count) == 0 else {
                return false
            }
        }
        return true
    }

    /// Writes the file from SQLite: rows streamed into a mapped temporary file, put in image-id order
    /// if they were not, synced, renamed over `file`. False when the folder cannot be written.
    static func build(
        _ db: Connection, file: String, backbone: Int64, view: String, dim: Int, token: Int64, tableCount: Int,
        rowInverseNorm: (UnsafeBufferPointer<Float>) -> Float
    ) throws -> Bool {
        let count = Int(
            try db.scalar(
                """
                SELECT count(*) FROM embeddings e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id
                WHERE e.backbone_id = ?1 AND e.view = ?2
                """, [.integer(backbone), .text(view)])?.int ?? 0)
        let header = Header(
            dim: dim, count: count, tableCount: tableCount, backbone: backbone, view: view, token: token)
        let tmp = "\(file).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = Glibc.open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        var keep = false
        defer {
            close(fd)
            if !keep { unlink(tmp) }
        }
        // Blocks reserved up front: writing through the mapping into a sparse file on a full disk
        // would kill the process with SIGBUS instead of failing here.
        guard posix_fallocate(fd, 0, off_t(header.fileBytes)) == 0 else { return false }
        guard let base = mmap(nil, header.fileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED
        else { return false }
        defer { munmap(base, header.fileBytes) }
        let values = base.advanced(by: headerBytes).assumingMemoryBound(to: Float.self)
        let ids = base.advanced(by: header.idsOffset).assumingMemoryBound(to: Int64.self)
        let norms = base.advanced(by: header.normsOffset).assumingMemoryBound(to: Float.self)
        // The rows VectorMatrix.load reads, in the same (rowid) order, checked the same way.
        let statement = try db.prepare(
            """
            SELECT e.image_id, e.vector
            FROM embeddings e JOIN images i ON i.id = e.image_id JOIN classes c ON c.id = i.class_id
            WHERE e.backbone_id = ?1 AND e.view = ?2
            """, [.integer(backbone), .text(view)])
        var n = 0
        var sorted = true
        while try statement.step() {
            let blob = statement.blob(1)
            guard blob.count == dim * 4 else {
                throw StoreError.invalid(
                    "\(db.path): the \(view) vector of image \(statement.int(0)) is \(blob.count) bytes; backbone \(backbone) has dim \(dim), so \(dim * 4) bytes"
                )
            }
            guard n < count else { throw StoreError.invalid("\(db.path): vectors changed while reading them") }
            UnsafeMutableRawPointer(values + n * dim).copyMemory(from: blob.baseAddress!, byteCount: blob.count)
            ids[n] = statement.int(0)
            if n > 0 && ids[n] <= ids[n - 1] { sorted = false }
            n += 1
        }
        guard n == count else { throw StoreError.invalid("\(db.path): vectors changed while reading them") }
        if !sorted { sortRows(values: values, ids: ids, count: count, dim: dim) }
        for i in 0..<count {
            norms[i] = rowInverseNorm(UnsafeBufferPointer(start: values + i * dim, count: dim))
        }
        header.encode(into: base)
        // Synced before the rename: after a crash the name holds either the old file or this one whole.
        guard msync(base, header.fileBytes, MS_SYNC) == 0, fsync(fd) == 0 else { return false }
        guard rename(tmp, file) == 0 else { return false }
        keep = true
        return true
    }

    /// Puts rows and ids in increasing id order in place (cycles of the permutation, one row buffer).
    static func sortRows(values: UnsafeMutablePointer<Float>, ids: UnsafeMutablePointer<Int64>, count: Int, dim: Int) {
        let order = (0..<count).sorted { ids[$0] < ids[$1] }  // order[k]: the row that belongs at k
        var done = [Bool](repeating: false, count: count)
        let row = UnsafeMutablePointer<Float>.allocate(capacity: dim)
        defer { row.deallocate() }
        for start in 0..<count where !done[start] {
            row.update(from: values + start * dim, count: dim)
            let startID = ids[start]
            var k = start
            while true {
                done[k] = true
                let from = order[k]
                if from == start {
                    (values + k * dim).update(from: row, count: dim)
                    ids[k] = startID
                    break
                }
                (values + k * dim).update(from: values + from * dim, count: dim)
                ids[k] = ids[from]
                k = from
            }
        }
    }
}
