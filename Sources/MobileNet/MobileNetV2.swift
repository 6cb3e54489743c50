import Dispatch
import Formats
import Foundation
import Kernels
import Synchronization

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
    /// Shape of block_16's output (`block_16_project_BN`, the input of Conv_1), the maps `embed(_:count:into:maps:)`
    /// writes: ceil(inputSize / 32) pixels a side (Keras pads every stride-2 layer up), 320 channels at alpha <= 1.
    public let mapShape: MapShape
    /// Conv_1 with Conv_1_bn folded in, the layer that turns a map into the pre-pooling features: kernel
    /// (mapShape.channels x dim, row-major: Keras's (1, 1, channels, dim)) and bias (dim). ReLU6 and global
    /// average pooling of its output give the embedding.
    public var conv1: (kernel: [Float], bias: [Float]) { (head.weights.array, head.bias.array) }
    /// Images embedded concurrently by `embed` (one per thread); defaults to the CPUs this process
    /// may use (`AvailableCPUs`).
    public var threads: Int

    let blocks: [InvertedResidual]  // expanded_conv (fed by Conv1), block_1 ... block_16
    let head: PointwiseLayer  // Conv_1 + Conv_1_bn
    let headPixels: Int
    let sizes: ArenaSizes
    private var arenas: [Arena] = []
    /// Keras accepts any size from 32; above this the per-thread arena passes 100 MB.
    public static let maxInputSize = 1024
    /// Target size of one strip of depthwise output (floats); see `InvertedResidual.stripRows`.
    /// Small strips pay the GEMM's per-call overhead again and again; 131072 (512 KB) splits only the
    /// 112x112 and 56x56 blocks, into 2-6 strips, which keeps each strip within L2 on the CPUs tried
    /// (`tlearn-bench --section forward` compares settings).
    static let stripFloats = 131_072
    /// Largest expand GEMM output (floats, 256 KB) before its bias + ReLU6 pass: stays in L2.
    static let expandPieceFloats = 65_536

    /// Loads a Keras `.h5` (see `KerasWeights` for the layouts) for `inputSize` x `inputSize` inputs.
    public convenience init(weightsAt path: String, inputSize: Int = 224) throws {
        guard (32...MobileNetV2.maxInputSize).contains(inputSize) else {
            throw WeightsError.invalid(
                file: path, reason: "input size \(inputSize) is outside 32...\(MobileNetV2.maxInputSize)")
        }
        try self.init(weights: KerasWeights(path: path), inputSize: inputSize)
    }

    /// The network from loaded weights (tests choose how `KerasWeights` matches arrays, and may
    /// shrink the strips to run the multi-strip path on small inputs).
    init(weights: KerasWeights, inputSize: Int, stripFloats: Int = MobileNetV2.stripFloats) {
        let arch = weights.architecture
        architecture = arch
        alpha = Float(arch.alpha)
        self.inputSize = inputSize
        threads = AvailableCPUs.current.count

        let stemWindow = Window.keras(height: inputSize, width: inputSize, stride: 2)
        let stem = Stem(
            layer: PointwiseLayer(
                weights.folded("Conv1", batchNorm: "bn_Conv1"), inChannels: 27, outChannels: arch.stemChannels),
            window: stemWindow)
        var size = stemWindow.outHeight
        var sizes = ArenaSizes(activations: 0, expanded: 0, depthwise: 0)
        var blocks: [InvertedResidual] = []
        for b in arch.blocks {
            // Block 0 has no expand layer: the stem takes its place, so its output never exists as a
            // whole (112, 112, 32) map either, only as block 0's strips.
            precondition(
                b.hasExpand || blocks.isEmpty, "MobileNetV2: \(b.prefix) has no expand layer; only block 0 may lack one"
            )
            let expand: InvertedResidual.Expansion =
                b.hasExpand
                ? .pointwise(
                    PointwiseLayer(
                        weights.folded(b.prefix + "expand", batchNorm: b.prefix + "expand_BN"),
                        inChannels: b.inChannels, outChannels: b.expandedChannels))
                : .stem(stem)
            let window = Window.keras(height: size, width: size, stride: b.stride)
            let dw = weights.folded(b.prefix + "depthwise", batchNorm: b.prefix + "depthwise_BN")
            let project = PointwiseLayer(
                weights.folded(b.prefix + "project", batchNorm: b.prefix + "project_BN"),
                inChannels: b.expandedChannels, outChannels: b.outChannels)
            let stripRows = min(window.outHeight, max(1, stripFloats / (window.outWidth * b.expandedChannels)))
            blocks.append(
                InvertedResidual(
                    expand: expand,
                    depthwise: packDepthwise3x3(kernel: dw.kernel, bias: dw.bias, channels: b.expandedChannels),
                    window: window, channels: b.expandedChannels, project: project, residual: b.hasResidual,
                    stripRows: stripRows))
            // One strip's input rows (3 taps, stride apart) and output rows.
            sizes.expanded = max(sizes.expanded, min(size, (stripRows - 1) * b.stride + 3) * size * b.expandedChannels)
            size = window.outHeight
            sizes.depthwise = max(sizes.depthwise, stripRows * size * b.expandedChannels)
            sizes.activations = max(sizes.activations, size * size * b.outChannels)
        }
        self.blocks = blocks
        head = PointwiseLayer(
            weights.folded("Conv_1", batchNorm: "Conv_1_bn"), inChannels: arch.blocks.last!.outChannels,
            outChannels: arch.lastChannels)
        headPixels = size * size
        mapShape = MapShape(height: size, width: size, channels: head.k)
        sizes.expanded = max(sizes.expanded, headPixels * arch.lastChannels)
        self.sizes = sizes
    }

    /// Embeds `count` preprocessed images (NHWC, count x inputSize x inputSize x 3, values in [-1, 1])
    /// into `output` (count x dim). Not thread-safe per instance (uses its own arena).
    public func embed(_ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>) {
        run(input, count: count, embeddings: output, maps: nil)
    }

    /// `embed`, also writing each image's block_16 output into `maps` (count x mapShape.count, NHWC): the very
    /// values Conv_1 reads, so they too do not depend on the batch or the thread count, bit for bit.
    public func embed(
        _ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>,
        maps: UnsafeMutablePointer<Float>
    ) {
        run(input, count: count, embeddings: output, maps: maps)
    }

    /// Only the maps of `count` images (count x mapShape.count), without running Conv_1 and the pooling.
    public func maps(_ input: UnsafePointer<Float>, count: Int, into maps: UnsafeMutablePointer<Float>) {
        run(input, count: count, embeddings: nil, maps: maps)
    }

    private func run(
        _ input: UnsafePointer<Float>, count: Int, embeddings output: UnsafeMutablePointer<Float>?,
        maps: UnsafeMutablePointer<Float>?
    ) {
        precondition(count >= 0, "MobileNetV2.embed: negative count \(count)")
        if count == 0 { return }
        let workers = min(count, max(1, threads))
        while arenas.count < workers { arenas.append(Arena(sizes)) }
        let imageFloats = inputSize * inputSize * 3
        let dim = self.dim
        let mapFloats = mapShape.count
        let previousBLASThreads = BLASThreads.current
        BLASThreads.set(1)
        defer { BLASThreads.set(previousBLASThreads) }
        let io = UnsafeIO(input: input, output: output, maps: maps)
        if workers == 1 {
            forward(images: input, count: count, into: output, maps: maps, arena: arenas[0])
            return
        }
        // Each thread claims the next image when it finishes one: when other work takes a core for a
        // while, the other core does more images instead of idling at the end of the batch, as a
        // fixed split would.
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                if i >= count { break }
                self.forward(
                    io.input + i * imageFloats, into: io.output.map { $0 + i * dim },
                    maps: io.maps.map { $0 + i * mapFloats },
                    arena: self.arenas[w], profile: nil)
            }
        }
    }

    /// One image (inputSize x inputSize x 3, NHWC, values in [-1, 1]) to its `dim` floats.
    public func embedding(_ image: [Float]) -> [Float] {
        precondition(
            image.count == inputSize * inputSize * 3,
            "MobileNetV2.embedding: \(image.count) floats, expected \(inputSize) x \(inputSize) x 3 = \(inputSize * inputSize * 3)"
        )
        var out = [Float](repeating: 0, count: dim)
        image.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { embed(x.baseAddress!, count: 1, into: $0.baseAddress!) }
        }
        return out
    }

    /// One thread's share of the work when the caller runs one thread per core itself (extraction's
    /// workers decode an image and embed it on the same core, so nothing waits for a batch and no
    /// thread takes a core from another). Vectors equal `embed`'s bit for bit.
    public final class SerialWorker: @unchecked Sendable {
        let net: MobileNetV2
        let arena: Arena

        /// A worker with its own arena; OpenBLAS is set to one thread for the process, since the
        /// workers are the parallelism.
        public init(_ net: MobileNetV2) {
            self.net = net
            arena = Arena(net.sizes)
            BLASThreads.set(1)
        }

        /// Embeds `count` images, one after another, on the calling thread; with `maps`, also writes their
        /// maps there (count x mapShape.count), as `MobileNetV2.embed(_:count:into:maps:)` does.
        public func embed(
            _ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>,
            maps: UnsafeMutablePointer<Float>? = nil
        ) {
            net.forward(images: input, count: count, into: output, maps: maps, arena: arena)
        }

        /// Only the maps of `count` images, on the calling thread (no Conv_1, no pooling).
        public func maps(_ input: UnsafePointer<Float>, count: Int, into maps: UnsafeMutablePointer<Float>) {
            net.forward(images: input, count: count, into: nil, maps: maps, arena: arena)
        }
    }

    /// Like `embed` on one thread, also returning the CPU seconds spent in each kind of layer.
    public func embedProfiled(_ input: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>)
        -> LayerProfile
    {
        if arenas.isEmpty { arenas.append(Arena(sizes)) }
        let previousBLASThreads = BLASThreads.current
        BLASThreads.set(1)
        defer { BLASThreads.set(previousBLASThreads) }
        var profile = LayerProfile()
        for i in 0..<count {
            profile.images.append([:])
            forward(
                input + i * inputSize * inputSize * 3, into: output + i * dim, maps: nil, arena: arenas[0],
                profile: &profile)
        }
        return profile
    }

    /// `count` images one after another in one arena, on the calling thread; either output may be nil.
    fileprivate func forward(
        images: UnsafePointer<Float>, count: Int, into output: UnsafeMutablePointer<Float>?,
        maps: UnsafeMutablePointer<Float>?, arena: Arena
    ) {
        let imageFloats = inputSize * inputSize * 3
        let mapFloats = mapShape.count
        for i in 0..<count {
            forward(
                images + i * imageFloats, into: output.map { $0 + i * dim }, maps: maps.map { $0 + i * mapFloats },
                arena: arena,
                profile: nil)
        }
    }

    /// The network, one line per layer. Without `embedding` it stops after copying out the maps.
    fileprivate func forward(
        _ image: UnsafePointer<Float>, into embedding: UnsafeMutablePointer<Float>?,
        maps: UnsafeMutablePointer<Float>?, arena: Arena, profile: UnsafeMutablePointer<LayerProfile>?
    ) {
        var clock = Stopwatch(profile)
        var x = arena.x
        var y = arena.y
        blocks[0].apply(image, x, arena: arena, clock: &clock)  // Conv1 ... expanded_conv
        for block in blocks.dropFirst() {  // block_1 ... block_16
            block.apply(x, y, arena: arena, clock: &clock)
            swap(&x, &y)
        }
        maps?.update(from: x, count: headPixels * head.k)  // block_16_project_BN -> (7, 7, 320)
        guard let embedding else { return }
        head.apply(x, arena.expanded, pixels: headPixels, clamp: .relu6)  // Conv_1, Conv_1_bn, out_relu -> (7, 7, 1280)
        clock.lap(.head)
        globalAveragePool(arena.expanded, pixels: headPixels, channels: dim, into: embedding)  // (1280,)
        clock.lap(.pool)
    }
}

/// Conv1 + bn_Conv1 + Conv1_relu, a direct 3x3 convolution over the image (`conv3x3Channels3`),
/// some output rows at a time.
struct Stem {
    let layer: PointwiseLayer  // (27, Cout): the kernel rows in (ky, kx, ci) order
    let window: Window

    /// Output rows `rows` of the image's stem map (NHWC) into `output`.
    func apply(_ image: UnsafePointer<Float>, rows: Range<Int>, into output: UnsafeMutablePointer<Float>) {
        conv3x3Channels3(
            image, weights: layer.weights.pointer, bias: layer.bias.pointer, output, window: window,
            outChannels: layer.n, clamp: .relu6, rows: rows)
    }
}

/// One inverted residual block (Sandler et al. 2018, Figure 3b).
struct InvertedResidual {
    /// What makes the map the depthwise layer reads, a strip at a time.
    enum Expansion {
        case pointwise(PointwiseLayer)  // block_N_expand(_BN, _relu)
        case stem(Stem)  // block 0: Conv1 over the image
    }

    let expand: Expansion
    let depthwise: AlignedBuffer  // block_N_depthwise(_BN), packed per 8 channels
    let window: Window  // Keras same / correct_pad geometry
    let channels: Int  // expanded channels
    let project: PointwiseLayer  // block_N_project(_BN), linear
    let residual: Bool  // block_N_add

    /// Output rows per strip: the block runs expand -> depthwise -> project one strip at a time, so
    /// each layer reads what the previous one just wrote while it is still in L2, instead of
    /// streaming whole (112, 112, 96) maps through memory. Every row is still computed exactly once.
    let stripRows: Int

    /// The block over one image's `input` map (for block 0, the image itself) into `output`.
    func apply(
        _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, arena: Arena, clock: inout Stopwatch
    ) {
        let g = window
        let cout = project.n
        let rowFloats = g.inWidth * channels
        // The expanded map and the depthwise output only ever hold the current strip (plus the rows
        // the next strip shares with it), at the start of their buffers: the same few hundred KB are
        // reused strip after strip instead of writing whole (112, 112, 96) maps, which with two images
        // in flight pushed the working set out of the shared L3. The kernels address rows absolutely,
        // so they get a base pointer moved back by the strip's first row; they only touch rows inside.
        var bufferedFirst = 0  // input row at the start of arena.expanded
        var expandedRows = 0  // input rows expanded so far
        var oy = 0
        while oy < g.outHeight {
            let end = min(g.outHeight, oy + stripRows)
            let firstTap = max(0, oy * g.stride - g.padTop)  // first input row read
            let needed = min(g.inHeight, (end - 1) * g.stride - g.padTop + 3)  // last tap row + 1
            if firstTap > bufferedFirst {
                let kept = max(0, expandedRows - firstTap)  // rows shared with the last strip
                if kept > 0 {
                    arena.expanded.update(
                        from: arena.expanded + (firstTap - bufferedFirst) * rowFloats, count: kept * rowFloats)
                }
                bufferedFirst = firstTap
            }
            // (rows, w, t*cin) in pieces of at most expandPieceFloats, so each GEMM's output is still
            // in L2 when its bias + ReLU6 pass reads it back.
            let pieceRows = max(1, MobileNetV2.expandPieceFloats / rowFloats)
            while needed > expandedRows {
                let rows = min(pieceRows, needed - expandedRows)
                let piece = arena.expanded + (expandedRows - bufferedFirst) * rowFloats
                switch expand {
                case .pointwise(let layer):
                    layer.apply(
                        input + expandedRows * g.inWidth * layer.k, piece, pixels: rows * g.inWidth, clamp: .relu6)
                case .stem(let stem):
                    stem.apply(input, rows: expandedRows..<(expandedRows + rows), into: piece)
                }
                expandedRows += rows
            }
            let source = UnsafePointer(arena.expanded - bufferedFirst * rowFloats)
            if case .stem = expand { clock.lap(.stem) } else { clock.lap(.expand) }
            let stripOutput = arena.depthwise - oy * g.outWidth * channels  // (strip, w', t*cin)
            if g.stride == 1 {
                depthwise3x3Stride1(
                    source, packed: depthwise.pointer, stripOutput, window: g, channels: channels, clamp: .relu6,
                    rows: oy..<end)
            } else {
                depthwise3x3Stride2(
                    source, packed: depthwise.pointer, stripOutput, window: g, channels: channels, clamp: .relu6,
                    rows: oy..<end)
            }
            clock.lap(.depthwise)
            let first = oy * g.outWidth  // (strip, w', cout)
            project.apply(
                arena.depthwise, output + first * cout, pixels: (end - oy) * g.outWidth, clamp: .linear,
                residual: residual ? input + first * cout : nil)
            clock.lap(.project)
            oy = end
        }
    }
}

/// A 1x1 convolution (or the stem as a GEMM over patches) with BatchNorm folded in.
struct PointwiseLayer {
    let weights: AlignedBuffer  // (k, n) row-major: Keras's (1, 1, cin, cout) as is
    let bias: AlignedBuffer
    let k: Int
    let n: Int

    init(_ folded: KerasWeights.Folded, inChannels k: Int, outChannels n: Int) {
        precondition(
            folded.kernel.count == k * n && folded.bias.count == n,
            "PointwiseLayer: kernel \(folded.kernel.count) bias \(folded.bias.count) for \(k) -> \(n)")
        weights = AlignedBuffer(folded.kernel)
        bias = AlignedBuffer(folded.bias)
        self.k = k
        self.n = n
    }

    func apply(
        _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, pixels: Int, clamp: Clamp,
        residual: UnsafePointer<Float>? = nil
    ) {
        pointwise(
            input, weights: weights.pointer, bias: bias.pointer, output, pixels: pixels, inChannels: k, outChannels: n,
            clamp: clamp, residual: residual)
    }
}

/// Float counts of the per-thread scratch buffers, the maxima over all layers.
struct ArenaSizes {
    var activations: Int
    var expanded: Int
    var depthwise: Int
}

/// One thread's preallocated, 64-byte aligned buffers: nothing is allocated per image.
final class Arena: @unchecked Sendable {
    let buffers: [AlignedBuffer]
    var x: UnsafeMutablePointer<Float> { buffers[0].pointer }
    var y: UnsafeMutablePointer<Float> { buffers[1].pointer }
    var expanded: UnsafeMutablePointer<Float> { buffers[2].pointer }
    var depthwise: UnsafeMutablePointer<Float> { buffers[3].pointer }

    init(_ s: ArenaSizes) {
        buffers = [s.activations, s.activations, s.expanded, s.depthwise].map { AlignedBuffer(count: $0) }
    }
}

/// Pointers handed to the worker threads; each worker touches disjoint images.
private struct UnsafeIO: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>?
    let maps: UnsafeMutablePointer<Float>?
}

/// The kinds of layer the benchmark reports time for.
public enum LayerKind: String, CaseIterable, Sendable {
    case stem, expand, depthwise, project, head, pool
}

/// CPU seconds per layer kind for each image profiled.
public struct LayerProfile: Sendable {
    public var images: [[LayerKind: Double]] = []
    public init() {}
    /// The image with the smallest total: on a shared machine the least disturbed, the best estimate
    /// of what the code costs.
    public var fastest: [LayerKind: Double] { images.min { $0.values.reduce(0, +) < $1.values.reduce(0, +) } ?? [:] }
}

/// Attributes this thread's CPU time to layer kinds; free when no profile is being collected.
/// CPU time, not wall time, so the table stays meaningful on a machine shared with other work.
struct Stopwatch {
    private let profile: UnsafeMutablePointer<LayerProfile>?
    private var last: Double

    init(_ profile: UnsafeMutablePointer<LayerProfile>?) {
        self.profile = profile
        last = profile == nil ? 0 : threadCPUSeconds()
    }

    @inline(__always) mutating func lap(_ kind: LayerKind) {
        guard let profile else { return }
        let now = threadCPUSeconds()
        profile.pointee.images[profile.pointee.images.count - 1][kind, default: 0] += now - last
        last = now
    }

}

/// CPU seconds the calling thread has run: unlike wall time, not inflated while another tenant
/// holds the core (the layer table and the benchmark's resize timing use it).
public func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
