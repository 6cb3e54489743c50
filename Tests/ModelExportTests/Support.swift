import Foundation
import TestSupport
import XCTest

@testable import MobileNet
@testable import ModelExport

/// The repository root, found from this file's path so tests do not depend on the working directory.
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
/// The seeded alpha 0.35 MobileNetV2 of fixtures/weights (BatchNorm statistics randomised, so folding matters).
let tinyWeights = repoRoot.appendingPathComponent("fixtures/weights/tiny_a035_keras3.h5").path

/// A seeded head for `classes` classes on `dim`-float embeddings, and for `finetune` a tuned Conv_1 too.
func randomClassifier(network: FoldedNetwork, classes: Int = 4, finetune: Bool = false, seed: UInt64 = 7)
    -> ExportClassifier
{
    var r = SplitMix(seed: seed)
    let dim = network.dim
    let cin = network.architecture.blocks.last!.outChannels
    // Scaled so the logits spread over a few units: probabilities neither uniform nor one-hot.
    let conv1 =
        finetune
        ? ExportClassifier.TunedConv1(
            kernel: r.vector(cin * dim).map { $0 * 0.3 }, bias: r.vector(dim).map { $0 * 0.5 }) : nil
    return ExportClassifier(
        classes: (0..<classes).map { "class \($0)" }, denseWeights: r.vector(dim * classes).map { $0 * 0.2 },
        denseBias: r.vector(classes), conv1: conv1)
}

/// Seeded RGB bytes for `count` images of `size` x `size`.
func randomBytes(count: Int, size: Int, seed: UInt64 = 11) -> [UInt8] {
    var r = SplitMix(seed: seed)
    return (0..<(count * size * size * 3)).map { _ in UInt8(truncatingIfNeeded: r.next() >> 56) }
}

/// tlearn's preprocessing of bytes: float32(b) / 127.5 - 1.
func scaled(_ bytes: [UInt8]) -> [Float] { bytes.map { Float($0) / Float(127.5) - Float(1) } }

let testProvenance = ExportProvenance(
    runID: 3, splitFingerprint: "0123456789abcdef", weightsSHA256: String(repeating: "ab", count: 32),
    weightsName: "tiny_a035_keras3.h5", preprocessing: "pillow-bilinear;x/127.5-1")

/// Max |a - e| over all elements, failing when it exceeds atol + rtol * |e| anywhere.
func assertClose(
    _ actual: [Float], _ expected: [Float], atol: Float, rtol: Float = 0, _ context: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        return XCTFail("\(context): \(actual.count) values, expected \(expected.count)", file: file, line: line)
    }
    for i in actual.indices where !(abs(actual[i] - expected[i]) <= atol + rtol * abs(expected[i])) {
        return XCTFail(
            "\(context): element \(i) is \(actual[i]), expected \(expected[i]) (atol \(atol), rtol \(rtol))",
            file: file, line: line)
    }
}

/// A fresh temporary directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-export-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// Runs `python3 arguments...`; nil when python3 cannot import `modules` (the caller skips).
func python(_ arguments: [String], needs modules: String) throws -> (status: Int32, output: String)? {
    func run(_ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
    guard (try? run(["-c", "import \(modules)"]))?.0 == 0 else { return nil }
    return try run(arguments)
}

/// Little-endian float32s, no header.
func writeF32(_ values: [Float], to url: URL) throws {
    try values.withUnsafeBytes { Data($0) }.write(to: url)
}
