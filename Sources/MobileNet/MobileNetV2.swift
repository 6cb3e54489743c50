import Dispatch
import Foundation
import Kernels

/// The frozen MobileNetV2 feature extractor of `keras.applications.MobileNetV2(include_top=False,
/// pooling="avg")`: preprocessed NHWC images in, pooled `dim`-float embeddings out.
///
/// Each image runs on one thread with single-threaded BLAS, images spread over the cores; an image's
/// embedding therefore never depends on the batch it came in, bit for bit (the extraction cache
/// relies on it), nor on the run.
public final class MobileNetV2: @unchecked Sendable {
    public let alpha: Float
    public let inputSize: Int
    public let architecture: Architecture
    /// Embedding width: Conv_1's channels, 1280 for alpha <= 1.
    public var dim: Int { architecture.lastChannels }
    /// Images embedded concurrently by `embed` (one per thread); defaults to the number of cores.
    public var threads: Int

    let stem: PointwiseLayer          // Conv1 + bn_Conv1 as a GEMM over 3x3 patches
    let stemWindow: Window
    let blocks: [InvertedResidual]    // expanded_conv, block_1 ... block_16
    let head: PointwiseLayer          // Conv_1 + Conv_1_bn
    let headPixels: Int
    let sizes: ArenaSizes
    private var arenas: [Arena] = []

    /// Loads a Keras `.h5` (see `KerasWeights` for the layouts) for `inputSize` x `inputSize` inputs.
    public init(weightsAt path: String, inputSize: Int = 224) throws {
        guard inputSize >= 32 else {
            throw WeightsError.invalid(file: path, reason: "input size \(inputSize) is below MobileNetV2's minimum of 32")
        }
        let weights = try KerasWeights(path: path)
        let arch = weights.architecture
        architecture = arch
        alpha = Float(arch.alpha)
        self.inputSize = inputSize
        threads = max(1, ProcessInfo.processInfo.activeProcessorCount)

        stemWindow = Window.keras(height: inputSize, width: inputSize, stride: 2)
        stem = PointwiseLayer(weights.folded("Conv1", batchNorm: "bn_Conv1"), inChannels: 27, outChannels: arch.stemChannels)
        var size = stemWindow.outHeight
        var sizes = ArenaSizes(patches: size * size * 27, activations: size * size * arch.stemChannels, expanded: 0, depthwise: 0)
        var blocks: [InvertedResidual] = []
        for b in arch.blocks {
            let expand = b.hasExpand
                ? PointwiseLayer(weights.folded(b.prefix + "expand", batchNorm: b.prefix + "expand_BN"),
                                 inChannels: b.inChannels, outChannels: b.expandedChannels)
                : nil
            let window = Window.keras(height: size, width: size, stride: b.stride)
            let dw = weights.folded(b.prefix + "depthwise", batchNorm: b.prefix + "depthwise_BN")
            let project = PointwiseLayer(weights.folded(b.prefix + "project", batchNorm: b.prefix + "project_BN"),
                                         inChannels: b.expandedChannels, outChannels: b.outChannels)
            blocks.append(InvertedResidual(
                expand: expand, depthwise: packDepthwise3x3(kernel: dw.kernel, bias: dw.bias, channels: b.expandedChannels),
                window: window, channels: b.expandedChannels, project: project, residual: b.hasResidual))
            sizes.expanded = max(sizes.expanded, size * size * b.expandedChannels)
            size = window.outHeight
            sizes.depthwise = max(sizes.depthwise, size * size * b.expandedChannels)
            sizes.activations = max(sizes.activations, size * size * b.outChannels)
        }
        self.blocks = blocks
        head = PointwiseLayer(weights.folded("Conv_1", batchNorm: "Conv_1_bn"), inChannels: arch.blocks.last!.outChannels,
                              outChannels: arch.lastChannels)
        headPixels = size * size
        sizes.expanded = max(sizes.expanded, headPixels * arch.lastChannels)
        self.sizes = sizes
    }

    /// Embeds `count` preprocessed images (NHWC, count x inputSize x inputSize x 3, values in [-1, 1])
    /// into `output` (count x dim). Not thread-safe per instance (uses its own arena).
    public func embed(_ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>) {
        precondition(count >= 0, "MobileNetV2.embed: negative count \(count)")
        if count == 0 { return }
        let workers = min(count, max(1, threads))
        while arenas.count < workers { arenas.append(Arena(sizes)) }
        let imageFloats = inputSize * inputSize * 3, dim = self.dim
        let previousBLASThreads = BLASThreads.current
        BLASThreads.set(1)
        defer { BLASThreads.set(previousBLASThreads) }
        let io = UnsafeIO(input: input, output: output)
        if workers == 1 {
            for i in 0..<count { forward(io.input + i * imageFloats, into: io.output + i * dim, arena: arenas[0], profile: nil) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for i in stride(from: w, to: count, by: workers) {
                self.forward(io.input + i * imageFloats, into: io.output + i * dim, arena: self.arenas[w], profile: nil)
            }
        }
    }

    /// One image (inputSize x inputSize x 3, NHWC, values in [-1, 1]) to its `dim` floats.
    public func embedding(_ image: [Float]) -> [Float] {
        precondition(image.count == inputSize * inputSize * 3,
                     "MobileNetV2.embedding: \(image.count) floats, expected \(inputSize) x \(inputSize) x 3 = \(inputSize * inputSize * 3)")
        var out = [Float](repeating: 0, count: dim)
        image.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { embed(x.baseAddress!, count: 1, into: $0.baseAddress!) } }
        return out
    }

    /// Like `embed` on one thread, also returning the seconds spent in each kind of layer.
    public func embedProfiled(_ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>) -> LayerProfile {
        if arenas.isEmpty { arenas.append(Arena(sizes)) }
        let previousBLASThreads = BLASThreads.current
        BLASThreads.set(1)
        defer { BLASThreads.set(previousBLASThreads) }
        var profile = LayerProfile()
        for i in 0..<count {
            forward(input + i * inputSize * inputSize * 3, into: output + i * dim, arena: arenas[0], profile: &profile)
        }
        return profile
    }

    /// The network, one line per layer.
    private func forward(_ image: UnsafePointer<Float>, into embedding: UnsafeMutablePointer<Float>, arena: Arena,
                         profile: UnsafeMutablePointer<LayerProfile>?) {
        var clock = Stopwatch(profile)
        let s = stemWindow.outHeight
        im2col3x3(image, window: stemWindow, channels: 3, into: arena.patches)             // (s*s, 27)
        stem.apply(arena.patches, arena.x, pixels: s * s, clamp: .relu6)                 // Conv1, bn_Conv1, Conv1_relu -> (s, s, 32a)
        clock.lap(.stem)
        var x = arena.x, y = arena.y
        for block in blocks {                                                              // expanded_conv ... block_16
            block.apply(x, y, arena: arena, clock: &clock)
            swap(&x, &y)
        }
        head.apply(x, arena.expanded, pixels: headPixels, clamp: .relu6)                 // Conv_1, Conv_1_bn, out_relu -> (7, 7, 1280)
        clock.lap(.head)
        globalAveragePool(arena.expanded, pixels: headPixels, channels: dim, into: embedding)  // (1280,)
        clock.lap(.pool)
    }
}

/// One inverted residual block (Sandler et al. 2018, Figure 3b).
struct InvertedResidual {
    let expand: PointwiseLayer?   // block_N_expand(_BN, _relu); absent in block 0
    let depthwise: AlignedBuffer  // block_N_depthwise(_BN), packed per 8 channels
    let window: Window            // Keras same / correct_pad geometry
    let channels: Int             // expanded channels
    let project: PointwiseLayer   // block_N_project(_BN), linear
    let residual: Bool            // block_N_add

    func apply(_ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>, arena: Arena, clock: inout Stopwatch) {
        let inPixels = window.inHeight * window.inWidth, outPixels = window.outHeight * window.outWidth
        var x = UnsafePointer(input)
        if let expand {
            expand.apply(x, arena.expanded, pixels: inPixels, clamp: .relu6)            // (h, w, t*cin)
            x = UnsafePointer(arena.expanded)
            clock.lap(.expand)
        }
        if window.stride == 1 {                                                           // (h', w', t*cin)
            depthwise3x3Stride1(x, packed: depthwise.pointer, arena.depthwise, window: window, channels: channels, clamp: .relu6)
        } else {
            depthwise3x3Stride2(x, packed: depthwise.pointer, arena.depthwise, window: window, channels: channels, clamp: .relu6)
        }
        clock.lap(.depthwise)
        project.apply(arena.depthwise, output, pixels: outPixels, clamp: .linear,         // (h', w', cout)
                      residual: residual ? UnsafePointer(input) : nil)
        clock.lap(.project)
    }
}

/// A 1x1 convolution (or the stem as a GEMM over patches) with BatchNorm folded in.
struct PointwiseLayer {
    let weights: AlignedBuffer   // (k, n) row-major: Keras's (1, 1, cin, cout) as is
    let bias: AlignedBuffer
    let k: Int
    let n: Int

    init(_ folded: KerasWeights.Folded, inChannels k: Int, outChannels n: Int) {
        precondition(folded.kernel.count == k * n && folded.bias.count == n,
                     "PointwiseLayer: kernel \(folded.kernel.count) bias \(folded.bias.count) for \(k) -> \(n)")
        weights = AlignedBuffer(folded.kernel)
        bias = AlignedBuffer(folded.bias)
        self.k = k
        self.n = n
    }

    func apply(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, pixels: Int, clamp: Clamp,
               residual: UnsafePointer<Float>? = nil) {
        pointwise(input, weights: weights.pointer, bias: bias.pointer, output, pixels: pixels, inChannels: k, outChannels: n,
                  clamp: clamp, residual: residual)
    }
}

/// Float counts of the per-thread scratch buffers, the maxima over all layers.
struct ArenaSizes {
    var patches: Int
    var activations: Int
    var expanded: Int
    var depthwise: Int
}

/// One thread's preallocated, 64-byte aligned buffers: nothing is allocated per image.
final class Arena: @unchecked Sendable {
    let buffers: [AlignedBuffer]
    var patches: UnsafeMutablePointer<Float> { buffers[0].pointer }
    var x: UnsafeMutablePointer<Float> { buffers[1].pointer }
    var y: UnsafeMutablePointer<Float> { buffers[2].pointer }
    var expanded: UnsafeMutablePointer<Float> { buffers[3].pointer }
    var depthwise: UnsafeMutablePointer<Float> { buffers[4].pointer }

    init(_ s: ArenaSizes) {
        buffers = [s.patches, s.activations, s.activations, s.expanded, s.depthwise].map { AlignedBuffer(count: $0) }
    }
}

/// Pointers handed to the worker threads; each worker touches disjoint images.
private struct UnsafeIO: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
}

/// The kinds of layer the benchmark reports time for.
public enum LayerKind: String, CaseIterable, Sendable {
    case stem, expand, depthwise, project, head, pool
}

/// Seconds per layer kind, summed over images.
public struct LayerProfile: Sendable {
    public var seconds: [LayerKind: Double] = [:]
    public init() {}
    public var total: Double { seconds.values.reduce(0, +) }
}

/// Attributes elapsed time to layer kinds; free when no profile is being collected.
struct Stopwatch {
    private let profile: UnsafeMutablePointer<LayerProfile>?
    private var last: UInt64

    init(_ profile: UnsafeMutablePointer<LayerProfile>?) {
        self.profile = profile
        last = profile == nil ? 0 : DispatchTime.now().uptimeNanoseconds
    }

    @inline(__always) mutating func lap(_ kind: LayerKind) {
        guard let profile else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        profile.pointee.seconds[kind, default: 0] += Double(now - last) / 1e9
        last = now
    }
}
