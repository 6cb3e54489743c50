import Foundation
import XCTest
@testable import Imaging

/// FNV-1a 64, the hash fixtures/check_resize_vs_pillow.py stores for Pillow's output.
func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return h
}

final class DevPhotoTests: XCTestCase {
    /// Every 18th dev photo (103 of 1837), decoded full size and resized to 224x224, must hash the
    /// same as Pillow's `convert("RGB").resize((224, 224), BILINEAR)`.
    func testSampleOfDevPhotosMatchesPillowBitForBit() throws {
        let dir = try Fixtures.devPhotos()
        struct Sample: Decodable { let hashes: [String: String] }
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("fixtures/dev_pillow_224_fnv.json"))
        let sample = try JSONDecoder().decode(Sample.self, from: data)
        XCTAssertGreaterThan(sample.hashes.count, 100)
        let decoder = ImageDecoder()
        var mismatched: [String] = []
        for (path, expected) in sample.hashes.sorted(by: { $0.key < $1.key }) {
            let decoded = try decoder.decodeFile(at: dir.appendingPathComponent(path).path)
            let out = resizeBilinear(decoded.image, width: 224, height: 224)
            if String(fnv1a64(out.pixels), radix: 16).leftPadded(to: 16) != expected { mismatched.append(path) }
        }
        XCTAssertEqual(mismatched, [], "\(mismatched.count) of \(sample.hashes.count) dev photos differ from Pillow")
    }

    /// Opt-in (run by fixtures/check_resize_vs_pillow.py): all dev photos against Pillow's pixels,
    /// full-size decoding and DCT-scaled decoding (minSide 224); prints the numbers.
    func testAllDevPhotosAgainstPillowReference() throws {
        guard let ref = ProcessInfo.processInfo.environment["TLEARN_PILLOW_REFERENCE"] else {
            throw XCTSkip("TLEARN_PILLOW_REFERENCE not set: run fixtures/check_resize_vs_pillow.py")
        }
        let dir = try ProcessInfo.processInfo.environment["TLEARN_DEV_PHOTOS"].map { URL(fileURLWithPath: $0) } ?? Fixtures.devPhotos()
        let paths = try String(contentsOfFile: ref + "/paths.txt", encoding: .utf8).split(separator: "\n").map(String.init)
        let reference = try Data(contentsOf: URL(fileURLWithPath: ref + "/pillow_224.u8"), options: .alwaysMapped)
        let n = 224 * 224 * 3
        XCTAssertEqual(reference.count, paths.count * n)
        let decoder = ImageDecoder()
        var identical = 0, maxDiff = 0
        var scaled = 0, scaledIdentical = 0, scaledMax = 0, scaledDiffSum = 0.0, scaledMeanMax = 0.0
        var fullSeconds = 0.0, scaledSeconds = 0.0
        for (i, path) in paths.enumerated() {
            let expected = [UInt8](reference[(i * n)..<((i + 1) * n)])
            let bytes = try readImageFile(at: dir.appendingPathComponent(path).path)
            var t = Date()
            let full = resizeBilinear(try decoder.decode(bytes, path: path).image, width: 224, height: 224)
            fullSeconds += Date().timeIntervalSince(t)
            let d = diffStats(full.pixels, expected)
            if d.max == 0 { identical += 1 }
            maxDiff = max(maxDiff, d.max)
            t = Date()
            let decoded = try decoder.decode(bytes, path: path, minSide: 224)
            let small = resizeBilinear(decoded.image, width: 224, height: 224)
            scaledSeconds += Date().timeIntervalSince(t)
            if decoded.image.width != decoded.originalWidth {
                scaled += 1
                let sd = diffStats(small.pixels, expected)
                if sd.max == 0 { scaledIdentical += 1 }
                scaledMax = max(scaledMax, sd.max)
                scaledDiffSum += sd.mean
                scaledMeanMax = max(scaledMeanMax, sd.mean)
            }
        }
        let count = paths.count
        print("""
            dev photos: \(count)
            full-size decode + resize 224: \(identical)/\(count) bit-identical to Pillow, max abs diff \(maxDiff), \
            \(String(format: "%.2f", fullSeconds * 1000 / Double(count))) ms/image
            DCT-scaled decode (minSide 224) + resize: \(scaled)/\(count) photos scaled; of those \(scaledIdentical) identical, \
            max abs diff \(scaledMax), mean abs diff \(String(format: "%.3f", scaledDiffSum / Double(max(scaled, 1)))) \
            (worst photo \(String(format: "%.3f", scaledMeanMax))), \(String(format: "%.2f", scaledSeconds * 1000 / Double(count))) ms/image
            """)
        XCTAssertEqual(identical, count, "full-size decode + resize must match Pillow on every photo")
    }
}

/// Max and mean absolute difference in one pass over raw pointers (tests build unoptimised).
func diffStats(_ a: [UInt8], _ b: [UInt8]) -> (max: Int, mean: Double) {
    precondition(a.count == b.count, "diffStats: \(a.count) vs \(b.count) bytes")
    var m = 0, sum = 0
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            for i in 0..<pa.count {
                let d = abs(Int(pa[i]) - Int(pb[i]))
                sum += d
                if d > m { m = d }
            }
        }
    }
    return (m, Double(sum) / Double(max(a.count, 1)))
}

extension String {
    func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}
