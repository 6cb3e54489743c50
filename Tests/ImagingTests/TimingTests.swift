import Foundation
import XCTest
@testable import Imaging

final class TimingTests: XCTestCase {
    /// Opt-in (TLEARN_IMAGING_TIMING=1): single-threaded ms per stage on a typical 500x333 dev photo.
    func testTimingOfATypicalDevPhoto() throws {
        guard ProcessInfo.processInfo.environment["TLEARN_IMAGING_TIMING"] != nil else {
            throw XCTSkip("TLEARN_IMAGING_TIMING not set: timing is opt-in")
        }
        let path = try Fixtures.devPhotos().appendingPathComponent("daisy/100080576_f52e8ee070_n.jpg").path
        let bytes = try readImageFile(at: path)
        let decoder = ImageDecoder()
        let decoded = try decoder.decode(bytes, path: path)
        var out = [Float](repeating: 0, count: 224 * 224 * 3)
        func ms(_ body: () throws -> Void) rethrows -> Double {
            let runs = 100
            try body()
            let t = Date()
            for _ in 0..<runs { try body() }
            return Date().timeIntervalSince(t) * 1000 / Double(runs)
        }
        let decode = try ms { _ = try decoder.decode(bytes, path: path) }
        let scaled = try ms { _ = try decoder.decode(bytes, path: path, minSide: 224) }
        let resize = ms { _ = resizeBilinear(decoded.image, width: 224, height: 224) }
        let prep = ms { out.withUnsafeMutableBufferPointer { preprocess(decoded.image, size: 224, into: $0.baseAddress!) } }
        print("""
            \(decoded.image.width)x\(decoded.image.height) photo: decode \(String(format: "%.2f", decode)) ms, \
            decode at minSide 224 \(String(format: "%.2f", scaled)) ms, resize to 224 \(String(format: "%.2f", resize)) ms, \
            resize + scale to floats \(String(format: "%.2f", prep)) ms
            """)
    }
}
