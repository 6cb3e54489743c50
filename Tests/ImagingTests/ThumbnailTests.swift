import XCTest

@testable import Imaging

/// The TurboJPEG encoder and thumbnails made from the fixture images.
final class ThumbnailTests: XCTestCase {
    func testEncodedJPEGDecodesToTheSameSizeAndNearlyTheSamePixels() throws {
        for (w, h) in [(1, 1), (17, 9), (64, 48), (128, 85)] {
            // A smooth gradient: JPEG keeps it within a few levels at quality 90.
            var pixels = [UInt8](repeating: 0, count: w * h * 3)
            for y in 0..<h {
                for x in 0..<w {
                    pixels[(y * w + x) * 3] = UInt8(255 * x / max(w - 1, 1))
                    pixels[(y * w + x) * 3 + 1] = UInt8(255 * y / max(h - 1, 1))
                    pixels[(y * w + x) * 3 + 2] = 128
                }
            }
            let image = RGBImage(width: w, height: h, pixels: pixels)
            let jpeg = try JPEGEncoder().encode(image, quality: 90)
            XCTAssertEqual(Array(jpeg.prefix(3)), [0xFF, 0xD8, 0xFF], "\(w)x\(h): not a JPEG")
            let back = try ImageDecoder().decode(jpeg, path: "encoded.jpg")
            XCTAssertEqual(back.image.width, w)
            XCTAssertEqual(back.image.height, h)
            let meanError = zip(back.image.pixels, pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) } / pixels.count
            XCTAssertLessThanOrEqual(meanError, 6, "\(w)x\(h): mean abs error \(meanError)")
        }
    }

    func testThumbnailSizeKeepsAspectAndNeverEnlarges() {
        let maker = ThumbnailMaker(maxSide: 128)
        XCTAssertTrue(maker.size(width: 4000, height: 3000) == (128, 96))
        XCTAssertTrue(maker.size(width: 3000, height: 4000) == (96, 128))
        XCTAssertTrue(maker.size(width: 192, height: 128) == (128, 85))
        XCTAssertTrue(maker.size(width: 100, height: 50) == (100, 50))
        XCTAssertTrue(maker.size(width: 1000, height: 1) == (128, 1))
    }

    func testThumbnailsOfFixturesAreUprightAndSized() throws {
        let maker = ThumbnailMaker(maxSide: 128)
        for (name, w, h) in [
            ("rgb_192x128.jpg", 128, 85), ("exif6_40x24.jpg", 24, 40), ("rgb_33x21.png", 33, 21),
            ("cmyk_44x28.jpg", 44, 28), ("png_named.jpg", 0, 0),
        ] {
            let t = try maker.make(fromFileAt: Fixtures.path(name))
            let decoded = try ImageDecoder().decode(t.jpeg, path: name)
            XCTAssertEqual(decoded.image.width, t.width, name)
            XCTAssertEqual(decoded.image.height, t.height, name)
            if w > 0 {
                XCTAssertTrue((t.width, t.height) == (w, h), "\(name): \(t.width)x\(t.height), expected \(w)x\(h)")
            }
        }
    }

    func testLargeJPEGIsDecodedAtAReducedScaleAndStillSharpEnough() throws {
        // 1024x768 of 8x8 blocks: DCT scaling to 1/4 (256x192) keeps both sides >= 128.
        let w = 1024
        let h = 768
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                for c in 0..<3 { pixels[(y * w + x) * 3 + c] = UInt8((x / 64 + y / 64 + c) % 2 * 200 + 20) }
            }
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("thumb-\(UUID().uuidString).jpg")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(try JPEGEncoder().encode(RGBImage(width: w, height: h, pixels: pixels), quality: 95)).write(to: file)
        let t = try ThumbnailMaker(maxSide: 128).make(fromFileAt: file.path)
        XCTAssertTrue((t.width, t.height) == (128, 96))
        let small = try ImageDecoder().decode(t.jpeg, path: "thumb").image
        // The board's squares are 8 px in the thumbnail: their centres keep the dark/light pattern.
        for (x, y) in [(4, 4), (12, 4), (4, 12), (100, 60)] {
            let light = (x / 8 + y / 8) % 2 == 0  // green is 220 on even squares, 20 on odd ones
            let v = Int(small.pixels[(y * 128 + x) * 3 + 1])
            XCTAssertEqual(v > 110, light, "pixel (\(x), \(y)) green \(v)")
        }
    }

    func testUnreadableFilesThrowTheImagingError() {
        let maker = ThumbnailMaker()
        XCTAssertThrowsError(try maker.make(fromFileAt: Fixtures.path("no_such_file.jpg"))) {
            XCTAssertEqual(($0 as? ImagingError)?.code, "unreadable")
        }
        XCTAssertThrowsError(try maker.make(fromFileAt: Fixtures.path("empty.jpg"))) {
            XCTAssertEqual(($0 as? ImagingError)?.code, "empty")
        }
    }
}
