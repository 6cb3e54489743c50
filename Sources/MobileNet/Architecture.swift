/// The layer list of `keras.applications.MobileNetV2(include_top=False)` for one width multiplier:
/// names, channel counts and strides, from which the weights' expected shapes follow.
public struct Architecture: Sendable, Equatable {
    /// One inverted residual block: `block_N_expand` (absent in block 0), `_depthwise`, `_project`, `_add`.
    public struct Block: Sendable, Equatable {
        public let prefix: String  // "expanded_conv_" for block 0, else "block_N_"
        public let inChannels: Int
        public let expandedChannels: Int  // t * inChannels; == inChannels when t == 1 (no expand layer)
        public let outChannels: Int
        public let stride: Int
        /// Keras's `if block_id:`: block 0 (t = 1) has no expand layer.
        public var hasExpand: Bool { prefix != "expanded_conv_" }
        /// Keras adds the input back when shapes agree: `in_channels == pointwise_filters and stride == 1`.
        var hasResidual: Bool { inChannels == outChannels && stride == 1 }
    }

    /// MobileNetV2 body (Sandler et al. 2018, Table 2). Layer names follow
    /// keras/src/applications/mobilenet_v2.py, so weight keys map 1:1.
    static let body: [(t: Int, c: Int, n: Int, s: Int)] = [  // expansion, out channels, repeats, first stride
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ]

    /// The widths Keras ships weights for.
    static let alphas: [Double] = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4]

    public let alpha: Double
    let stemChannels: Int  // Conv1
    public let blocks: [Block]  // expanded_conv, block_1 ... block_16
    let lastChannels: Int  // Conv_1: 1280, or more for alpha > 1

    /// Keras's `_make_divisible(v, 8)`: round to the nearest multiple of 8, never more than 10% down.
    static func makeDivisible(_ v: Double, _ divisor: Int = 8) -> Int {
        var result = max(divisor, Int(v + Double(divisor) / 2) / divisor * divisor)
        if Double(result) < 0.9 * v { result += divisor }
        return result
    }

    public init(alpha: Double) {
        self.alpha = alpha
        stemChannels = Architecture.makeDivisible(32 * alpha)
        var blocks: [Block] = []
        var channels = stemChannels
        for (t, c, n, s) in Architecture.body {
            for repeatIndex in 0..<n {
                let id = blocks.count
                let out = Architecture.makeDivisible(Double(Int(Double(c) * alpha)))  // int(filters * alpha)
                blocks.append(
                    Block(
                        prefix: id == 0 ? "expanded_conv_" : "block_\(id)_", inChannels: channels,
                        expandedChannels: t * channels, outChannels: out, stride: repeatIndex == 0 ? s : 1))
                channels = out
            }
        }
        self.blocks = blocks
        lastChannels = alpha > 1 ? Architecture.makeDivisible(1280 * alpha) : 1280
    }

    /// One weight array Keras stores, in Keras's load order (layer by layer; kernel; gamma, beta,
    /// moving_mean, moving_variance).
    public struct Array: Sendable, Equatable {
        public let layer: String
        public let weight: String  // kernel | gamma | beta | moving_mean | moving_variance
        public let shape: [Int]
        public var key: String { "\(layer)/\(weight)" }
    }

    /// The 260 arrays of the backbone: 52 convolutions without bias, each followed by a 4-array BatchNorm.
    public var arrays: [Array] {
        var result: [Array] = []
        func conv(_ name: String, _ shape: [Int], bn: String) {
            result.append(Array(layer: name, weight: "kernel", shape: shape))
            let channels = name.hasSuffix("depthwise") ? shape[2] : shape[3]  // depthwise kernels are (3, 3, C, 1)
            for w in ["gamma", "beta", "moving_mean", "moving_variance"] {
                result.append(Array(layer: bn, weight: w, shape: [channels]))
            }
        }
        conv("Conv1", [3, 3, 3, stemChannels], bn: "bn_Conv1")
        for b in blocks {
            if b.hasExpand {
                conv(b.prefix + "expand", [1, 1, b.inChannels, b.expandedChannels], bn: b.prefix + "expand_BN")
            }
            conv(b.prefix + "depthwise", [3, 3, b.expandedChannels, 1], bn: b.prefix + "depthwise_BN")
            conv(b.prefix + "project", [1, 1, b.expandedChannels, b.outChannels], bn: b.prefix + "project_BN")
        }
        conv("Conv_1", [1, 1, blocks.last!.outChannels, lastChannels], bn: "Conv_1_bn")
        return result
    }

    /// Multiply-accumulates of one forward pass at `size` x `size` (for GFLOP/s figures: FLOPs = 2 x MACs).
    public func multiplyAdds(inputSize size: Int) -> Int {
        var h = (size + 1) / 2
        var macs = h * h * 27 * stemChannels
        for b in blocks {
            if b.hasExpand { macs += h * h * b.inChannels * b.expandedChannels }
            if b.stride == 2 { h = (h + 1) / 2 }
            macs += h * h * 9 * b.expandedChannels + h * h * b.expandedChannels * b.outChannels
        }
        return macs + h * h * blocks.last!.outChannels * lastChannels
    }
}
