import Foundation
import Kernels
import MobileNet

/// Every layer of MobileNetV2 alpha 1.0 at 224x224 alone, random weights, one thread (ncnn
/// `benchncnn` style): the best of several runs, in GFLOP/s, to see which shapes the kernels handle badly.
enum LayersBench: BenchSection {
    static let name = "layers"

    static func run(_ c: BenchContext, _ report: inout BenchReport) throws {
        let arch = Architecture(alpha: 1.0)
        BLASThreads.set(1)
        let big = AlignedBuffer(count: 112 * 112 * 96 * 2)
        let out = AlignedBuffer(count: 112 * 112 * 96 * 2)
        let w = AlignedBuffer(count: 960 * 1280)
        let b = AlignedBuffer(count: 1280)
        for i in 0..<big.count { big.pointer[i] = Float(i % 13) / 13 - 0.5 }
        for i in 0..<w.count { w.pointer[i] = Float(i % 7) / 70 - 0.05 }
        func best(_ body: () -> Void) -> Double {
            var t = Double.infinity
            for _ in 0..<7 {
                let s = now()
                body()
                t = min(t, now() - s)
            }
            return t
        }
        var rows: [(String, Double, Double)] = []
        let sw = Window.keras(height: 224, width: 224, stride: 2)
        let sd = best {
            conv3x3Channels3(
                big.pointer, weights: w.pointer, bias: b.pointer, out.pointer, window: sw, outChannels: 32,
                clamp: .relu6, rows: 0..<112)
        }
        rows.append(("Conv1 direct 3x3 224 -> 112x112x32", sd, 2 * Double(112 * 112 * 27 * 32) / sd / 1e9))
        var h = 112
        for blk in arch.blocks {
            let hw = h * h
            if blk.hasExpand {
                let s = best {
                    pointwise(
                        big.pointer, weights: w.pointer, bias: b.pointer, out.pointer, pixels: hw,
                        inChannels: blk.inChannels, outChannels: blk.expandedChannels, clamp: .relu6)
                }
                rows.append(
                    (
                        "\(blk.prefix)expand \(h)x\(h) \(blk.inChannels)->\(blk.expandedChannels)", s,
                        2 * Double(hw * blk.inChannels * blk.expandedChannels) / s / 1e9
                    ))
                let sg = best {
                    gemm(big.pointer, w.pointer, out.pointer, m: hw, n: blk.expandedChannels, k: blk.inChannels)
                }
                rows.append(
                    ("  of which OpenBLAS sgemm", 0, 2 * Double(hw * blk.inChannels * blk.expandedChannels) / sg / 1e9))
            }
            let g = Window.keras(height: h, width: h, stride: blk.stride)
            let packed = AlignedBuffer(count: (blk.expandedChannels + 7) / 8 * 80)
            let s = best {
                if blk.stride == 1 {
                    depthwise3x3Stride1(
                        big.pointer, packed: packed.pointer, out.pointer, window: g, channels: blk.expandedChannels,
                        clamp: .relu6)
                } else {
                    depthwise3x3Stride2(
                        big.pointer, packed: packed.pointer, out.pointer, window: g, channels: blk.expandedChannels,
                        clamp: .relu6)
                }
            }
            h = g.outHeight
            rows.append(
                (
                    "\(blk.prefix)depthwise s\(blk.stride) -> \(h)x\(h)x\(blk.expandedChannels)", s,
                    2 * Double(h * h * 9 * blk.expandedChannels) / s / 1e9
                ))
            let sp = best {
                pointwise(
                    big.pointer, weights: w.pointer, bias: b.pointer, out.pointer, pixels: h * h,
                    inChannels: blk.expandedChannels, outChannels: blk.outChannels, clamp: .linear)
            }
            rows.append(
                (
                    "\(blk.prefix)project \(h)x\(h) \(blk.expandedChannels)->\(blk.outChannels)", sp,
                    2 * Double(h * h * blk.expandedChannels * blk.outChannels) / sp / 1e9
                ))
        }
        c.say("layers (alpha 1.0, 224, 1 thread, best of 7):")
        for (name, s, gf) in rows {
            c.say(
                name.padding(toLength: 48, withPad: " ", startingAt: 0)
                    + (s > 0 ? String(format: "%8.3f ms", s * 1000) : "           ")
                    + (gf > 0 ? String(format: " %7.1f GFLOP/s", gf) : ""))
        }
        c.say(String(format: "sum %.2f ms", rows.reduce(0) { $0 + $1.1 } * 1000))
        report.fields.append(("layers_ms_total", rows.reduce(0) { $0 + $1.1 } * 1000))
    }
}
