import CSQLite3
import Formats
import Store

/// Registers tlearn's vector SQL functions (vec_*, head_*) on a connection.
///
/// Vectors are BLOBs of little-endian float32 (schema.sql). NULL in gives NULL out; any other
/// wrong argument raises an SQL error naming the function and the problem.
public enum VectorSQL {
    /// The functions `register` adds, with their arities, for docs and tests.
    public static let functions: [(name: String, arguments: Int)] = [
        ("vec_dim", 1), ("vec_at", 2), ("vec_dot", 2), ("vec_norm", 1), ("vec_cosine", 2), ("vec_l2", 2),
        ("vec_json", 1), ("vec_from_json", 1), ("vec_mean", 1), ("head_predict", 2), ("head_proba", 3),
    ]

    /// Opens a tlearn database (`Database.open`) with the vector functions registered.
    public static func open(_ path: String, readOnly: Bool = false) throws -> Connection {
        let db = try Database.open(path, readOnly: readOnly)
        try register(on: db.handle)
        return db
    }

    /// Whether an extension loader's `sqlite3_api_routines` table belongs to the libsqlite3 this
    /// code is linked to. The extension calls that library directly instead of going through
    /// the table (whose macros Swift cannot import), which is only sound when they are the same;
    /// the table's first entry is then our `sqlite3_aggregate_context`.
    public static func isLinkedSQLite(routines: UnsafeRawPointer) -> Bool {
        let ours = unsafeBitCast(
            sqlite3_aggregate_context as @convention(c) (OpaquePointer?, Int32) -> UnsafeMutableRawPointer?,
            to: UnsafeRawPointer.self)
        return routines.load(as: UnsafeRawPointer?.self) == ours
    }

    /// Adds every function to `db`; tlearn calls this on each connection it opens.
    public static func register(on db: OpaquePointer) throws {
        do {
            try registerVectorFunctions(db)
            try registerMean(db)
            try registerHeadFunctions(db)
        } catch {
            throw StoreError.invalid("\(error)")
        }
    }

    static func registerVectorFunctions(_ db: OpaquePointer) throws(SQLFunctionError) {
        try pure(db, "vec_dim", 1) { args throws(SQLFunctionError) in
            guard let v = try args.vector(0) else { return .null }
            return .integer(Int64(v.count))
        }
        try pure(db, "vec_at", 2) { args throws(SQLFunctionError) in
            guard let v = try args.vector(0), let i = try args.integer(1, what: "index") else { return .null }
            guard i >= 0 && i < v.count else {
                throw SQLFunctionError(
                    "index \(i) is out of range for a vector of \(v.count) floats (indices are 0-based)")
            }
            let x = v[Int(i)]
            if x.isNaN { throw SQLFunctionError("element \(i) is NaN") }
            return .real(Double(x))
        }
        try pure(db, "vec_dot", 2) { args throws(SQLFunctionError) in
            guard let (a, b) = try pair(args) else { return .null }
            return .real(VectorMath.dot(a, b))
        }
        try pure(db, "vec_norm", 1) { args throws(SQLFunctionError) in
            guard let v = try args.vector(0) else { return .null }
            return .real(VectorMath.norm(v))
        }
        try pure(db, "vec_cosine", 2) { args throws(SQLFunctionError) in
            guard let (a, b) = try pair(args) else { return .null }
            return .real(VectorMath.cosine(a, b))
        }
        try pure(db, "vec_l2", 2) { args throws(SQLFunctionError) in
            guard let (a, b) = try pair(args) else { return .null }
            return .real(VectorMath.l2(a, b))
        }
        try pure(db, "vec_json", 1) { args throws(SQLFunctionError) in
            guard let v = try args.vector(0) else { return .null }
            do { return .text(try JSON.array(v.array)) } catch { throw SQLFunctionError("\(error)") }
        }
        try pure(db, "vec_from_json", 1) { args throws(SQLFunctionError) in
            guard let text = try args.text(0, what: "JSON array") else { return .null }
            do { return .vector(try JSON.floats(text)) } catch {
                throw SQLFunctionError("not a JSON array of numbers: \(error)")
            }
        }
    }

    static func registerHeadFunctions(_ db: OpaquePointer) throws(SQLFunctionError) {
        // One cache per connection, shared by both functions; not DETERMINISTIC because the
        // result depends on the runs table, which can change between statements.
        let cache = HeadCache()
        try createScalar(db, "head_predict", arguments: 2, deterministic: false) {
            context, args throws(SQLFunctionError) in
            guard let run = try args.integer(0, what: "run id"),
                let input = try args.blob(1, expected: "a BLOB (vector or maps)")
            else { return .null }
            let model = try cache.model(run, context: context)
            let z = try logits(model, run: run, input: input)
            return .text(model.classes[argmax(z[...])])
        }
        try createScalar(db, "head_proba", arguments: 3, deterministic: false) {
            context, args throws(SQLFunctionError) in
            guard let run = try args.integer(0, what: "run id"),
                let input = try args.blob(1, expected: "a BLOB (vector or maps)"),
                let name = try args.text(2, what: "class name")
            else { return .null }
            let model = try cache.model(run, context: context)
            guard let j = model.classes.firstIndex(of: name) else {
                throw SQLFunctionError(
                    "class '\(name)' is not in run \(run) (classes: \(model.classes.joined(separator: ", ")))")
            }
            var z = try logits(model, run: run, input: input)
            z.withUnsafeMutableBufferPointer { softmax($0.baseAddress!, count: $0.count) }
            return .real(z[j])
        }
    }

    /// `model`'s logits for one BLOB: a float32 vector for a vector model, a float16 map for a model
    /// that reads maps; the same `StoredModel.logits` `tlearn predict` calls.
    private static func logits(_ model: StoredModel, run: Int64, input: UnsafeRawBufferPointer) throws(SQLFunctionError)
        -> [Double]
    {
        var x: [Float]
        if let map = model.map {
            guard input.count == MapBlob.byteCount(map) else {
                let vectorHint =
                    input.count == VectorBlob.stride * model.dim
                    ? " (a \(model.dim)-float vector: a finetune run needs the image's maps)" : ""
                throw SQLFunctionError(
                    "run \(run) is a \(model.kind.rawValue) model: it reads block_16 maps of \(map) float16 values "
                        + "(\(MapBlob.byteCount(map)) bytes, maps.map), not a BLOB of \(input.count) bytes\(vectorHint)"
                )
            }
            x = MapBlob.floats(input)
        } else {
            guard VectorBlob.isWhole(byteCount: input.count) else {
                throw SQLFunctionError(
                    "argument 2 is a BLOB of \(input.count) bytes, not a whole number of float32 values (4 bytes each)")
            }
            guard input.count == VectorBlob.stride * model.dim else {
                throw SQLFunctionError(
                    "vector has \(input.count / VectorBlob.stride) floats but run \(run) was trained on \(model.dim)")
            }
            x = VectorBlob.floats(input)
        }
        var z = [Double](repeating: 0, count: model.classCount)
        var scratch = [Float](repeating: 0, count: max(model.scratchCount, 1))
        x.withUnsafeMutableBufferPointer { x in
            z.withUnsafeMutableBufferPointer { z in
                scratch.withUnsafeMutableBufferPointer {
                    model.logits(x.baseAddress!, into: z.baseAddress!, scratch: $0.baseAddress!)
                }
            }
        }
        return z
    }

    /// Both vector arguments, or nil if either is NULL; different sizes throw.
    private static func pair(_ args: SQLArguments) throws(SQLFunctionError) -> (Vector, Vector)? {
        let a = try args.vector(0)
        let b = try args.vector(1)
        guard let a, let b else { return nil }
        guard a.count == b.count else {
            throw SQLFunctionError("vectors have different sizes: \(a.count) and \(b.count) floats")
        }
        return (a, b)
    }

    /// A deterministic function of its arguments alone.
    private static func pure(
        _ db: OpaquePointer, _ name: String, _ arguments: Int32,
        _ body: @escaping (SQLArguments) throws(SQLFunctionError) -> SQLFunctionResult
    ) throws(SQLFunctionError) {
        try createScalar(db, name, arguments: arguments, deterministic: true) { _, args throws(SQLFunctionError) in
            try body(args)
        }
    }
}
