import ArgumentParser
import Formats
import Foundation
import Head
import Store
import VectorSQL

/// `tlearn export`: vectors for numpy/pandas, or a trained head as JSON.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export embeddings (npy or csv), the head of a training run (JSON) or its whole model (ONNX, Keras).",
        discussion: """
            Vectors: tlearn export --db FILE --format npy|csv --out DIR
              DIR/vectors.npy  float32, shape (n, dim), C order
              DIR/vectors.csv  instead, with --format csv (header x0,x1,...)
              DIR/meta.csv     image_id,path,label,split: row i of the vectors
            Head:    tlearn export RUN --db FILE --out head.json
              classes, dim, W (dim rows of len(classes)), b, backbone
              (weights_sha256, alpha, input_size, preprocessing, dim), config,
              metrics: logits = x @ W + b for an embedding x of that backbone.
            Model:   tlearn export RUN --db FILE --weights FILE --out FILE
                       --format onnx|keras [--input float32|uint8]
              the backbone and the head in one file: onnx (input `image` float32
              [N, S, S, 3] scaled by x / 127.5 - 1, or with --input uint8 RGB bytes;
              outputs `probabilities`, `embedding`) or keras (a Keras 3 .keras archive).
              Exit status 1 when it fails, with no file left at --out.
            See README.md for every key and docs/deploy.md for the models.
            """)

    @Argument(
        help: ArgumentHelp(
            "A run id (see `tlearn runs`), latest or best: export its head (JSON) or model (onnx, keras) instead of vectors.",
            valueName: "run")) var selector: String?
    @OptionGroup var store: DatabaseOptions
    @Option(help: "npy or csv (vectors), or onnx or keras (a run's whole model).") var format: String?
    @Option(help: "Output directory (vectors) or file (head, model).") var out: String
    @OptionGroup var selection: BackboneOption
    @Option(help: "Which stored view: orig or hflip.") var view = "orig"
    @OptionGroup var model: ModelExportOptions

    func validate() throws {
        try model.validate(format: format, run: selector)
        if let format, ModelFormat(rawValue: format) != nil {
            if selection.backbone != nil {
                throw ValidationError("--backbone is for vectors; a run names its own backbone")
            }
            return  // the rest (run, weights, --out) is checked when exporting, with exit status 1
        }
        if selector != nil {
            if format != nil {
                throw ValidationError(
                    "--format is for vectors; a run's head is always JSON (its whole model: --format onnx or keras)")
            }
            var outIsDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: out, isDirectory: &outIsDirectory), outIsDirectory.boolValue {
                throw ValidationError(
                    "--out \(out) is a directory; a run's head goes to a JSON file, like \(out)/head.json")
            }
            if selection.backbone != nil {
                throw ValidationError("--backbone is for vectors; a run names its own backbone")
            }
            let parent = URL(fileURLWithPath: out).deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) || !isDirectory.boolValue {
                throw ValidationError("cannot write \(out): no directory \(parent)")
            }
        } else {
            guard let format else {
                throw ValidationError("give --format npy|csv to export vectors, or a RUN id to export a head")
            }
            if !["npy", "csv"].contains(format) {
                throw ValidationError(
                    "--format must be npy or csv, not \(format) (onnx and keras export a RUN's model)")
            }
            if !["orig", "hflip"].contains(view) { throw ValidationError("--view must be orig or hflip, not \(view)") }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw ValidationError(
                    "--out \(out) is a file; vectors go to a directory (vectors.npy or vectors.csv, meta.csv)")
            }
        }
    }

    func run() throws {
        let connection = try store.open(readOnly: true)
        let run = try selector.map { try RunStore.resolve($0, in: connection) }
        if let run, let format, let kind = ModelFormat(rawValue: format) {
            return try model.export(run: run, db: store.db, format: kind, out: out)
        }
        if let run {
            let document = try HeadJSON.document(connection, run: run)
            do { try Data(document.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
                throw StoreError.invalid("cannot write \(out): \(posixMessage(error))")
            }
            FileHandle.standardError.write(Data("wrote the head of run \(run) to \(out)\n".utf8))
            return
        }
        try readTransaction(connection) { try exportVectors(connection) }
    }

    /// Vectors and meta.csv, streamed: from the memory-mapped matrix file when it can be used (the
    /// vectors go from that file to vectors.npy in chunks, never all in memory), else from one
    /// plain load written straight from its buffer.
    private func exportVectors(_ connection: Connection) throws {
        let chosen = try BackboneInfo.choose(connection, requested: selection.backbone)
        let mapped = try MatrixFile.open(
            connection, database: store.db, backbone: chosen.id, view: view, rowInverseNorm: CosineSearch.inverseNorm)
        let loaded = mapped == nil ? try VectorMatrix.load(connection, backbone: chosen.id, view: view) : nil
        let count = mapped?.count ?? loaded!.count
        let dim = mapped?.dim ?? loaded!.dim
        // As similar does: an empty vectors.npy would only fail later, in the user's numpy code.
        if count == 0 { throw StoreError.invalid("\(store.db) has no \(view) vectors for backbone \(chosen.summary)") }
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let vectorsFile = dir.appendingPathComponent(format == "npy" ? "vectors.npy" : "vectors.csv")
        /// Calls `body` with consecutive pieces of the row-major float32 matrix.
        func forEachPiece(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
            if let mapped {
                try copyRange(of: mapped.path, mapped.vectorBytes, body)
            } else {
                try loaded!.values.withUnsafeBytes { all in
                    for s in stride(from: 0, to: all.count, by: 1 << 24) {
                        try body(UnsafeRawBufferPointer(rebasing: all[s..<min(all.count, s + (1 << 24))]))
                    }
                }
            }
        }
        if format == "npy" {
            try writeFile(vectorsFile) { file in
                file.write(Data(Npy.float32Header(shape: [count, dim])))
                // Little-endian float32 on every platform Swift runs Linux on (x86-64, arm64).
                try forEachPiece { piece in
                    try file.write(
                        contentsOf: Data(
                            bytesNoCopy: UnsafeMutableRawPointer(mutating: piece.baseAddress!), count: piece.count,
                            deallocator: .none))
                }
            }
        } else {
            try writeFile(vectorsFile) { file in
                file.write(Data(((0..<dim).map { "x\($0)" }.joined(separator: ",") + "\r\n").utf8))
                var chunk = ""
                var row: [String] = []
                row.reserveCapacity(dim)
                try forEachPiece { piece in
                    for f in piece.bindMemory(to: Float.self) {
                        row.append(JSON.number(f))
                        if row.count == dim {
                            chunk += row.joined(separator: ",") + "\r\n"
                            row.removeAll(keepingCapacity: true)
                            if chunk.utf8.count > 1 << 20 {
                                file.write(Data(chunk.utf8))
                                chunk = ""
                            }
                        }
                    }
                }
                file.write(Data(chunk.utf8))
            }
        }
        let columns = ["image_id", "path", "label", "split"]
        let header = QueryWriterText.csv(columns: columns, rows: [])
        try writeFile(dir.appendingPathComponent("meta.csv")) { file in
            file.write(Data(header.utf8))
            var rows: [[SQLValue]] = []
            func flush() {
                file.write(Data(QueryWriterText.csv(columns: columns, rows: rows).dropFirst(header.count).utf8))
                rows.removeAll(keepingCapacity: true)
            }
            let vectors = SearchVectorsRows(loaded: loaded, mapped: mapped)
            try vectors.forEachRow(connection) { id, path, label, split in
                rows.append([.integer(id), .text(path), .text(label), .text(split)])
                if rows.count == 10_000 { flush() }
            }
            flush()
        }
        FileHandle.standardError.write(
            Data(
                "wrote \(count) vectors of dim \(dim) (backbone \(chosen.id), \(view)) to \(vectorsFile.path) and meta.csv\n"
                    .utf8))
    }

    /// Reads `range` of the file at `path` in 16 MB pieces (pread: no mapping, so the pieces do not
    /// stay in this process's memory).
    private func copyRange(of path: String, _ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void) throws
    {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.invalid("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 24, alignment: 64)
        defer { buffer.deallocate() }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let want = min(buffer.count, range.upperBound - offset)
            let n = pread(fd, buffer.baseAddress, want, off_t(offset))
            guard n > 0 else {
                throw StoreError.invalid(
                    "cannot read \(path): \(n == 0 ? "it is shorter than its header says" : String(cString: strerror(errno)))"
                )
            }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            offset += n
        }
    }

    /// Writes through a temporary file renamed into place, so a failed export leaves no half file.
    private func writeFile(_ url: URL, _ body: (FileHandle) throws -> Void) throws {
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        guard FileManager.default.createFile(atPath: tmp.path, contents: nil) else {
            throw StoreError.invalid("cannot write \(tmp.path)")
        }
        let file = try FileHandle(forWritingTo: tmp)
        do {
            try body(file)
            try file.close()
            _ = try? FileManager.default.removeItem(at: url)
            try FileManager.default.moveItem(at: tmp, to: url)
        } catch {
            try? file.close()
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
    }
}

/// The plain reason of a Foundation file error ("Permission denied"), not its NSError dump.
func posixMessage(_ error: Error) -> String {
    let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
    if let e = underlying, e.domain == NSPOSIXErrorDomain, let text = strerror(Int32(e.code)) {
        return String(cString: text)
    }
    return (error as NSError).localizedDescription
}

/// CSV text of in-memory rows, in the same format as `tlearn query --csv`.
enum QueryWriterText {
    static func csv(columns: [String], rows: [[SQLValue]]) -> String {
        var text = ""
        QueryWriter(format: .csv) { text += $0 }.write(columns: columns, rows: rows)
        return text
    }
}
