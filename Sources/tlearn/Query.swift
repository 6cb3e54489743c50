import ArgumentParser
import Foundation
import Store
import VectorSQL

/// `tlearn query`: SQL over the database, with the vec_* and head_* functions.
struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Run SQL on a tlearn database, with vector functions.",
        discussion: """
            Functions (vectors are BLOBs of little-endian float32; NULL in gives NULL out):
              vec_dim(v)  vec_at(v, i) (0-based)  vec_dot(a, b)  vec_norm(v)
              vec_cosine(a, b) (0 if either is all zeros)  vec_l2(a, b)
              vec_json(v)  vec_from_json(text)  vec_mean(v) (aggregate)
              head_predict(run_id, v)  head_proba(run_id, v, class)
            The database is opened read-only unless --write is given. Several statements
            separated by ';' run in order; with --csv or --json only one may return rows.
            Output: --json writes BLOBs of 4n bytes as arrays of float32, others as base64;
            --csv writes them the same way; the table shows <blob N B>.
            """)

    @OptionGroup var store: DatabaseOptions
    @Flag(help: "Write CSV (RFC 4180) instead of a table.") var csv = false
    @Flag(help: "Write a JSON array of objects instead of a table.") var json = false
    // .unconditional: the value after --param is taken as it is, so --param -1 binds -1.
    @Option(
        name: .customLong("param"), parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "A value for ?1, ?2, ... in order, or :name=VALUE for :name. Repeatable. 42 binds as INTEGER, 0.5 or 1e-3 as REAL, NULL as NULL, anything else (also 007) as TEXT.",
            valueName: "value"))
    var params: [String] = []
    @Flag(help: "Open the database read-write so statements may change it.") var write = false
    @Argument(help: "The SQL to run.") var sql: String

    func validate() throws {
        if csv && json { throw ValidationError("--csv and --json cannot be used together") }
        do { _ = try QueryParameters.parse(params) } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        let connection = try store.open(readOnly: !write)
        let format: QueryFormat = csv ? .csv : json ? .json : .table
        let out = BufferedOutput()
        let writer = QueryWriter(format: format) { out.write($0) }
        var printed = 0
        do {
            let unused = try SQLScript.run(sql, on: connection, parameters: QueryParameters.parse(params)) { step in
                if step.returnsRows {
                    if format != .table && printed > 0 {
                        throw StoreError.invalid(
                            "--\(format.rawValue) prints one result set, but statement \(step.index) also returns rows: `\(step.sql)`"
                        )
                    }
                    if printed > 0 { out.write("\n") }
                    try writer.write(step.statement)
                    printed += 1
                } else {
                    while try step.statement.step() {}
                }
            }
            for p in unused { warn("--param for \(p) is not used by any statement") }
        } catch let StoreError.sqlite(code, message, sql) where code & 0xFF == 8 && !write {
            throw StoreError.invalid(
                "\(message) - while executing `\(sql ?? "")`: the database is opened read-only; pass --write to allow changes"
            )
        }
        out.flush()
    }
}
