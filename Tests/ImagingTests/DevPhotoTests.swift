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
        let dir =
            try ProcessInfo.processInfo.environment["TLEARN_DEV_PHOTOS"].map { URL(fileURLWithPath: $0) }
            ?? Fixtures.devPhotos()
        let paths = try String(contentsOfFile: ref + "/paths.txt", encoding: .utf8).split(separator: "\n").map(
            String.init)
        let reference = try Data(contentsOf: URL(fileURLWithPath: ref + "/pillow_224.u8"), options: .alwaysMapped)
        let n = 224 * 224 * 3
        XCTAssertEqual(reference.count, paths.count * n)
        let decoder = ImageDecoder()
        let exhaustive = ImageDecoder()
        exhaustive.jpeg.shrinkFactors = JPEGDecoder.allShrinkFactors
        var identical = 0
        var maxDiff = 0
        struct Stats { var scaled = 0, identical = 0, max = 0, meanSum = 0.0, worstMean = 0.0 }
        var policy = [Stats(), Stats()]
        var half = Stats()  // minSide 112 against our own full-size decode, which matches Pillow
        for (i, path) in paths.enumerated() {
            var expected = [UInt8](repeating: 0, count: n)
            expected.withUnsafeMutableBytes { _ = reference.copyBytes(to: $0, from: (i * n)..<((i + 1) * n)) }
            let bytes = try readImageFile(at: dir.appendingPathComponent(path).path)
            let full = resizeBilinear(try decoder.decode(bytes, path: path).image, width: 224, height: 224)
            let d = diffStats(full.pixels, expected)
            if d.max == 0 { identical += 1 }
            maxDiff = max(maxDiff, d.max)
            let small = try decoder.decode(bytes, path: path, minSide: 112)
            if small.image.width != small.originalWidth {
                let fullDecoded = try decoder.decode(bytes, path: path).image
                let d = diffStats(
                    resizeBilinear(small.image, width: 112, height: 112).pixels,
                    resizeBilinear(fullDecoded, width: 112, height: 112).pixels)
                half.scaled += 1
                if d.max == 0 { half.identical += 1 }
                half.max = max(half.max, d.max)
                half.meanSum += d.mean
                half.worstMean = max(half.worstMean, d.mean)
            }
            for (k, dec) in [decoder, exhaustive].enumerated() {
                let decoded = try dec.decode(bytes, path: path, minSide: 224)
                guard decoded.image.width != decoded.originalWidth else { continue }
                let d = diffStats(resizeBilinear(decoded.image, width: 224, height: 224).pixels, expected)
                policy[k].scaled += 1
                if d.max == 0 { policy[k].identical += 1 }
                policy[k].max = max(policy[k].max, d.max)
                policy[k].meanSum += d.mean
                policy[k].worstMean = max(policy[k].worstMean, d.mean)
            }
        }
        let count = paths.count
        var report = """
            dev photos: \(count)
            full-size decode + resize 224: \(identical)/\(count) bit-identical to Pillow, max abs diff \(maxDiff)
            """
        for (name, p) in zip(
            [
                "DCT scales 1/2 1/4 1/8 (default) at minSide 224", "all DCT scales 1/8...7/8 at minSide 224",
                "DCT scales 1/2 1/4 1/8 at minSide 112 (vs full decode, resize 112)",
            ], policy + [half])
        {
            report += "\n\(name): \(p.scaled)/\(count) photos scaled"
            if p.scaled > 0 {
                report +=
                    "; of those \(p.identical) identical to Pillow, max abs diff \(p.max), mean abs diff "
                    + String(format: "%.3f (worst photo %.3f)", p.meanSum / Double(p.scaled), p.worstMean)
            }
        }
        print(report)
        XCTAssertEqual(identical, count, "full-size decode + resize must match Pillow on every photo")
    }
}

/// Max and mean absolute difference in one pass over raw pointers (tests build unoptimised).
func diffStats(_ a: [UInt8], _ b: [UInt8]) -> (max: Int, mean: Double) {
    precondition(a.count == b.count, "diffStats: \(a.count) vs \(b.count) bytes")
    var m = 0
    var sum = 0
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
