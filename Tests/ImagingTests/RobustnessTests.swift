import TestSupport
import XCTest

@testable import Imaging

final class RobustnessTests: XCTestCase {
    /// Damaged files must come back as an image or an `ImagingError`, never a crash: flip bytes,
    /// cut, and splice the fixtures with a fixed-seed generator so failures reproduce.
    func testMutatedFilesDecodeOrThrowImagingError() throws {
        var rng = SplitMix(seed: 42)
        let decoder = ImageDecoder()
        var outcomes: [String: Int] = [:]
        for name in [
            "rgb_64x48.jpg", "progressive_96x72.jpg", "cmyk_44x28.jpg", "exif6_40x24.jpg", "rgb_33x21.png",
            "palette_trns_26x18.png", "interlaced_19x13.png", "rgb16_24x16.png",
        ] {
            let original = try Fixtures.bytes(name)
            for round in 0..<150 {
                var bytes = original
                switch round % 3 {
                case 0:
                    for _ in 0..<(1 + Int(rng.next() % 8)) {
                        bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                    }
                case 1:
                    bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
                default:
                    let at = Int(rng.next() % UInt64(bytes.count))
                    bytes.replaceSubrange(
                        at..<min(bytes.count, at + 16),
                        with: (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                }
                do {
                    let d = try decoder.decode(bytes, path: name, minSide: round % 2 == 0 ? nil : 16)
                    XCTAssertEqual(d.image.pixels.count, d.image.width * d.image.height * 3)
                    outcomes["ok", default: 0] += 1
                } catch let error as ImagingError {
                    outcomes[error.code, default: 0] += 1
                } catch {
                    XCTFail("\(name) round \(round): unexpected \(error)")
                }
            }
        }
        print("mutated fixtures:", outcomes.sorted { $0.key < $1.key })
        XCTAssertNotNil(outcomes["truncated"])
        XCTAssertNotNil(outcomes["corrupt"])
        XCTAssertNotNil(outcomes["ok"])
    }
}
