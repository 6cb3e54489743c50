import Foundation
import XCTest

@testable import Store

/// The repository root, from this file's path (tests must not depend on the working directory).
let extractRepoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// What a run of the built `tlearn` binary did.
struct ToolRun {
    var status: Int32
    var stdout: String
    var stderr: String
    /// True when it died of a signal (the status is then the signal number).
    var signaled = false
}

/// The built `tlearn` executable next to the test bundle.
func tlearnBinary() throws -> String {
    let candidates = [
        Bundle.main.bundleURL.appendingPathComponent("tlearn").path,
        Bundle(for: ExtractBinaryLocator.self).bundleURL.deletingLastPathComponent().appendingPathComponent("tlearn")
            .path,
        extractRepoRoot + "/.build/debug/tlearn",
    ]
    for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
    throw XCTSkip("tlearn binary not built (looked in \(candidates)); run `swift build` first")
}

final class ExtractBinaryLocator {}

/// Starts `tlearn arguments...`; the caller waits or kills.
func startTlearn(_ arguments: [String]) throws -> (Process, Pipe, Pipe) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try tlearnBinary())
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    return (process, out, err)
}

/// Runs `tlearn arguments...` to completion and captures its output.
func runTlearn(_ arguments: [String]) throws -> ToolRun {
    let (process, out, err) = try startTlearn(arguments)
    // Read before waiting, so a full pipe cannot block the child.
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    let stderrData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolRun(
        status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
        stderr: String(decoding: stderrData, as: UTF8.self), signaled: process.terminationReason == .uncaughtSignal)
}

/// A scratch folder removed at the end of the test.
func scratchFolder(_ test: XCTestCase) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("tlearn-cli-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Copies `fixtures/images/<name>` to `folder/<relative>`.
func copyFixture(_ name: String, to folder: String, as relative: String) throws {
    let target = URL(fileURLWithPath: folder + "/" + relative)
    try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: extractRepoRoot + "/fixtures/images/" + name, toPath: target.path)
}

/// The tiny seeded weights made by fixtures/make_fixtures.py.
let tinyWeights = extractRepoRoot + "/fixtures/weights/tiny_a035_keras3.h5"

/// Fixture images that decode.
let goodFixtures = [
    "rgb_64x48.jpg", "rgb_37x23.jpg", "rgb_192x128.jpg", "progressive_96x72.jpg", "gray_50x30.jpg",
    "cmyk_44x28.jpg", "exif6_40x24.jpg", "rgb_33x21.png", "rgba_30x20.png", "palette_26x18.png", "png_named.jpg",
]

/// A dataset of three classes (cats, dogs, owls) made of the 11 good fixtures.
func goodFixtureTree(_ test: XCTestCase) throws -> String {
    let root = try scratchFolder(test) + "/images"
    for (i, name) in goodFixtures.enumerated() {
        try copyFixture(name, to: root, as: "\(["cats", "dogs", "owls"][i % 3])/\(name)")
    }
    return root
}

/// `tlearn extract` with the tiny weights at input size 96, quiet.
func extractTool(_ root: String, _ db: String, _ extra: [String] = []) throws -> ToolRun {
    try runTlearn(
        ["extract", "--images", root, "--db", db, "--weights", tinyWeights, "--input-size", "96", "--quiet"] + extra)
}

/// Rows that must be equal between two databases holding the same extraction (no ids, no times).
func extractRows(_ db: String) throws -> [String] {
    let c = try Database.open(db, readOnly: true)
    return try c.rows(
        """
        SELECT i.path || ' ' || c.name || ' ' || i.sha256 || ' ' || i.split || ' ' || coalesce(e.view, '-') || ' ' || coalesce(hex(e.vector), '-')
        FROM images i JOIN classes c ON c.id = i.class_id LEFT JOIN embeddings e ON e.image_id = i.id ORDER BY i.path, e.view
        """
    ).compactMap { $0[0].string }
        + c.rows("SELECT path || ' ' || reason FROM failures ORDER BY path").compactMap { $0[0].string }
}
