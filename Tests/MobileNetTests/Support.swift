import Foundation
import XCTest

/// The repository root, found from this file's path so tests do not depend on the working directory.
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let fixtures = repoRoot.appendingPathComponent("fixtures")
let shared = repoRoot.deletingLastPathComponent().appendingPathComponent("shared")

/// Little-endian float32s, no header.
func readF32(_ url: URL) throws -> [Float] {
    let data = try Data(contentsOf: url)
    precondition(data.count % 4 == 0, "\(url.path): \(data.count) bytes is not a whole number of float32s")
    return data.withUnsafeBytes { raw in
        (0..<(data.count / 4)).map {
            Float(bitPattern: UInt32(littleEndian: raw.load(fromByteOffset: $0 * 4, as: UInt32.self)))
        }
    }
}

/// Elementwise |a - e| <= atol + rtol * |e| (mlx-swift Tests/MLXTests/Utils.swift); reports the worst element.
func assertClose(
    _ actual: [Float], _ expected: [Float], rtol: Float = 1e-4, atol: Float = 1e-5, _ context: String,
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        return XCTFail("\(context): \(actual.count) values, expected \(expected.count)", file: file, line: line)
    }
    var worst = -1
    var worstExcess: Float = 0
    var maxAbs: Float = 0
    for i in actual.indices {
        let d = abs(actual[i] - expected[i])
        maxAbs = max(maxAbs, d.isNaN ? .infinity : d)
        let excess = d - (atol + rtol * abs(expected[i]))
        if !(excess <= 0) && (worst < 0 || !(excess <= worstExcess)) {
            worst = i
            worstExcess = excess
        }
    }
    if worst >= 0 {
        XCTFail(
            "\(context): element \(worst) is \(actual[worst]), expected \(expected[worst]) (rtol \(rtol), atol \(atol)); max abs diff \(maxAbs)",
            file: file, line: line)
    }
}

func maxAbsDiff(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
    zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

func cosine(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
    var dot = 0.0
    var na = 0.0
    var nb = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        na += Double(x) * Double(x)
        nb += Double(y) * Double(y)
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}
