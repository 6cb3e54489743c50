import CSQLite3
#if canImport(Glibc)
import Glibc  // exp; not Foundation, which a C host process would have to load
#endif

/// A trained softmax head as stored in `runs`: logits = x W + b, W (dim x classes) row-major.
public struct StoredHead: Sendable {
    public let runID: Int64
    public let classes: [String]
    public let dim: Int
    /// W, dim x classes.count, row-major.
    public let weights: [Float]
    /// b, classes.count.
    public let bias: [Float]

    /// Checks the shapes; `headBlob` is W then b as little-endian float32.
    public init(runID: Int64, classesJSON: String, dim: Int64, headBlob: UnsafeRawBufferPointer) throws(JSONError) {
        let classes: [String]
        do { classes = try JSON.strings(classesJSON) } catch { throw JSONError("run \(runID): classes is not a JSON array of names: \(error)") }
        guard !classes.isEmpty else { throw JSONError("run \(runID): classes is an empty array") }
        guard dim > 0 && dim < 1 << 24 else { throw JSONError("run \(runID): dim is \(dim)") }
        let d = Int(dim), n = classes.count
        let expected = 4 * (d * n + n)
        // Baselines without weights (k-NN) are stored with an empty head.
        guard headBlob.count > 0 else { throw JSONError("run \(runID) stores no head weights (a baseline such as k-NN): it cannot predict from a vector") }
        guard headBlob.count == expected else {
            throw JSONError("run \(runID): head is \(headBlob.count) bytes; expected 4 * (\(d) * \(n) + \(n)) = \(expected) for dim \(d) and \(n) classes")
        }
        let all = Vector(headBlob).array
        self.runID = runID
        self.classes = classes
        self.dim = d
        weights = Array(all[0..<d * n])
        bias = Array(all[(d * n)...])
    }

    /// x W + b in Double.
    public func logits(_ x: Vector) -> [Double] {
        precondition(x.count == dim, "StoredHead.logits: vector of \(x.count), head of \(dim)")
        let n = classes.count
        var out = bias.map(Double.init)
        weights.withUnsafeBufferPointer { w in
            for i in 0..<dim {
                let xi = Double(x[i])
                if xi == 0 { continue }  // ReLU6 embeddings are mostly zeros
                let row = i * n
                for j in 0..<n { out[j] += xi * Double(w[row + j]) }
            }
        }
        return out
    }

    /// Softmax of the logits, max-subtracted so large logits do not overflow.
    public func probabilities(_ x: Vector) -> [Double] {
        let z = logits(x)
        let m = z.max() ?? 0
        let e = z.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// The index of the largest logit; the first one on ties (numpy.argmax).
    public func predict(_ x: Vector) -> Int {
        let z = logits(x)
        var best = 0
        for j in 1..<z.count where z[j] > z[best] { best = j }
        return best
    }
}

/// Holds a head as SQLite auxiliary data on a constant run-id argument.
final class HeadBox {
    let head: StoredHead
    init(_ head: StoredHead) { self.head = head }
}

/// Loads heads from the connection's `runs` table and caches them so a query over many rows
/// reads each head once, without ever serving a head older than the statement's snapshot.
final class HeadCache {
    private var heads: [Int64: StoredHead] = [:]
    private var version: UInt32?

    /// The head of `runID` for a call of the function running in `context`.
    func head(_ runID: Int64, context: OpaquePointer) throws(SQLFunctionError) -> StoredHead {
        // 1. Within one execution of a statement with a constant run id, SQLite keeps it for us.
        if let p = sqlite3_get_auxdata(context, 0) {
            let head = Unmanaged<HeadBox>.fromOpaque(p).takeUnretainedValue().head
            if head.runID == runID { return head }
        }
        let db = sqlite3_context_db_handle(context)!
        let head = try cached(runID, db: db)
        sqlite3_set_auxdata(context, 0, Unmanaged.passRetained(HeadBox(head)).toOpaque(), releaseBox)
        return head
    }

    /// 2. Across statements: the pager's data version changes on every commit to main, by this
    /// or another connection, but it is only refreshed when a read transaction starts. So the
    /// cache is trusted only inside one; otherwise the head is read again (which starts one).
    private func cached(_ runID: Int64, db: OpaquePointer) throws(SQLFunctionError) -> StoredHead {
        let inTransaction = sqlite3_txn_state(db, "main") != SQLITE_TXN_NONE
        if inTransaction, let v = dataVersion(db), v == version, let h = heads[runID] { return h }
        let h = try load(runID, db: db)
        let now = dataVersion(db)
        if now != version { heads.removeAll() }
        version = now
        if now != nil { heads[runID] = h }
        return h
    }

    private func dataVersion(_ db: OpaquePointer) -> UInt32? {
        var v: UInt32 = 0
        return sqlite3_file_control(db, "main", SQLITE_FCNTL_DATA_VERSION, &v) == SQLITE_OK ? v : nil
    }

    private func load(_ runID: Int64, db: OpaquePointer) throws(SQLFunctionError) -> StoredHead {
        let sql = "SELECT classes, dim, head FROM runs WHERE id = ?1"
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else {
            let message = String(cString: sqlite3_errmsg(db))
            sqlite3_finalize(stmt)
            throw SQLFunctionError("cannot read run \(runID): \(message)")
        }
        defer { sqlite3_finalize(stmt) }
        sqlite3_bind_int64(stmt, 1, runID)
        switch sqlite3_step(stmt) {
        case SQLITE_ROW: break
        case SQLITE_DONE: throw SQLFunctionError("no run with id \(runID) in table runs")
        default: throw SQLFunctionError("cannot read run \(runID): \(String(cString: sqlite3_errmsg(db)))")
        }
        guard sqlite3_column_type(stmt, 0) == SQLITE_TEXT, sqlite3_column_type(stmt, 2) == SQLITE_BLOB else {
            throw SQLFunctionError("run \(runID): classes must be TEXT and head a BLOB")
        }
        let classes = String(cString: sqlite3_column_text(stmt, 0))
        let n = Int(sqlite3_column_bytes(stmt, 2))
        let blob = UnsafeRawBufferPointer(start: sqlite3_column_blob(stmt, 2), count: n)
        do {
            return try StoredHead(runID: runID, classesJSON: classes, dim: sqlite3_column_int64(stmt, 1), headBlob: blob)
        } catch {
            throw SQLFunctionError("\(error)")
        }
    }
}
