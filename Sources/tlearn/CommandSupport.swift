import ArgumentParser
import Extraction
import Foundation
import Store
import VectorSQL

/// Exit statuses beyond 0, 1 and 64 (README "Exit status"): 3 the command completed but some
/// files failed; 75 another tlearn process is writing the database.
enum ExitStatus {
    static let someFailed: Int32 = 3
    static let locked: Int32 = 75
}

/// `--db FILE` of every command that reads an existing database.
struct DatabaseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The tlearn database (SQLite file).", valueName: "file"))
    var db: String

    func validate() throws {
        // Checked here, so a missing file fails before any weights load, with the command's usage line.
        if !pathExists(db) {
            throw ValidationError(
                "no database at \(db): create one with `tlearn extract --images DIR --weights FILE --db \(db)`")
        }
    }

    /// The database with the vec_* and head_* functions registered; read-write unless `readOnly`.
    func open(readOnly: Bool = false) throws -> Connection { try VectorSQL.open(db, readOnly: readOnly) }
}

/// `--backbone ID`: which vectors, when a database holds several backbones'.
struct BackboneOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Use the vectors of this backbone (backbones.id; needed when the database holds several).", valueName: "id")
    )
    var backbone: Int64?
}

/// Parses a comma list of views (`orig,hflip`) given to `flag`; repeats are dropped, order kept.
func parseViews(_ text: String, flag: String) throws -> [View] {
    var out: [View] = []
    for name in text.split(separator: ",", omittingEmptySubsequences: false).map({
        $0.trimmingCharacters(in: .whitespaces)
    }) {
        guard let v = View(rawValue: name) else {
            throw ValidationError("\(flag): unknown view '\(name)' (use orig, hflip)")
        }
        if !out.contains(v) { out.append(v) }
    }
    if out.isEmpty { throw ValidationError("\(flag) is empty: use orig or orig,hflip") }
    return out
}

/// Prints `warning: message` on stderr.
func warn(_ message: String) {
    writeStandardError("warning: \(message)\n")
}

/// Prints a progress or status line on stderr (results go to stdout).
func note(_ message: String) {
    writeStandardError("\(message)\n")
}

/// True when something exists at `path` (file, folder or dangling link aside).
func pathExists(_ path: String) -> Bool {
    var s = stat()
    return stat(path, &s) == 0
}

/// The exit status and the one line to print for an error a command threw: ArgumentParser's own
/// errors (usage: 64, --help: 0) as it formats them; a lock conflict 75; any other error 1.
func exitStatus(for error: Error) -> (status: Int32, message: String) {
    if let code = error as? ExitCode { return (code.rawValue, "") }
    let parserCode = TLearn.exitCode(for: error)
    if parserCode != .failure {
        let message = TLearn.fullMessage(for: error)
        return (
            parserCode.rawValue, message.hasPrefix("Error: ") ? "error: " + message.dropFirst("Error: ".count) : message
        )
    }
    if case StoreError.locked = error { return (ExitStatus.locked, "error: \(error)") }
    return (ExitCode.failure.rawValue, "error: \(error)")
}
