import Kernels

extension MobileNetV2 {
    /// The network as Keras defines it, one whole map per layer in plain loops (Kernels' *Reference
    /// oracles, Double sums): readable, slow, and the oracle the strip-tiled `embed` is tested
    /// against. Returns block_16's output (the maps) and the pooled embedding of one preprocessed
    /// (inputSize, inputSize, 3) image.
    static func forwardReference(_ image: [Float], weights: KerasWeights, inputSize size: Int) -> (
        maps: [Float], embedding: [Float]
    ) {
        let arch = weights.architecture
        var window = Window.keras(height: size, width: size, stride: 2)
        let stem = weights.folded("Conv1", batchNorm: "bn_Conv1")
        var x = conv3x3Reference(
            image, weights: stem.kernel, bias: stem.bias, window: window,  // Conv1, bn_Conv1,
            outChannels: arch.stemChannels, clamp: .relu6)  // Conv1_relu -> (112, 112, 32)
        var side = window.outHeight
        for b in arch.blocks {  // expanded_conv ... block_16
            var h = x
            if b.hasExpand {
                let e = weights.folded(b.prefix + "expand", batchNorm: b.prefix + "expand_BN")
                h = pointwiseReference(
                    h, weights: e.kernel, bias: e.bias, pixels: side * side,  // block_N_expand(_BN, _relu)
                    inChannels: b.inChannels, outChannels: b.expandedChannels, clamp: .relu6)
            }
            window = Window.keras(height: side, width: side, stride: b.stride)
            let d = weights.folded(b.prefix + "depthwise", batchNorm: b.prefix + "depthwise_BN")
            h = depthwiseReference(
                h, kernel: d.kernel, bias: d.bias, window: window,  // block_N_depthwise(_BN, _relu)
                channels: b.expandedChannels, clamp: .relu6)
            side = window.outHeight
            let p = weights.folded(b.prefix + "project", batchNorm: b.prefix + "project_BN")
            x = pointwiseReference(
                h, weights: p.kernel, bias: p.bias, pixels: side * side,  // block_N_project(_BN), block_N_add
                inChannels: b.expandedChannels, outChannels: b.outChannels, clamp: .linear,
                residual: b.hasResidual ? x : nil)
        }
        let maps = x  // (7, 7, 320)
        let top = weights.folded("Conv_1", batchNorm: "Conv_1_bn")
        let h = pointwiseReference(
            x, weights: top.kernel, bias: top.bias, pixels: side * side,  // Conv_1, Conv_1_bn, out_relu
            inChannels: arch.blocks.last!.outChannels, outChannels: arch.lastChannels, clamp: .relu6)
        let embedding = (0..<arch.lastChannels).map { c in  // (1280,)
            Float((0..<(side * side)).reduce(0.0) { $0 + Double(h[$1 * arch.lastChannels + c]) } / Double(side * side))
        }
        return (maps, embedding)
    }
}
