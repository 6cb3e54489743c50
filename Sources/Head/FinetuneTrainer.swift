import Dispatch
import Formats
import Kernels

/// The finetune kind: the backbone's last convolution, Conv_1 (1x1, map channels -> dim, BatchNorm
/// folded, starting from the backbone's own weights), then ReLU6, global average pooling, dropout
/// and a Dense(n) head, trained on block_16's cached maps. Parameters as `StoredModel` stores them:
/// Conv_1 kernel (channels x dim), its bias (dim), then W (dim x classes) and b.
///
/// The batch is cut into chunks of `chunkRows` rows, which threads take in parallel; each chunk's
/// share of the Conv_1 gradient is summed in chunk order, so the result does not depend on the
/// thread count (a sweep's single-threaded jobs and a two-thread train-head give the same bits).
struct FinetuneTrainer: ModelTrainer {
    let map: MapShape
    let dim: Int
    let classes: Int
    /// The backbone's folded Conv_1: kernel (channels x dim) then bias (dim).
    let initialTop: [Float]
    let threads: Int
    static let chunkRows = 8

    /// Conv_1 + ReLU6 outputs of the last batch: (rows * pixels) x dim.
    private let activations: AlignedBuffer
    /// The Dense layer's input of the last batch (pooled, then dropped out): rows x dim.
    private let pooled: AlignedBuffer
    /// dloss/dpooled: rows x dim.
    private let dPooled: AlignedBuffer
    /// Each chunk's Conv_1 gradient (kernel then bias), summed in order into the gradient.
    private let partials: AlignedBuffer
    /// One dloss/d(Conv_1 output) workspace per thread: (chunkRows * pixels) x dim.
    private let workspaces: [AlignedBuffer]

    init(map: MapShape, dim: Int, classes: Int, top: [Float], batch: Int, threads: Int) {
        precondition(
            top.count == map.channels * dim + dim,
            "FinetuneTrainer: top of \(top.count) floats for \(map) maps and dim \(dim)")
        self.map = map
        self.dim = dim
        self.classes = classes
        initialTop = top
        self.threads = max(1, threads)
        let chunks = (batch + Self.chunkRows - 1) / Self.chunkRows
        activations = AlignedBuffer(count: batch * map.pixels * dim)
        pooled = AlignedBuffer(count: batch * dim)
        dPooled = AlignedBuffer(count: batch * dim)
        partials = AlignedBuffer(count: chunks * (map.channels * dim + dim))
        workspaces = (0..<min(self.threads, chunks)).map { _ in AlignedBuffer(count: Self.chunkRows * map.pixels * dim)
        }
    }

    var topCount: Int { map.channels * dim + dim }
    var parameterCount: Int { topCount + dim * classes + classes }
    var denseKernel: Range<Int> { topCount..<(topCount + dim * classes) }
    var inputWidth: Int { map.count }

    func initialParameters(using rng: inout SplitMix64) -> [Float] {
        initialTop + glorotUniform(fanIn: dim, fanOut: classes, using: &rng) + [Float](repeating: 0, count: classes)
    }

    /// Runs `body(chunk, rows in it, worker)` for every chunk of a `rows`-row batch, `threads` at a time.
    private func forEachChunk(rows: Int, _ body: @Sendable (Int, Range<Int>, Int) -> Void) {
        let chunks = (rows + Self.chunkRows - 1) / Self.chunkRows
        let workers = min(threads, chunks)
        if workers <= 1 {
            for c in 0..<chunks { body(c, (c * Self.chunkRows)..<min(rows, (c + 1) * Self.chunkRows), 0) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for c in stride(from: w, to: chunks, by: workers) {
                body(c, (c * Self.chunkRows)..<min(rows, (c + 1) * Self.chunkRows), w)
            }
        }
    }

    mutating func forward(
        _ x: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
        dropout: UnsafePointer<Float>?, logits z: UnsafeMutablePointer<Float>
    ) {
        let p = map.pixels
        let cin = map.channels
        let d = dim
        let act = activations
        let pool = pooled
        let input = UncheckedConst(x)
        let weights = UncheckedConst(parameters)
        forEachChunk(rows: rows) { _, range, _ in
            let first = range.lowerBound * p
            // Conv_1 + Conv_1_bn + ReLU6 over the chunk's pixels, then each row's pooling: the backbone's own kernels.
            pointwise(
                input.pointer + first * cin, weights: weights.pointer, bias: weights.pointer + cin * d,
                act.pointer + first * d,
                pixels: range.count * p, inChannels: cin, outChannels: d, clamp: .relu6)
            for r in range {
                globalAveragePool(act.pointer + r * p * d, pixels: p, channels: d, into: pool.pointer + r * d)
            }
        }
        if let dropout { for i in 0..<(rows * d) { pool.pointer[i] *= dropout[i] } }
        let w = parameters + topCount
        gemm(pool.pointer, w, z, m: rows, n: classes, k: d)
        let b = w + d * classes
        for r in 0..<rows {
            for j in 0..<classes { z[r * classes + j] += b[j] }
        }
    }

    mutating func backward(
        _ x: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
        dropout: UnsafePointer<Float>?, dlogits g: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>
    ) {
        let p = map.pixels
        let cin = map.channels
        let d = dim
        let top = topCount
        let w = parameters + top
        // Dense: dW = pooled^T G, db = column sums of G; dloss/dpooled = G W^T (times the dropout mask).
        gemm(pooled.pointer, g, gradient + top, m: d, n: classes, k: rows, transA: true)
        let db = gradient + top + d * classes
        for j in 0..<classes { db[j] = 0 }
        for r in 0..<rows {
            for j in 0..<classes { db[j] += g[r * classes + j] }
        }
        let dp = dPooled
        gemm(g, w, dp.pointer, m: rows, n: d, k: classes, transB: true)
        // Pooling spreads each value's gradient evenly over the pixels (TensorFlow's MeanGrad divides).
        let pixels = Float(p)
        if let dropout {
            for i in 0..<(rows * d) { dp.pointer[i] = dp.pointer[i] * dropout[i] / pixels }
        } else {
            for i in 0..<(rows * d) { dp.pointer[i] /= pixels }
        }
        // Conv_1: dH = dpooled on the pixels where ReLU6 passed the gradient (0 < h < 6, as TF's
        // Relu6Grad), then each chunk's kernel and bias gradients.
        let act = activations
        let part = partials
        let spaces = workspaces
        let input = UncheckedConst(x)
        forEachChunk(rows: rows) { c, range, worker in
            let dh = spaces[worker].pointer
            for (k, r) in range.enumerated() {
                let src = dp.pointer + r * d
                for q in 0..<p {
                    let h = act.pointer + (r * p + q) * d
                    let out = dh + (k * p + q) * d
                    for j in 0..<d { out[j] = h[j] > 0 && h[j] < 6 ? src[j] : 0 }
                }
            }
            let n = range.count * p
            let kernel = part.pointer + c * top
            gemm(input.pointer + range.lowerBound * p * cin, dh, kernel, m: cin, n: d, k: n, transA: true)
            let bias = kernel + cin * d
            for j in 0..<d { bias[j] = 0 }
            for i in 0..<n {
                let row = dh + i * d
                for j in 0..<d { bias[j] += row[j] }
            }
        }
        let chunks = (rows + Self.chunkRows - 1) / Self.chunkRows
        for i in 0..<top { gradient[i] = part.pointer[i] }
        for c in 1..<max(chunks, 1) {
            let src = part.pointer + c * top
            for i in 0..<top { gradient[i] += src[i] }
        }
    }

    func model(_ parameters: [Float], classes names: [String]) -> StoredModel {
        // The shapes are this trainer's own, so they always fit.
        try! StoredModel(kind: .finetune, classes: names, dim: dim, map: map, parameters: parameters)
    }
}

/// A pointer handed to worker threads that only read.
struct UncheckedConst: @unchecked Sendable {
    let pointer: UnsafePointer<Float>
    init(_ p: UnsafePointer<Float>) { pointer = p }
}
