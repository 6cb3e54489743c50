import ArgumentParser
import Foundation
import Imaging
import MobileNet
import Store
import VectorSQL

/// `tlearn similar`: nearest neighbours of an image by cosine similarity of embeddings.
struct Similar: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the images whose embeddings are most similar (cosine) to one image.",
        discussion: """
            With --id N the stored vector of image N is the query, and image N itself is left out. With IMAGE the file is embedded first, with --weights: the weights file the database's vectors came from.

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
            query = try embedImage(image!, weights: weights!, backbone: chosen)
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

/// The embedding of the image at `path` under `backbone`, computed with the weights at `weights`.
/// The vector is only comparable with the stored ones when the network, input size and
/// preprocessing are those that made them, so each is checked against the `backbones` row.
func embedImage(_ path: String, weights: String, backbone: BackboneInfo) throws -> [Float] {
    guard backbone.preprocessing == Preprocessing.identifier else {
        throw StoreError.invalid("backbone \(backbone.id) was made with preprocessing '\(backbone.preprocessing)'; this tlearn embeds with '\(Preprocessing.identifier)', so IMAGE cannot be compared: use --id N")
    }
    let net = try MobileNetV2(weightsAt: weights, inputSize: backbone.inputSize)
    guard net.dim == backbone.dim, abs(Double(net.alpha) - backbone.alpha) < 1e-6 else {
        throw StoreError.invalid("\(weights) is MobileNetV2 alpha \(net.alpha) with \(net.dim)-float embeddings; backbone \(backbone.id) is alpha \(backbone.alpha) with \(backbone.dim): not the weights its vectors came from")
    }
    // TODO(coordinator): once Store.SHA256 is merged (extract branch), refuse weights whose
    // SHA256.hexOfFile(weights) != backbone.weightsSHA256 instead of only warning.
    let name = URL(fileURLWithPath: weights).lastPathComponent
    if let stored = backbone.weightsName, stored != name {
        sqlWarning("\(name) is not \(stored), the weights file backbone \(backbone.id) was made with; the cosines are only meaningful for the same weights")
    }
    let image = try decodeImage(at: path).image
    var input = [Float](repeating: 0, count: backbone.inputSize * backbone.inputSize * 3)
    input.withUnsafeMutableBufferPointer { preprocess(image, size: backbone.inputSize, into: $0.baseAddress!) }
    return net.embedding(input)
}
