import ArgumentParser
import Foundation
import Extraction
import Store
import VectorSQL

/// `tlearn similar`: nearest neighbours of an image by cosine similarity of embeddings.
struct Similar: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the images whose embeddings are most similar (cosine) to one image.",
        discussion: """
            With --id N the stored vector of image N is the query, and image N itself is left out. With IMAGE the file is embedded first, as `tlearn extract` does, with --weights: the weights file the database's vectors came from (checked by SHA-256).

            Cosines are exact (Double) and equal to vec_cosine in `tlearn query`; ties go to the lower image id.
            """)

    @OptionGroup var store: DatabaseOptions
    @Argument(help: "An image file to embed and search for.") var image: String?
    @Option(help: "Use the stored vector of this image id (images.id) as the query.") var id: Int64?
    @Option(name: .short, help: "How many neighbours to list.") var k = 10
    @OptionGroup var selection: BackboneOption
    @Option(help: "Which stored view to search: orig or hflip.") var view = "orig"
    @Option(help: "The backbone's weights file (.h5), to embed IMAGE.") var weights: String?
    @Flag(help: "Write CSV instead of a table.") var csv = false
    @Flag(help: "Write JSON instead of a table.") var json = false

    func validate() throws {
        if (image == nil) == (id == nil) { throw ValidationError("give either an IMAGE or --id N") }
        if k < 1 { throw ValidationError("-k must be at least 1, not \(k)") }
        if !["orig", "hflip"].contains(view) { throw ValidationError("--view must be orig or hflip, not \(view)") }
        if csv && json { throw ValidationError("--csv and --json cannot be used together") }
        if let image {
            if !FileManager.default.fileExists(atPath: image) { throw ValidationError("no image at \(image)") }
            guard weights != nil else { throw ValidationError("IMAGE needs --weights FILE (the weights the database's vectors came from)") }
        }
    }

    func run() throws {
        let db = store.db
        let connection = try store.open(readOnly: true)
        let chosen = try BackboneInfo.choose(connection, requested: selection.backbone)
        let matrix = try VectorMatrix.load(connection, backbone: chosen.id, view: view)
        if matrix.count == 0 { throw StoreError.invalid("\(db) has no \(view) vectors for backbone \(chosen.summary)") }
        let search = CosineSearch(matrix)
        let query: [Float]
        var excluded: Int?
        if let id {
            guard let row = matrix.row(ofImage: id) else {
                let exists = try connection.scalar("SELECT count(*) FROM images WHERE id = ?1", [.integer(id)])?.int ?? 0
                throw StoreError.invalid(exists == 0 ? "\(db) has no image with id \(id)" : "image \(id) has no \(view) vector for backbone \(chosen.id)")
            }
            query = matrix.vector(row)
            excluded = row
        } else {
            let embedder = try Backbone.embedder(for: chosen, weights: weights!)
            query = try embedder.embed([image!], views: [view == "hflip" ? .hflip : .orig], threads: 1)[0].get().vectors[0]
        }
        let found = search.nearest(to: query, k: k, excluding: excluded)
        let rows: [[SQLValue]] = found.enumerated().map { rank, n in
            [.integer(Int64(rank + 1)), .real(n.cosine), .integer(matrix.imageIDs[n.row]),
             .text(matrix.paths[n.row]), .text(matrix.labels[n.row]), .text(matrix.splits[n.row])]
        }
        let out = BufferedOutput()
        QueryWriter(format: csv ? .csv : json ? .json : .table) { out.write($0) }
            .write(columns: ["rank", "cosine", "id", "path", "label", "split"], rows: rows)
        out.flush()
    }
}
