import Foundation
import XCTest

/// The output of a finished subprocess.
struct ToolResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// The directory holding the built products (`tlearn`, `libtlearn_sqlite.so`): the one the
/// test bundle runs from, so `swift test -c release` and custom build paths work too.
func productsDirectory(file: StaticString = #filePath) -> URL {
    let bundle = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? Bundle.main.bundlePath)
    let dir = bundle.deletingLastPathComponent()
    if FileManager.default.fileExists(atPath: dir.appendingPathComponent("tlearn").path) { return dir }
    return repositoryRoot(file: file).appendingPathComponent(".build/debug")
}

/// The top-level checkout directory, found from this file's path.
func repositoryRoot(file: StaticString = #filePath) -> URL {
    URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// Runs `executable` with `arguments` and returns its status and output; output goes through
/// temporary files so a large stdout cannot deadlock a pipe.
func runProcess(
    _ executable: String, _ arguments: [String], stdin: String? = nil, cwd: URL? = nil,
    environment: [String: String] = [:]
) throws -> ToolResult {
    let tmp = FileManager.default.temporaryDirectory
    let outURL = tmp.appendingPathComponent("runtool-\(UUID().uuidString).out")
    let errURL = tmp.appendingPathComponent("runtool-\(UUID().uuidString).err")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    defer {
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let cwd { process.currentDirectoryURL = cwd }
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return ToolResult(
        status: process.terminationStatus,
        stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Runs the built `tlearn` with `arguments`.
func runTool(
    _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:], file: StaticString = #filePath,
    line: UInt = #line
) throws -> ToolResult {
    let tool = productsDirectory().appendingPathComponent("tlearn").path
    guard FileManager.default.isExecutableFile(atPath: tool) else {
        XCTFail("no tlearn binary at \(tool): run `swift build` first", file: file, line: line)
        throw CocoaError(.fileNoSuchFile)
    }
    return try runProcess(tool, arguments, stdin: stdin, environment: environment)
}
