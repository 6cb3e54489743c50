import ArgumentParser
import Extraction
import Formats
import Foundation
import Kernels
import MobileNet
import Store
import VectorSQL

/// `tlearn embed`: embeddings of single images, computed exactly as `tlearn extract` stores them.
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print the embedding of each image (a summary, or every number with --json).",
        discussion: """
            The vectors are bit for bit those `tlearn extract` stores for the same file and weights. A file that \
            cannot be used gets a one-line error and the others are still printed; the exit status is then 3.
            With --json, each image is one line: {"path": ..., "view": ..., "width": ..., "height": ..., "embedding": [...]}.
            """)

    @Argument(help: "Image files (JPEG or PNG).") var images: [String]
    @Option(help: ArgumentHelp("Keras MobileNetV2 weights (.h5).", valueName: "file")) var weights: String
    @Option(help: ArgumentHelp("Network input side in pixels.", valueName: "n")) var inputSize = 224
    @Flag(help: "Print every number, one JSON object per line.") var json = false
    @Flag(help: "Embed the mirror image (the hflip view) instead.") var hflip = false
    @Flag(help: "Decode JPEGs at full size, as `tlearn extract --exact-decode` does.") var exactDecode = false
    @Option(
        help: ArgumentHelp(
            "Also write the network input of each image printed to FILE: float32 little-endian, "
                + "n x size x size x 3 (NHWC, RGB, scaled by x / 127.5 - 1), in output order.", valueName: "file"))
    var inputs: String?

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image file") }
        guard (32...MobileNetV2.maxInputSize).contains(inputSize) else {
            throw ValidationError("--input-size must be between 32 and \(MobileNetV2.maxInputSize), got \(inputSize)")
        }
        if !pathExists(weights) { throw ValidationError("no weights file at \(weights)") }
    }

    func run() throws {
        let embedder = ImageEmbedder(
            net: try Backbone.load(weights: weights, inputSize: inputSize).1, minSide: exactDecode ? nil : inputSize)
        let view: View = hflip ? .hflip : .orig
        var failed = 0
        var networkInputs = Data()
        var preparer: any ImagePreparer = ImagingPreparer(minSide: embedder.minSide)
        for (path, result) in zip(images, embedder.embed(images, views: [view], threads: AvailableCPUs.current.count)) {
            let prepared: ImageEmbedder.Embedded
            switch result {
            case .success(let e): prepared = e
            case .failure(let error):
                writeStandardError("error: \(error)\n")
                failed += 1
                continue
            }
            let output = prepared.vectors[0]
            if inputs != nil {
                // ImageEmbedder's own preparation (prepareFile), run again to keep the inputs.
                let again = try prepareFile(path, size: inputSize, views: [view], preparer: &preparer)
                again.inputs.withUnsafeBytes { networkInputs.append(contentsOf: $0) }
            }
            if json {
                let numbers = output.map { "\($0)" }.joined(separator: ",")
                print(
                    "{\"path\":\(JSON.string(path)),\"view\":\"\(view.rawValue)\",\"width\":\(prepared.width),\"height\":\(prepared.height),\"embedding\":[\(numbers)]}"
                )
            } else {
                let s = VectorStats(output)
                print(
                    "\(path)  \(prepared.width)x\(prepared.height)  dim \(output.count)  mean \(String(format: "%.4f", s.mean))  max \(String(format: "%.4f", s.max))  norm \(String(format: "%.3f", s.norm))  nonzero \(s.nonzero)"
                )
            }
        }
        if let inputs {
            do { try networkInputs.write(to: URL(fileURLWithPath: inputs), options: .atomic) } catch {
                throw StoreError.invalid("cannot write \(inputs): \(posixMessage(error))")
            }
        }
        if failed > 0 { throw ExitCode(ExitStatus.someFailed) }
    }
}
