import ArgumentParser
import Extraction
import Formats
import Foundation
import Imaging
import Kernels
import Store
import VectorSQL

/// `tlearn similar`: nearest neighbours of an image by cosine similarity of embeddings.
struct Similar: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar",
        abstract: "List the images whose embeddings are most similar (cosine) to one image.",
        discussion: """
            With --id N the stored vector of image N is the query, and image N itself is left out. With IMAGE the file is embedded first, as `tlearn extract` does, with --weights: the weights file the database's vectors came from (checked by SHA-256).

            Many queries in one call (the vectors are read once): --ids 1,2,3, or --query-file FILE with one query per line, either an image id or a vector as a JSON array of dim numbers (blank lines and lines starting with # are skipped). The output then starts with the columns query (1-based position in the list) and query_id (the image id, empty for a vector).

            Cosines are exact (Double) and equal to vec_cosine in `tlearn query`; ties go to the lower image id. Large databases are searched through a memory-mapped matrix file beside the database (DB.matrix-<backbone>-<view>), built on first use and rebuilt whenever the vectors change; TLEARN_MATRIX_FILE=never turns it off.
            """)

    @OptionGroup var store: DatabaseOptions
    @Argument(help: "An image file to embed and search for.") var image: String?
    @Option(help: "Use the stored vector of this image id (images.id) as the query.") var id: Int64?
    @Option(help: ArgumentHelp("Several image ids, comma-separated: one list of neighbours each.", valueName: "ids"))
    var ids: String?
    @Option(
        help: ArgumentHelp("A file of queries, one a line: an image id or a JSON array of floats.", valueName: "file"))
    var queryFile: String?
    @Option(name: .short, help: "How many neighbours to list.") var k = 10
    @OptionGroup var selection: BackboneOption
    @Option(help: "Which stored view to search: orig or hflip.") var view = "orig"
    @Option(help: "The backbone's weights file (.h5), to embed IMAGE.") var weights: String?
    @Option(
        help: ArgumentHelp("BLAS threads for the scoring (default: the CPUs this process may use).", valueName: "n"))
    var threads: Int?
    @Flag(help: "Write CSV instead of a table.") var csv = false
    @Flag(help: "Write JSON instead of a table.") var json = false

    func validate() throws {
        let given = [image != nil, id != nil, ids != nil, queryFile != nil].filter { $0 }.count
        if given != 1 { throw ValidationError("give either an IMAGE or --id N (or --ids LIST, --query-file FILE)") }
        if k < 1 { throw ValidationError("-k must be at least 1, not \(k)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if !["orig", "hflip"].contains(view) { throw ValidationError("--view must be orig or hflip, not \(view)") }
        if csv && json { throw ValidationError("--csv and --json cannot be used together") }
        if let ids { _ = try parsedIDs(ids) }
        if let queryFile, !FileManager.default.fileExists(atPath: queryFile) {
            throw ValidationError("no query file at \(queryFile)")
        }
        if let image {
            if !FileManager.default.fileExists(atPath: image) { throw ValidationError("no image at \(image)") }
            guard weights != nil else {
                throw ValidationError("IMAGE needs --weights FILE (the weights the database's vectors came from)")
            }
        }
    }

    func parsedIDs(_ text: String) throws -> [Int64] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        let values = parts.map { Int64($0) }
        guard !parts.isEmpty, values.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--ids must be image ids separated by commas, like 1,2,3; got '\(text)'")
        }
        return values.map { $0! }
    }

    /// One query: the stored vector of an image, or a vector given as such.
    enum Query {
        case image(Int64)
        case vector([Float], line: Int)
    }

    /// The queries of --query-file: an integer line is an image id, a `[` line a JSON vector.
    func readQueryFile(_ path: String, dim: Int) throws -> [Query] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw StoreError.invalid("cannot read \(path): \(posixMessage(error))")
        }
        var out: [Query] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let id = Int64(line) {
                out.append(.image(id))
            } else if line.hasPrefix("[") {
                let v: [Float]
                do { v = try JSON.floats(line) } catch {
                    throw StoreError.invalid("\(path):\(n + 1): not a JSON array of numbers: \(error)")
                }
                guard v.count == dim else {
                    throw StoreError.invalid(
                        "\(path):\(n + 1): a vector of \(v.count) numbers; the backbone's vectors have \(dim)")
                }
                guard v.allSatisfy(\.isFinite) else {
                    throw StoreError.invalid("\(path):\(n + 1): the vector holds a number too large for float32")
                }
                out.append(.vector(v, line: n + 1))
            } else {
                throw StoreError.invalid(
                    "\(path):\(n + 1): expected an image id or a JSON array of \(dim) numbers, got '\(line.prefix(40))'"
                )
            }
        }
        if out.isEmpty { throw StoreError.invalid("\(path) holds no queries") }
        return out
    }

    func run() throws {
        BLASThreads.set(threads ?? AvailableCPUs.current.count)
        let db = store.db
        let connection = try store.open(readOnly: true)
        try readTransaction(connection) {
            let chosen = try BackboneInfo.choose(connection, requested: selection.backbone)
            let vectors = try SearchVectors.open(connection, database: db, backbone: chosen.id, view: view)
            if vectors.count == 0 {
                throw StoreError.invalid("\(db) has no \(view) vectors for backbone \(chosen.summary)")
            }
            func rowOf(_ id: Int64) throws -> Int {
                guard let row = vectors.row(ofImage: id) else {
                    let exists =
                        try connection.scalar("SELECT count(*) FROM images WHERE id = ?1", [.integer(id)])?.int ?? 0
                    throw StoreError.invalid(
                        exists == 0
                            ? "\(db) has no image with id \(id)"
                            : "image \(id) has no \(view) vector for backbone \(chosen.id)")
                }
                return row
            }
            let queries: [Query]
            if let id {
                queries = [.image(id)]
            } else if let ids {
                queries = try parsedIDs(ids).map { .image($0) }
            } else if let queryFile {
                queries = try readQueryFile(queryFile, dim: vectors.dim)
            } else {
                let embedder = try Backbone.embedder(for: chosen, weights: weights!)
                let vector = try embedder.embed([image!], views: [view == "hflip" ? .hflip : .orig], threads: 1)[0]
                    .get().vectors[0]
                queries = [.vector(vector, line: 0)]
            }
            var vectorsOfQueries: [[Float]] = []
            var excluded: [Int?] = []
            for q in queries {
                switch q {
                case .image(let id):
                    let row = try rowOf(id)
                    vectorsOfQueries.append(vectors.vector(row))
                    excluded.append(row)
                case .vector(let v, _):
                    vectorsOfQueries.append(v)
                    excluded.append(nil)
                }
            }
            let found = vectors.search.nearest(toEach: vectorsOfQueries, k: k, excluding: excluded)
            let described = try vectors.describe(found.flatMap { $0.map(\.row) }, connection)
            let many = ids != nil || queryFile != nil
            var rows: [[SQLValue]] = []
            for (qi, list) in found.enumerated() {
                var prefix: [SQLValue] = []
                if many {
                    let queryID: SQLValue = if case .image(let id) = queries[qi] { .integer(id) } else { .null }
                    prefix = [.integer(Int64(qi + 1)), queryID]
                }
                for (rank, n) in list.enumerated() {
                    let d = described[n.row]!
                    rows.append(
                        prefix + [
                            .integer(Int64(rank + 1)), .real(n.cosine), .integer(vectors.imageID(n.row)),
                            .text(d.path), .text(d.label), .text(d.split),
                        ])
                }
            }
            let out = BufferedOutput()
            QueryWriter(format: csv ? .csv : json ? .json : .table) { out.write($0) }
                .write(
                    columns: (many ? ["query", "query_id"] : []) + ["rank", "cosine", "id", "path", "label", "split"],
                    rows: rows)
            out.flush()
        }
    }
}
