import ArgumentParser
import Foundation
import Store
import VectorSQL

/// `tlearn duplicates`: near-identical images by embedding, and the ones that leak across splits.
struct Duplicates: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List pairs of images whose embeddings are nearly identical (cosine >= threshold).",
        discussion: """
            A pair whose two images are in different splits (train/val/test) is a leak: the model is evaluated on an image it has as good as seen. Such pairs have leak = 1, and a summary goes to stderr.

            The default 0.98 finds copies and re-encodings; with MobileNetV2 embeddings, crops and re-colourings of one photo score about 0.87-0.96, so use --threshold 0.9 (or 0.85 to review more candidates by eye).

            Cosines are exact (Double), equal to vec_cosine in `tlearn query`.
            """)

    @OptionGroup var store: DatabaseOptions
    // Measured on the 1837 tf_flowers dev photos with the real weights: crops and re-colourings of
    // one photo score 0.87-0.96, distinct photos of a class rarely above 0.88; 0.98 found nothing.
    @Option(parsing: .unconditional, help: "The smallest cosine similarity that counts as a duplicate (-1 to 1).") var threshold = 0.98
    @OptionGroup var selection: BackboneOption
    @Option(help: "Which stored view to compare: orig or hflip.") var view = "orig"
    @Flag(help: "Only list pairs that straddle two splits.") var leaksOnly = false
    @Flag(help: "Write CSV instead of a table.") var csv = false
    @Flag(help: "Write JSON instead of a table.") var json = false

    func validate() throws {
        if !(threshold > -1 && threshold <= 1) { throw ValidationError("--threshold must be in (-1, 1], not \(threshold)") }
        if !["orig", "hflip"].contains(view) { throw ValidationError("--view must be orig or hflip, not \(view)") }
        if csv && json { throw ValidationError("--csv and --json cannot be used together") }
    }

    func run() throws {
        let connection = try store.open(readOnly: true)
        let chosen = try BackboneInfo.choose(connection, requested: selection.backbone)
        let matrix = try VectorMatrix.load(connection, backbone: chosen.id, view: view)
        let pairs = try CosineSearch(matrix).pairs(atLeast: threshold)
        var rows: [[SQLValue]] = []
        var leaks = 0
        for (i, j, cosine) in pairs {
            let leak = matrix.splits[i] != matrix.splits[j]
            if leak { leaks += 1 }
            if leaksOnly && !leak { continue }
            rows.append([
                .real(cosine), .integer(leak ? 1 : 0),
                .integer(matrix.imageIDs[i]), .text(matrix.paths[i]), .text(matrix.labels[i]), .text(matrix.splits[i]),
                .integer(matrix.imageIDs[j]), .text(matrix.paths[j]), .text(matrix.labels[j]), .text(matrix.splits[j]),
            ])
        }
        let out = BufferedOutput()
        QueryWriter(format: csv ? .csv : json ? .json : .table) { out.write($0) }.write(
            columns: ["cosine", "leak", "id_a", "path_a", "label_a", "split_a", "id_b", "path_b", "label_b", "split_b"], rows: rows)
        out.flush()
        let labelMismatch = pairs.filter { matrix.labels[$0.0] != matrix.labels[$0.1] }.count
        FileHandle.standardError.write(Data("""
            \(pairs.count) pair\(pairs.count == 1 ? "" : "s") with cosine >= \(threshold) among \(matrix.count) images; \
            \(leaks) straddle splits (leaks); \(labelMismatch) have different labels\n
            """.utf8))
    }
}
