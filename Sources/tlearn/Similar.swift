import ArgumentParser
import Foundation
import Extraction
import Imaging
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

    @Option(help: "The tlearn database.") var db: String
    @Argument(help: "An image file to embed and search for.") var image: String?
    @Option(help: "Use the stored vector of this image id (images.id) as the query.") var id: Int64?
    @Option(name: .short, help: "How many neighbours to list.") var k = 10
    @Option(help: "The backbone whose vectors to search (backbones.id); needed when the database has several.") var backbone: Int64?
    @Option(help: "Which stored view to search: orig or hflip.") var view = "orig"
    @Option(help: "The backbone's weights file (.h5), to embed IMAGE.") var weights: String?
    @Flag(help: "Write CSV instead of a table.") var csv = false
    @Flag(help: "Write JSON instead of a table.") var json = false

    func validate() throws {
        if (image == nil) == (id == nil) { throw ValidationError("give either an IMAGE or --id N") }
        if k < 1 { throw ValidationError("-k must be at least 1, not \(k)") }
        if !["orig", "hflip"].contains(view) { throw ValidationError("--view must be orig or hflip, not \(view)") }
        if csv && json { throw ValidationError("--csv and --json cannot be used together") }
        if !FileManager.default.fileExists(atPath: db) { throw ValidationError("no database at \(db)") }
        if let image {
            if !FileManager.default.fileExists(atPath: image) { throw ValidationError("no image at \(image)") }
            guard weights != nil else { throw ValidationError("IMAGE needs --weights FILE (the weights the database's vectors came from)") }
        }
    }

    func run() throws {
        let connection = try VectorSQL.open(db, readOnly: true)
        let chosen = try BackboneInfo.choose(connection, requested: backbone)
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
            query = try embedImage(image!, weights: weights!, backbone: chosen, view: view)
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

/// The embedding of the image at `path` under `backbone`, computed with the weights at `weights`
/// exactly as `tlearn extract` computes it (same preparer, same network), so an image that is in
/// the database finds itself at cosine 1. The vector is only comparable with the stored ones when
/// the weights file (by SHA-256), input size and preprocessing are those of `backbone`.
func embedImage(_ path: String, weights: String, backbone: BackboneInfo, view: String) throws -> [Float] {
    guard let imaging = ImagingPreparer(identifier: backbone.preprocessing, inputSize: backbone.inputSize) else {
        throw StoreError.invalid("backbone \(backbone.id) was made with preprocessing '\(backbone.preprocessing)', which this tlearn does not produce: use --id N")
    }
    let (key, net) = try Backbone.load(weights: weights, inputSize: backbone.inputSize)
    guard key.weightsSHA256 == backbone.weightsSHA256 else {
        throw StoreError.invalid("\(weights) (SHA-256 \(key.weightsSHA256.prefix(12))…) is not the weights file backbone \(backbone.id) was made with (\(backbone.weightsName ?? "?"), SHA-256 \(backbone.weightsSHA256.prefix(12))…): its vectors would not be comparable")
    }
    guard key.dim == backbone.dim else {
        throw StoreError.invalid("\(weights) gives \(key.dim)-float embeddings; backbone \(backbone.id) has \(backbone.dim)")
    }
    var preparer: any ImagePreparer = imaging
    let prepared = try prepareFile(path, size: backbone.inputSize, views: [view == "hflip" ? .hflip : .orig], preparer: &preparer)
    var output = [Float](repeating: 0, count: net.dim)
    prepared.inputs.withUnsafeBufferPointer { x in
        output.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: 1, into: $0.baseAddress!) }
    }
    return output
}
