import Foundation
import MobileNet

/// The forward pass alone: batch 32 at 224x224 on the shared photos' preprocessed inputs (tiled, as
/// ort_bench.py does), images/s as the median of timed repetitions, GFLOP/s, time per layer kind,
/// and ONNX Runtime on the same inputs in the same run (../shared/reference/ort_bench.py).
enum ForwardBench: BenchSection {
    static let name = "forward"

    static func run(_ c: BenchContext, _ report: inout BenchReport) throws {
        let size = 224
        let net = try MobileNetV2(weightsAt: c.weights, inputSize: size)
        net.threads = c.threads
        let n = size * size * 3
        var images = [Float](repeating: 0, count: c.batch * n)
        let inputs16 = "\(c.shared)/reference/inputs_16.f32"
        if let data = FileManager.default.contents(atPath: inputs16), data.count == 16 * n * 4 {
            data.withUnsafeBytes { raw in
                let src = raw.bindMemory(to: Float.self)
                for i in 0..<(c.batch * n) { images[i] = src[i % (16 * n)] }
            }
        } else {
            FileHandle.standardError.write(Data("warning: \(inputs16) not found; timing random inputs\n".utf8))
            var state: UInt32 = 1
            for i in images.indices { state = state &* 1_664_525 &+ 1_013_904_223; images[i] = Float(state >> 8) / Float(1 << 23) - 1 }
        }
        var out = [Float](repeating: 0, count: c.batch * net.dim)
        func pass() {
            images.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: c.batch, into: $0.baseAddress!) } }
        }
        // tlearn and the peer take turns, one repetition each, so a change in the load of a shared
        // machine hits both alike; the ratio is the median of the per-turn ratios.
        func peerRun() -> [String: Any]? {
            guard c.runPeer else { return nil }
            return runPeer(["python3", "\(c.shared)/reference/ort_bench.py", "forward", "--batch", "\(c.batch)",
                            "--threads", "\(c.threads)", "--reps", "1"])
        }

        pass()  // warm-up: page in weights and arenas
        var rates: [Double] = [], peerRates: [Double] = [], ratios: [Double] = []
        var peer: [String: Any]?
        for _ in 0..<c.reps {
            var done = 0
            let start = now()
            repeat { pass(); done += c.batch } while now() - start < c.seconds
            rates.append(Double(done) / (now() - start))
            if let p = peerRun(), let r = p["images_per_s"] as? Double {
                peer = p
                peerRates.append(r)
                ratios.append(rates.last! / r)
            }
        }
        let rate = median(rates)
        let gflops = rate * 2 * Double(net.architecture.multiplyAdds(inputSize: size)) / 1e9

        // Per layer kind, one thread, image by image; the least disturbed image is reported.
        let profiled = c.batch
        let profile = images.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { net.embedProfiled(x.baseAddress!, count: profiled, into: $0.baseAddress!) }
        }
        let fastest = profile.fastest
        let fastestTotal = fastest.values.reduce(0, +)

        let peerRate = peerRates.isEmpty ? nil : median(peerRates)
        let ratio = ratios.isEmpty ? nil : median(ratios)

        c.say("forward pass: MobileNetV2 alpha \(net.alpha), \(size)x\(size), batch \(c.batch), \(c.threads) threads, \(c.reps) reps of \(c.seconds) s")
        c.say(String(format: "  tlearn        %7.1f images/s (min %.1f, max %.1f)  %.1f GFLOP/s", rate, rates.min()!, rates.max()!, gflops))
        if let peerRate, let ratio {
            c.say(String(format: "  onnxruntime   %7.1f images/s (min %.1f, max %.1f)  %@, in turns with tlearn", peerRate,
                         peerRates.min()!, peerRates.max()!, (peer?["peer"] as? String) ?? "?"))
            c.say(String(format: "  ratio         %7.2fx  (median of the %d turns; per turn %@)", ratio, ratios.count,
                         ratios.map { String(format: "%.2f", $0) }.joined(separator: " ")))
        }
        c.say("  per layer kind (1 thread, CPU time of the fastest of \(profiled) images):")
        c.say("    kind         ms/image  share")
        var kinds: [String: Any] = [:]
        for kind in LayerKind.allCases {
            let s = fastest[kind] ?? 0
            c.say("    " + kind.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
                  + String(format: " %8.2f %5.1f%%", s * 1000, 100 * s / fastestTotal))
            kinds[kind.rawValue] = s * 1000
        }
        c.say("    total       " + String(format: " %8.2f  (%.0f images/s per core)", fastestTotal * 1000, 1 / fastestTotal))

        report.fields.append(("forward_images_per_s", rate))
        report.fields.append(("forward_images_per_s_min", rates.min()!))
        report.fields.append(("forward_images_per_s_max", rates.max()!))
        report.fields.append(("forward_gflops", gflops))
        report.fields.append(("forward_batch", c.batch))
        report.fields.append(("forward_threads", c.threads))
        report.fields.append(("forward_ms_per_image_by_kind_1thread", kinds))
        report.fields.append(("forward_peer_images_per_s", peerRate as Any))
        report.fields.append(("forward_ratio_vs_peer", ratio as Any))
    }
}
