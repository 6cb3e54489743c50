import Foundation
import XCTest

/// Paths and the golden index written by fixtures/make_images.py.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let images = root.appendingPathComponent("fixtures/images")
    static let shared = root.deletingLastPathComponent().appendingPathComponent("shared")

    static func path(_ name: String) -> String { images.appendingPathComponent(name).path }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: images.appendingPathComponent(name)))
    }

    struct DecodeCase: Decodable {
        let file: String, width: Int, height: Int
        let golden: String?, orientation: Int?, format: String?
        /// Allowed max abs difference from Pillow; absent means bit-exact.
        let tolerance: Int?
    }
    struct ErrorCase: Decodable { let file: String, code: String }
    struct ScaledCase: Decodable { let file: String, minSide: Int, width: Int, height: Int, golden: String }
    struct ResizeCase: Decodable { let width: Int, height: Int, golden: String }
    struct Source: Decodable { let file: String, width: Int, height: Int }
    struct Tiny: Decodable {
        let pixel: [UInt8]
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // The fixture's JSON keys.
        let to_3x2: [UInt8]
    }
    struct Index: Decodable {
        let decode: [DecodeCase], errors: [ErrorCase], resize: [ResizeCase], scaled: [ScaledCase]
        // swift-format-ignore: AlwaysUseLowerCamelCase
        // The fixture's JSON keys.
        let resize_source: Source, resize_tiny: Tiny
    }

    static let index: Index = {
        do {
            let data = try Data(contentsOf: images.appendingPathComponent("golden.json"))
            return try JSONDecoder().decode(Index.self, from: data)
        } catch {
            fatalError("fixtures/images/golden.json unreadable (run fixtures/make_images.py): \(error)")
        }
    }()

    /// Directory of the real dev photos, or a skip naming what is missing.
    static func devPhotos() throws -> URL {
        let dir = shared.appendingPathComponent("data/flower_photos_dev")
        guard FileManager.default.fileExists(atPath: dir.path) else {
            throw XCTSkip("../shared not found: \(dir.path) is missing")
        }
        return dir
    }
}

/// Largest absolute difference between two byte arrays of equal length.
func maxAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
    zip(a, b).reduce(0) { max($0, abs(Int($1.0) - Int($1.1))) }
}
