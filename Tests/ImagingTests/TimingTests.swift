import Foundation
import XCTest
@testable import Imaging

final class TimingTests: XCTestCase {
    /// Opt-in (TLEARN_IMAGING_TIMING=1): single-threaded ms per stage on typical dev photos.
    func testTimingOfATypicalDevPhoto() throws {
        guard ProcessInfo.processInfo.environment["TLEARN_IMAGING_TIMING"] != nil else {
            throw XCTSkip("TLEARN_IMAGING_TIMING not set: timing is opt-in")
        }
        for name in ["daisy/10466558316_a7198b87e2.jpg", "daisy/100080576_f52e8ee070_n.jpg"] {
        let path = try Fixtures.devPhotos().appendingPathComponent(name).path
        let bytes = try readImageFile(at: path)
        let decoder = ImageDecoder()
        let decoded = try decoder.decode(bytes, path: path)
        var out = [Float](repeating: 0, count: 224 * 224 * 3)
        func ms(_ body: () throws -> Void) rethrows -> Double {
            let runs = 200
            try body()
            let t = threadCPUSeconds()
            for _ in 0..<runs { try body() }
            return (threadCPUSeconds() - t) * 1000 / Double(runs)
        }
        let decode = try ms { _ = try decoder.decode(bytes, path: path) }
        let scaled = try ms { _ = try decoder.decode(bytes, path: path, minSide: 224) }
        let resize = ms { _ = resizeBilinear(decoded.image, width: 224, height: 224) }
        let prep = ms { out.withUnsafeMutableBufferPointer { preprocess(decoded.image, size: 224, into: $0.baseAddress!) } }
        print("""
            \(decoded.image.width)x\(decoded.image.height) photo, CPU time on one thread: decode \(String(format: "%.2f", decode)) ms, \
            decode at minSide 224 \(String(format: "%.2f", scaled)) ms, resize to 224 \(String(format: "%.2f", resize)) ms, \
            resize + scale to floats \(String(format: "%.2f", prep)) ms
            """)
        }
    }
}
