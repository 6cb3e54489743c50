import Foundation
import XCTest

@testable import Store

/// Output of one run of the built `tlearn` (head command tests).
struct HeadToolResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs the built `tlearn` with `arguments` (next to the test bundle, else .build/debug).
func runHeadTool(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> HeadToolResult {
    let bundle = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? Bundle.main.bundlePath)
    var tool = bundle.deletingLastPathComponent().appendingPathComponent("tlearn").path
    if !FileManager.default.isExecutableFile(atPath: tool) {
        tool =
            URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/tlearn").path
    }
    guard FileManager.default.isExecutableFile(atPath: tool) else {
        XCTFail("no tlearn binary at \(tool): run `swift build` first", file: file, line: line)
        throw CocoaError(.fileNoSuchFile)
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("headtool-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("out")
    let errURL = dir.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return HeadToolResult(
        status: process.terminationStatus,
        stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// The one JSON object a `--json` command printed.
func headJSONObject(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(text.utf8))
    return try XCTUnwrap(value as? [String: Any], "not a JSON object: \(text.prefix(200))", file: file, line: line)
}

/// A temporary tlearn database of synthetic, well separated vectors: `perClass` images per class
/// (every 10th in val, the next in test), dim `dim`, backbone 1.
extension XCTestCase {
    /// A fresh temporary directory, removed when the test ends.
    func headTemporaryDirectory(_ prefix: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func makeHeadDatabase(
        dim: Int = 16, perClass: [Int] = [40, 30, 35], classNames: [String]? = nil, spread: Float = 0.8,
        weightsSHA256: String = "abc", inputSize: Int = 224, preprocessing: String = "test",
        split: ((Int, Int) -> String)? = nil, hflip: Bool = false
    ) throws -> String {
        let path = try headTemporaryDirectory("tlearn-headcli").appendingPathComponent("db.sqlite").path
        let db = try Database.open(path)
        var state: UInt64 = 12345
        func uniform() -> Float {  // SplitMix64 step, 24 bits
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Float((z ^ (z >> 31)) >> 40) * 0x1p-24
        }
        let names = classNames ?? perClass.indices.map { "class\($0)" }
        try db.transaction {
            try db.run(
                "INSERT INTO backbones (id, weights_sha256, alpha, input_size, preprocessing, dim, weights_name) VALUES (1, ?2, 1.0, ?3, ?4, ?1, 'synthetic.h5')",
                [.integer(Int64(dim)), .text(weightsSHA256), .integer(Int64(inputSize)), .text(preprocessing)])
            var id: Int64 = 0
            for (k, n) in perClass.enumerated() {
                try db.run("INSERT INTO classes (id, name) VALUES (?1, ?2)", [.integer(Int64(k + 1)), .text(names[k])])
                let centre = (0..<dim).map { _ in 4 * uniform() - 2 }
                for i in 0..<n {
                    id += 1
                    let s = split?(k, i) ?? (i % 10 == 8 ? "val" : i % 10 == 9 ? "test" : "train")
                    try db.run(
                        "INSERT INTO images (id, path, class_id, sha256, bytes, split) VALUES (?1, ?2, ?3, 'x', 1, ?4)",
                        [.integer(id), .text("\(names[k])/img\(i).jpg"), .integer(Int64(k + 1)), .text(s)])
                    let v = centre.map { $0 + spread * (2 * uniform() - 1) }
                    try db.run(
                        "INSERT INTO embeddings (image_id, backbone_id, view, vector) VALUES (?1, 1, 'orig', ?2)",
                        [.integer(id), .blob(v.withUnsafeBytes { Array($0) })])
                    if hflip {
                        // The mirror image's vector: the same point, moved a little.
                        let f = v.map { $0 + spread * (uniform() - 0.5) }
                        try db.run(
                            "INSERT INTO embeddings (image_id, backbone_id, view, vector) VALUES (?1, 1, 'hflip', ?2)",
                            [.integer(id), .blob(f.withUnsafeBytes { Array($0) })])
                    }
                }
            }
        }
        return path
    }
}

/// Asserts a failed command printed exactly one line on stderr containing `message`
/// (ArgumentParser adds a usage hint after argument errors; those lines start with "Usage:"/"  See").
func assertOneLineError(
    _ r: HeadToolResult, contains message: String, file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertNotEqual(r.status, 0, "should fail: \(r.stdout)", file: file, line: line)
    let lines = r.stderr.split(separator: "\n").filter {
        !$0.hasPrefix("Usage:") && !$0.hasPrefix("  See ") && !$0.hasPrefix("Help:")
    }
    XCTAssertEqual(lines.count, 1, "one error line expected, got:\n\(r.stderr)", file: file, line: line)
    XCTAssertTrue(r.stderr.contains(message), "stderr lacks '\(message)':\n\(r.stderr)", file: file, line: line)
}
