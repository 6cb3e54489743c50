import ArgumentParser
import Foundation
import Report

/// `tlearn report`: one self-contained HTML page with the dataset, a run and its mistakes.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract:
            "Write one self-contained HTML page: dataset, training curves, sweep, confusion, mistakes, embedding map.",
        discussion: """
            The page opens offline in any browser: styles, charts (SVG) and thumbnails are inside it, and its \
            Content-Security-Policy forbids every network load. Default run: the chosen run of the newest sweep, \
            else the newest trained head. Thumbnails are read from the folder the database was extracted from \
            (or --images); a missing file gets a placeholder. Numbers equal `tlearn evaluate RUN --json` and \
            `tlearn runs --json`, which the page also embeds as JSON (script elements of type application/json).
            """)

    @Option(help: "The tlearn database.") var db: String
    @Argument(
        help: ArgumentHelp(
            "A run id, latest or best (default: the newest sweep's chosen run, else the newest trained head).",
            valueName: "run"))
    var selector: String?
    @Option(help: ArgumentHelp("Report on this sweep's chosen run.", valueName: "id")) var sweep: Int64?
    @Option(help: ArgumentHelp("The HTML file to write.", valueName: "file")) var out = "report.html"
    @Option(
        help: ArgumentHelp(
            "The image folder, when the photos are no longer where they were extracted from.", valueName: "dir"))
    var images: String?

    func validate() throws {
        if !pathExists(db) { throw ValidationError("no database at \(db)") }
        if selector != nil && sweep != nil { throw ValidationError("give a run or --sweep, not both") }
        if let images {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: images, isDirectory: &isDirectory) || !isDirectory.boolValue {
                throw ValidationError("--images: no directory at \(images)")
            }
        }
        if out.isEmpty || out.hasSuffix("/") { throw ValidationError("--out must name a file, not '\(out)'") }
    }

    func run() throws {
        do { try execute() } catch { throw exitError(error) }
    }

    func execute() throws {
        let subject: ReportSubject = sweep.map { .sweep($0) } ?? selector.map { .run($0) } ?? .automatic
        var gatherer = try ReportGatherer(databasePath: db, images: images)
        let page = renderReport(try gatherer.gather(subject))
        try writeAtomically(Data(page.utf8), to: out)
        print(out)
    }
}

/// Writes `data` to a temporary file beside `path`, then renames it over `path`, so a reader never
/// sees half a page and a failed run leaves no file.
func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    do {
        try data.write(to: temporary)
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: reason])
        }
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw ReportWriteError(path: path, reason: (error as NSError).localizedDescription)
    }
}

/// The page could not be written.
struct ReportWriteError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "cannot write \(path): \(reason)" }
}
