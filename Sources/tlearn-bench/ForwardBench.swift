import Foundation
import MobileNet

/// The forward pass alone: batch 32 (and batch 1) at 224x224 on the shared photos' preprocessed inputs
/// (tiled, as the peers' scripts do), images/s as the median of timed repetitions, GFLOP/s, time per
/// layer kind, and ONNX Runtime and LiteRT (XNNPACK) on the same inputs in the same run, in turns
/// (<shared>/reference/ort_bench.py and litert_bench.py).
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
            for i in images.indices {
                state = state &* 1_664_525 &+ 1_013_904_223
                images[i] = Float(state >> 8) / Float(1 << 23) - 1
            }
        }
        var out = [Float](repeating: 0, count: c.batch * net.dim)
        pass(net, images, &out, count: c.batch)  // warm-up: page in weights and arenas
        // tlearn and each peer take turns, one repetition each, so a change in the load of a shared
        // machine hits all alike; a ratio is the median of the per-turn ratios.
        let batch32 = Turns.run(
            c,
            peers: [
                Peer(
                    name: "onnxruntime", key: "peer",
                    command: ["python3", "\(c.shared)/reference/ort_bench.py", "forward"]),
                Peer(
                    name: "litert", key: "litert",
                    command: ["python3", "\(c.shared)/reference/litert_bench.py", "forward"]),
            ], batch: c.batch
        ) { timed(c, batch: c.batch) { pass(net, images, &out, count: c.batch) } }
        // Batch 1: one image at a time, as an app classifying photos one by one does. tlearn runs an image
        // on one core; LiteRT splits an image over its threads.
        let batch1 = Turns.run(
            c,
            peers: [
                Peer(
                    name: "litert", key: "litert",
                    command: ["python3", "\(c.shared)/reference/litert_bench.py", "forward"])
            ], batch: 1
        ) { timed(c, batch: 1) { pass(net, images, &out, count: 1) } }
        let rate = median(batch32.rates)
        let rates = batch32.rates
        let gflops = rate * 2 * Double(net.architecture.multiplyAdds(inputSize: size)) / 1e9

        // Per layer kind, one thread, image by image; the least disturbed image is reported.
        let profiled = c.batch
        let profile = images.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer {
                net.embedProfiled(x.baseAddress!, count: profiled, into: $0.baseAddress!)
            }
        }
        let fastest = profile.fastest
        let fastestTotal = fastest.values.reduce(0, +)

        c.say(
            "forward pass: MobileNetV2 alpha \(net.alpha), \(size)x\(size), \(c.threads) threads, \(c.reps) turns of \(c.seconds) s"
        )
        batch32.say(c, batch: c.batch)
        c.say(String(format: "  tlearn at batch %d: %.1f GFLOP/s", c.batch, gflops))
        batch1.say(c, batch: 1)
        c.say("  per layer kind (1 thread, CPU time of the fastest of \(profiled) images):")
        c.say("    kind         ms/image  share")
        var kinds: [String: Any] = [:]
        for kind in LayerKind.allCases {
            let s = fastest[kind] ?? 0
            c.say(
                "    " + kind.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + String(format: " %8.2f %5.1f%%", s * 1000, 100 * s / fastestTotal))
            kinds[kind.rawValue] = s * 1000
        }
        c.say(
            "    total       "
                + String(format: " %8.2f  (%.0f images/s per core)", fastestTotal * 1000, 1 / fastestTotal))

        report.fields.append(("forward_images_per_s", rate))
        report.fields.append(("forward_images_per_s_min", rates.min()!))
        report.fields.append(("forward_images_per_s_max", rates.max()!))
        report.fields.append(("forward_gflops", gflops))
        report.fields.append(("forward_batch", c.batch))
        report.fields.append(("forward_threads", c.threads))
        report.fields.append(("forward_ms_per_image_by_kind_1thread", kinds))
        batch32.report(&report, prefix: "forward")
        batch1.report(&report, prefix: "forward_batch1")
    }
}

/// One batch of `count` images through `net`.
private func pass(_ net: MobileNetV2, _ images: [Float], _ out: inout [Float], count: Int) {
    images.withUnsafeBufferPointer { x in
        out.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: count, into: $0.baseAddress!) }
    }
}

/// Images/s of `body` (one batch of `batch` images) repeated for `c.seconds`.
private func timed(_ c: BenchContext, batch: Int, _ body: () -> Void) -> Double {
    var done = 0
    let start = now()
    repeat {
        body()
        done += batch
    } while now() - start < c.seconds
    return Double(done) / (now() - start)
}

/// A peer's benchmark script (`forward --batch B --threads T --reps 1` prints one JSON line with images_per_s).
struct Peer {
    let name: String
    /// The JSON field prefix: forward_<key>_images_per_s, forward_ratio_vs_<key>.
    let key: String
    let command: [String]
}

/// tlearn and its peers measured in turns.
struct Turns {
    var rates: [Double] = []
    var peers: [(peer: Peer, label: String, rates: [Double], ratios: [Double])] = []

    static func run(_ c: BenchContext, peers: [Peer], batch: Int, tlearn: () -> Double) -> Turns {
        var t = Turns()
        t.peers = peers.map { ($0, $0.name, [], []) }
        for _ in 0..<c.reps {
            let mine = tlearn()
            t.rates.append(mine)
            guard c.runPeer else { continue }
            for k in t.peers.indices {
                let p = t.peers[k].peer
                guard let r = runPeer(p.command + ["--batch", "\(batch)", "--threads", "\(c.threads)", "--reps", "1"]),
                    let rate = r["images_per_s"] as? Double
                else { continue }
                t.peers[k].label = (r["peer"] as? String) ?? p.name
                t.peers[k].rates.append(rate)
                t.peers[k].ratios.append(mine / rate)
            }
        }
        return t
    }

    func say(_ c: BenchContext, batch: Int) {
        c.say(
            String(
                format: "  batch %-3d tlearn        %7.1f images/s (min %.1f, max %.1f)", batch, median(rates),
                rates.min()!, rates.max()!))
        for p in peers where !p.rates.isEmpty {
            c.say(
                "            " + p.label.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + String(
                        format: " %7.1f images/s (min %.1f, max %.1f); tlearn / it %.2fx (per turn %@)",
                        median(p.rates), p.rates.min()!, p.rates.max()!, median(p.ratios),
                        p.ratios.map { String(format: "%.2f", $0) }.joined(separator: " ")))
        }
    }

    func report(_ report: inout BenchReport, prefix: String) {
        if prefix != "forward" { report.fields.append(("\(prefix)_images_per_s", median(rates))) }
        for p in peers {
            report.fields.append(
                ("\(prefix)_\(p.peer.key)_images_per_s", p.rates.isEmpty ? nil as Double? as Any : median(p.rates)))
            report.fields.append(
                ("\(prefix)_ratio_vs_\(p.peer.key)", p.ratios.isEmpty ? nil as Double? as Any : median(p.ratios)))
        }
    }
}
