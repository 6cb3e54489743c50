import ArgumentParser
import Extraction
import Foundation
import Imaging
import MobileNet

/// Decode + resize + scale to the 224x224 float input, over the dev photos: one thread, and one
/// decoder per core; beside OpenCV's `imread` + `resize(INTER_LINEAR)` timed in the same run.
struct DecodeBench: BenchSection {
    static let name = "decode"

    static func run(_ c: BenchContext, _ report: inout BenchReport) throws {
        let images = "\(c.shared)/data/flower_photos_dev"
        let files = try Scanner.scan(root: images).candidates.map(\.file)
        guard !files.isEmpty else { throw ValidationError("no photos in \(images)") }
        let one = try rate(files, threads: 1)
        let all = try rate(files, threads: c.threads)
        c.say(
            String(
                format:
                    "decode+resize: %d photos to 224x224 floats: %.0f images/s on 1 thread, %.0f images/s on %d threads",
                files.count, one, all, c.threads))
        let resizeMs = resizeOnly(Array(files.prefix(64)))
        c.say(
            String(
                format:
                    "  of which the Pillow-exact resize alone: %.3f ms per photo (CPU time, fastest of 10 passes over 64 decoded photos)",
                resizeMs))
        var peer: Double?
        if c.runPeer {
            let script = """
                import cv2, os, sys, time, json
                fs = sorted(os.path.join(r, f) for r, _, n in os.walk(sys.argv[1]) for f in n)
                cv2.setNumThreads(1); t = time.perf_counter()
                for f in fs:
                    x = cv2.resize(cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB), (224, 224), interpolation=cv2.INTER_LINEAR).astype('float32') / 127.5 - 1
                print(json.dumps({"images_per_s": len(fs) / (time.perf_counter() - t)}))
                """
            peer = runPeer(["python3", "-c", script, images])?["images_per_s"] as? Double
            if let peer {
                c.say(
                    String(
                        format: "  OpenCV imread + resize (1 thread): %.0f images/s; tlearn/OpenCV %.2fx", peer,
                        one / peer))
            }
        }
        report.fields.append(("decode_images_per_s_1thread", one))
        report.fields.append(("decode_images_per_s", all))
        report.fields.append(("decode_peer_opencv_images_per_s_1thread", peer as Any))
        report.fields.append(("resize_ms_per_photo", resizeMs))
    }

    /// CPU milliseconds per photo of `resizeBilinear` to 224x224 alone, on already decoded photos: the
    /// fastest of 10 passes, like the layer table, so a busy neighbour does not move it.
    private static func resizeOnly(_ files: [String]) -> Double {
        let decoded = files.compactMap { try? decodeImage(at: $0).image }
        guard !decoded.isEmpty else { return 0 }
        var passes: [Double] = []
        for _ in 0..<10 {
            let t0 = threadCPUSeconds()
            for image in decoded { _ = resizeBilinear(image, width: 224, height: 224) }
            passes.append((threadCPUSeconds() - t0) * 1000 / Double(decoded.count))
        }
        return passes.min()!
    }

    /// Images/s preparing every file once, spread over `threads` threads (one decoder each).
    private static func rate(_ files: [String], threads: Int) throws -> Double {
        let next = Counter()
        let t0 = now()
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            var preparer: any ImagePreparer = ImagingPreparer(minSide: 224)
            while let i = next.take(below: files.count) {
                _ = try? prepareFile(files[i], size: 224, views: [.orig], preparer: &preparer)
            }
        }
        return Double(files.count) / (now() - t0)
    }
}

/// A shared work index for the decode threads.
private final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func take(below limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}
