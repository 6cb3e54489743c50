import Kernels

/// MobileNetV2 as its 52 convolutions in network order, each with its BatchNorm folded in exactly as
/// `MobileNetV2` runs it (`KerasWeights.folded`), and with Keras's own arrays and layer names beside it:
/// what an exporter needs to rebuild the network in another runtime (ONNX, Keras).
public struct FoldedNetwork: Sendable {
    public let architecture: Architecture
    /// Input side in pixels; the padding and map sizes below follow from it.
    public let inputSize: Int
    /// Conv1, expanded_conv_depthwise, expanded_conv_project, block_1_expand, ..., block_16_project, Conv_1.
    public let layers: [FoldedConvolution]
    /// Embedding width: Conv_1's output channels.
    public var dim: Int { architecture.lastChannels }

    /// Reads a Keras `.h5` (any layout `MobileNetV2(weightsAt:)` reads) for `inputSize` x `inputSize` inputs.
    public init(weightsAt path: String, inputSize: Int) throws {
        guard (32...MobileNetV2.maxInputSize).contains(inputSize) else {
            throw WeightsError.invalid(
                file: path, reason: "input size \(inputSize) is outside 32...\(MobileNetV2.maxInputSize)")
        }
        self.init(weights: try KerasWeights(path: path), inputSize: inputSize)
    }

    init(weights: KerasWeights, inputSize: Int) {
        let arch = weights.architecture
        architecture = arch
        self.inputSize = inputSize
        var layers: [FoldedConvolution] = []
        var size = inputSize
        /// Appends one convolution reading a `size` x `size` map, and moves `size` to its output.
        func add(
            _ name: String, bn: String, kind: FoldedConvolution.Kind, kernelSize: Int, channels: (Int, Int),
            stride: Int = 1, activation: String?, pad: String? = nil, add: String? = nil, startsBlock: Bool = false
        ) {
            let window =
                kernelSize == 3
                ? Window.keras(height: size, width: size, stride: stride)
                : Window(
                    inHeight: size, inWidth: size, stride: 1, padTop: 0, padLeft: 0, outHeight: size, outWidth: size)
            let trailing = kernelSize == 3 ? (window.outHeight - 1) * stride + 3 - size - window.padTop : 0
            let keras = FoldedConvolution.KerasArrays(
                kernel: weights.arrays["\(name)/kernel"]!, gamma: weights.arrays["\(bn)/gamma"]!,
                beta: weights.arrays["\(bn)/beta"]!, movingMean: weights.arrays["\(bn)/moving_mean"]!,
                movingVariance: weights.arrays["\(bn)/moving_variance"]!)
            let folded = weights.folded(name, batchNorm: bn)
            layers.append(
                FoldedConvolution(
                    names: .init(convolution: name, batchNorm: bn, activation: activation, padding: pad, add: add),
                    kind: kind, kernelSize: kernelSize, inChannels: channels.0, outChannels: channels.1, stride: stride,
                    inputSize: size, outputSize: window.outHeight,
                    padding: .init(top: window.padTop, left: window.padLeft, bottom: trailing, right: trailing),
                    relu6: activation != nil, startsBlock: startsBlock, kernel: folded.kernel, bias: folded.bias,
                    keras: keras))
            size = window.outHeight
        }
        add(
            "Conv1", bn: "bn_Conv1", kind: .full, kernelSize: 3, channels: (3, arch.stemChannels), stride: 2,
            activation: "Conv1_relu")
        for b in arch.blocks {
            let p = b.prefix
            if b.hasExpand {
                add(
                    p + "expand", bn: p + "expand_BN", kind: .full, kernelSize: 1,
                    channels: (b.inChannels, b.expandedChannels),
                    activation: p + "expand_relu", startsBlock: true)
            }
            // Keras pads stride-2 depthwise layers with an explicit ZeroPadding2D (block_N_pad), then "valid".
            add(
                p + "depthwise", bn: p + "depthwise_BN", kind: .depthwise, kernelSize: 3,
                channels: (b.expandedChannels, b.expandedChannels), stride: b.stride, activation: p + "depthwise_relu",
                pad: b.stride == 2 ? p + "pad" : nil, startsBlock: !b.hasExpand)
            add(
                p + "project", bn: p + "project_BN", kind: .full, kernelSize: 1,
                channels: (b.expandedChannels, b.outChannels),
                activation: nil, add: b.hasResidual ? p + "add" : nil)
        }
        add(
            "Conv_1", bn: "Conv_1_bn", kind: .full, kernelSize: 1,
            channels: (arch.blocks.last!.outChannels, arch.lastChannels),
            activation: "out_relu")
        self.layers = layers
    }
}

/// One convolution of `FoldedNetwork` and the Keras layers it stands for
/// (Conv2D or DepthwiseConv2D, BatchNormalization, then ReLU(6), and around it ZeroPadding2D and Add).
public struct FoldedConvolution: Sendable {
    /// A dense convolution (groups 1), or a depthwise one (one group per channel, multiplier 1).
    public enum Kind: Sendable, Equatable { case full, depthwise }

    /// Keras's layer names, from keras/src/applications/mobilenet_v2.py.
    public struct Names: Sendable, Equatable {
        public let convolution: String  // Conv1, block_N_expand, block_N_depthwise, block_N_project, Conv_1
        public let batchNorm: String  // bn_Conv1, block_N_*_BN, Conv_1_bn
        public let activation: String?  // the ReLU(6) layer (Conv1_relu, block_N_*_relu, out_relu); nil: linear
        public let padding: String?  // block_N_pad: a ZeroPadding2D before a stride-2 depthwise layer
        public let add: String?  // block_N_add: this output plus the block's input
    }

    /// Zero pixels around the input, in pixels; stride 2 pads bottom/right only on even sizes
    /// (Keras `correct_pad`, see `Window.keras`).
    public struct Padding: Sendable, Equatable {
        public let top: Int
        public let left: Int
        public let bottom: Int
        public let right: Int
    }

    /// The unfolded arrays as Keras stores them: the kernel, then the BatchNorm's four.
    public struct KerasArrays: Sendable {
        public let kernel: [Float]  // (kh, kw, cin, cout), or (3, 3, C, 1) for depthwise
        public let gamma: [Float]
        public let beta: [Float]
        public let movingMean: [Float]
        public let movingVariance: [Float]

        public init(kernel: [Float], gamma: [Float], beta: [Float], movingMean: [Float], movingVariance: [Float]) {
            self.kernel = kernel
            self.gamma = gamma
            self.beta = beta
            self.movingMean = movingMean
            self.movingVariance = movingVariance
        }
    }

    public let names: Names
    public let kind: Kind
    public let kernelSize: Int  // 3 or 1
    public let inChannels: Int
    public let outChannels: Int
    public let stride: Int
    public let inputSize: Int  // square input map side
    public let outputSize: Int
    public let padding: Padding
    /// ReLU6 after the BatchNorm (`names.activation`); else linear.
    public let relu6: Bool
    /// Its input is the input of an inverted residual block: the tensor a later `names.add` adds back.
    public let startsBlock: Bool
    /// BatchNorm folded in, Keras order: (kh, kw, cin, cout), or (kh, kw, C) for depthwise.
    public let kernel: [Float]
    /// One per output channel.
    public let bias: [Float]
    public let keras: KerasArrays
}
