import Foundation
import XCTest

@testable import Imaging

final class DecodeTests: XCTestCase {
    /// Baseline, progressive, grayscale, CMYK, EXIF-rotated JPEGs and all PNG kinds against Pillow's
    /// `ImageOps.exif_transpose(Image.open(f)).convert("RGB")`: bit-exact (both use libjpeg-turbo's
    /// ISLOW IDCT with fancy upsampling; PNG samples are copied).
    func testEveryFixtureDecodesToPillowsPixels() throws {
        let decoder = ImageDecoder()
        XCTAssertGreaterThan(Fixtures.index.decode.count, 20)
        for c in Fixtures.index.decode {
            let decoded = try decoder.decodeFile(at: Fixtures.path(c.file))
            XCTAssertEqual(decoded.image.width, c.width, c.file)
            XCTAssertEqual(decoded.image.height, c.height, c.file)
            XCTAssertEqual(decoded.originalWidth, c.width, c.file)
            XCTAssertEqual(decoded.originalHeight, c.height, c.file)
            let expectedFormat: ImageFormat =
                c.format.flatMap(ImageFormat.init(rawValue:)) ?? (c.file.hasSuffix(".png") ? .png : .jpeg)
            XCTAssertEqual(decoded.format, expectedFormat, c.file)
            if let golden = c.golden {
                let expected = try Fixtures.bytes(golden)
                XCTAssertEqual(decoded.image.pixels.count, expected.count, c.file)
                let d = diffStats(decoded.image.pixels, expected)
                XCTAssertLessThanOrEqual(d.max, c.tolerance ?? 0, "\(c.file): max abs diff \(d.max) vs Pillow")
            }
        }
    }

    /// 16-bit RGBA: exact where opaque (columns 0-4), at most 1 off where partly transparent, and
    /// black where alpha is 0 (row 0), as documented on `PNG`.
    func testSixteenBitRGBAIsExactWhereOpaqueAndBlackWhereTransparent() throws {
        let decoded = try decodeImage(at: Fixtures.path("rgba16_16x10.png")).image
        let golden = try Fixtures.bytes("golden/rgba16_16x10_png.rgb")
        for y in 0..<10 {
            for x in 0..<16 {
                for c in 0..<3 {
                    let i = (y * 16 + x) * 3 + c
                    if y == 0 {
                        XCTAssertEqual(decoded.pixels[i], 0, "transparent (\(x), \(y))")
                    } else if x < 5 {
                        XCTAssertEqual(decoded.pixels[i], golden[i], "opaque (\(x), \(y)) channel \(c)")
                    } else {
                        XCTAssertLessThanOrEqual(
                            abs(Int(decoded.pixels[i]) - Int(golden[i])), 1, "partly transparent (\(x), \(y))")
                    }
                }
            }
        }
    }

    func testPNGNamedJPGIsDecodedAsPNG() throws {
        let decoded = try decodeImage(at: Fixtures.path("png_named.jpg"))
        XCTAssertEqual(decoded.format, .png)
    }

    func testDCTScalingPicksHalfScaleAndMatchesPillowDraft() throws {
        let decoder = ImageDecoder()
        for c in Fixtures.index.scaled {
            let decoded = try decoder.decodeFile(at: Fixtures.path(c.file), minSide: c.minSide)
            XCTAssertEqual([decoded.image.width, decoded.image.height], [c.width, c.height], c.file)
            XCTAssertEqual([decoded.originalWidth, decoded.originalHeight], [192, 128], c.file)
            let d = diffStats(decoded.image.pixels, try Fixtures.bytes(c.golden))
            XCTAssertEqual(d.max, 0, "\(c.file) at minSide \(c.minSide): max abs diff \(d.max) vs Pillow draft")
        }
    }

    func testDCTScalingNeverGoesBelowMinSide() throws {
        let decoder = ImageDecoder()
        let path = Fixtures.path("rgb_192x128.jpg")
        for (minSide, expected) in [
            (1, [24, 16]), (16, [24, 16]), (17, [48, 32]), (64, [96, 64]), (65, [192, 128]), (500, [192, 128]),
        ] {
            let d = try decoder.decodeFile(at: path, minSide: minSide)
            XCTAssertEqual([d.image.width, d.image.height], expected, "minSide \(minSide)")
        }
    }

    /// Orientation 6 stores the image lying on its side: 40x24 stored is 24x40 upright, and the
    /// scale is chosen so both sides stay >= minSide whichever way round.
    func testDCTScalingWithRotationSwapsOriginalAndScaledSizes() throws {
        let d = try decodeImage(at: Fixtures.path("exif6_40x24.jpg"), minSide: 12)
        XCTAssertEqual([d.image.width, d.image.height], [12, 20])
        XCTAssertEqual([d.originalWidth, d.originalHeight], [24, 40])
    }

    func testOnePixelImagesPreprocessToAConstantTensor() throws {
        for name in ["rgb_1x1.jpg", "rgb_1x40.jpg", "rgb_40x1.jpg"] {
            let d = try decodeImage(at: Fixtures.path(name), minSide: 224)
            var out = [Float](repeating: .nan, count: 8 * 8 * 3)
            out.withUnsafeMutableBufferPointer { preprocess(d.image, size: 8, into: $0.baseAddress!) }
            XCTAssertFalse(out.contains { !($0 >= -1 && $0 <= 1) }, name)
            if name == "rgb_1x1.jpg" {
                XCTAssertEqual(out[0], unitScale[Int(d.image.pixels[0])])
                XCTAssertEqual(out[out.count - 3], out[0])
            }
        }
    }

    /// Extraction decodes on several threads, one decoder each: results must not depend on it.
    func testDecodersOnSeveralThreadsGiveTheSamePixels() throws {
        let files = Fixtures.index.decode.map(\.file)
        let reference = try files.map { try ImageDecoder().decodeFile(at: Fixtures.path($0)).image }
        let results = ResultBox(count: 4)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            let decoder = ImageDecoder()
            var same = true
            for _ in 0..<5 {
                for (i, f) in files.enumerated() {
                    same = same && (try? decoder.decodeFile(at: Fixtures.path(f)).image) == reference[i]
                }
            }
            results.set(worker, same)
        }
        XCTAssertEqual(results.values, [true, true, true, true])
    }
}

/// Collects one Bool per worker of `concurrentPerform`.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Bool]
    init(count: Int) { storage = Array(repeating: false, count: count) }
    func set(_ i: Int, _ v: Bool) {
        lock.lock()
        storage[i] = v
        lock.unlock()
    }
    var values: [Bool] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
