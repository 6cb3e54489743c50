import CSQLite3
import Formats
import Store

/// Holds a model as SQLite auxiliary data on a constant run-id argument.
final class ModelBox {
    let runID: Int64
    let model: StoredModel
    init(runID: Int64, model: StoredModel) {
        self.runID = runID
        self.model = model
    }
}

/// Loads models from the connection's `runs` table (through `StoredModel.load`, as `tlearn predict`
/// does) and caches them so a query over many rows reads each model once, without ever serving a
/// model older than the statement's snapshot.
final class HeadCache {
    private var models: [Int64: StoredModel] = [:]
    private var version: UInt32?

    /// The model of `runID` for a call of the function running in `context`.
    func model(_ runID: Int64, context: OpaquePointer) throws(SQLFunctionError) -> StoredModel {
        // 1. Within one execution of a statement with a constant run id, SQLite keeps it for us.
        if let p = sqlite3_get_auxdata(context, 0) {
            let box = Unmanaged<ModelBox>.fromOpaque(p).takeUnretainedValue()
            if box.runID == runID { return box.model }
        }
        let db = Connection(borrowing: sqlite3_context_db_handle(context)!)
        let model = try cached(runID, db: db)
        sqlite3_set_auxdata(
            context, 0, Unmanaged.passRetained(ModelBox(runID: runID, model: model)).toOpaque(), releaseBox)
        return model
    }

    /// 2. Across statements: the pager's data version changes on every commit to main, by this
    /// or another connection, but it is only refreshed when a read transaction starts. So the
    /// cache is trusted only inside one; otherwise the model is read again (which starts one).
    private func cached(_ runID: Int64, db: Connection) throws(SQLFunctionError) -> StoredModel {
        if db.inTransaction, let v = db.dataVersion, v == version, let m = models[runID] { return m }
        let m: StoredModel
        do { m = try StoredModel.load(run: runID, from: db) } catch { throw SQLFunctionError("\(error)") }
        let now = db.dataVersion
        if now != version { models.removeAll() }
        version = now
        if now != nil { models[runID] = m }
        return m
    }
}
