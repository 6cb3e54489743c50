import ArgumentParser
import Foundation
import Kernels
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

    @OptionGroup var store: DatabaseOptions
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
        // One BLAS thread: the page's two GEMMs and the eigensolver are small, OpenBLAS's spinning
        // threads cost more than they save on a busy machine, and the page comes out the same on
        // any number of cores.
        BLASThreads.set(1)
        let subject: ReportSubject = sweep.map { .sweep($0) } ?? selector.map { .run($0) } ?? .automatic
        var gatherer = try ReportGatherer(databasePath: store.db, images: images)
        let page = renderReport(try gatherer.gather(subject))
        try writeAtomically(page, to: out)
        print(out)
    }
}

/// Writes `text` to a temporary file beside `path`, then renames it over `path`, so a reader never
/// sees half a page and a failed run leaves no file.
func writeAtomically(_ text: String, to path: String) throws {
    let slash = path.lastIndex(of: "/")
    let directory = slash.map { String(path[...$0]) } ?? ""
    let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
    let temporary = "\(directory).\(name).\(getpid()).tmp"
    func failure() -> ReportWriteError { ReportWriteError(path: path, reason: String(cString: strerror(errno))) }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw failure() }
    var written = 0
    let ok = Array(text.utf8).withUnsafeBytes { bytes in
        while written < bytes.count {
            let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            written += n
        }
        return true
    }
    guard ok, close(fd) == 0 else {
        let error = failure()
        unlink(temporary)
        throw error
    }
    guard rename(temporary, path) == 0 else {
        let error = failure()
        unlink(temporary)
        throw error
    }
}

/// The page could not be written.
struct ReportWriteError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "cannot write \(path): \(reason)" }
}
