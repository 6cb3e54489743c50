import Foundation

@testable import ModelExport

/// A plain-loop evaluator of the ONNX operators tlearn's exported graphs use, written from the operator
/// specs (onnx/docs/Operators.md, opset 13), not from the exporter: the tests hold the exported graph's
/// meaning against tlearn's own forward pass with it, without ONNX Runtime.
struct ONNXReference {
    /// A float tensor (uint8 inputs are held as their float values until a Cast).
    struct Tensor {
        var shape: [Int]
        var data: [Float]
    }

    enum Failure: Error, CustomStringConvertible {
        case unsupported(String)
        var description: String {
            switch self {
            case .unsupported(let s): "ONNXReference: \(s)"
            }
        }
    }

    let model: Onnx_ModelProto

    /// Every tensor the graph computes (and its initializers), by name, for `image` of `shape`.
    func run(image: [Float], shape: [Int]) throws -> [String: Tensor] {
        var t: [String: Tensor] = [model.graph.input[0].name: Tensor(shape: shape, data: image)]
        for i in model.graph.initializer {
            guard i.dataType == Int32(Onnx_TensorProto.DataType.float.rawValue) else {
                throw Failure.unsupported("initializer \(i.name)")
            }
            let values = i.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            t[i.name] = Tensor(shape: i.dims.map(Int.init), data: values)
        }
        for node in model.graph.node {
            let x = try node.input.map { name -> Tensor in
                guard let v = t[name] else { throw Failure.unsupported("\(node.name) reads \(name) before it exists") }
                return v
            }
            var ints: [String: [Int]] = [:]
            for a in node.attribute { ints[a.name] = a.type == .ints ? a.ints.map(Int.init) : [Int(a.i)] }
            t[node.output[0]] = try evaluate(node.opType, x, ints)
        }
        return t
    }

    private func evaluate(_ op: String, _ x: [Tensor], _ a: [String: [Int]]) throws -> Tensor {
        switch op {
        case "Transpose":
            let perm = a["perm"]!
            let s = x[0].shape
            guard perm == [0, 3, 1, 2], s.count == 4 else { throw Failure.unsupported("Transpose \(perm)") }
            var out = [Float](repeating: 0, count: x[0].data.count)
            for n in 0..<s[0] {
                for h in 0..<s[1] {
                    for w in 0..<s[2] {
                        for c in 0..<s[3] {
                            out[((n * s[3] + c) * s[1] + h) * s[2] + w] =
                                x[0].data[((n * s[1] + h) * s[2] + w) * s[3] + c]
                        }
                    }
                }
            }
            return Tensor(shape: [s[0], s[3], s[1], s[2]], data: out)
        case "Cast":
            // To FLOAT (1): the values as they are (uint8 inputs are held as floats); to FLOAT16 (10): rounded
            // to the nearest float16, ties to even, and held as floats again.
            switch a["to"] {
            case [1]: return x[0]
            case [10]: return Tensor(shape: x[0].shape, data: x[0].data.map { Float(Float16($0)) })
            default: throw Failure.unsupported("Cast to \(a["to"]!)")
            }
        case "Div", "Sub", "Add":
            // Same shapes, or a scalar second operand (all the broadcasting these graphs need).
            let b = x[1]
            guard b.data.count == 1 || b.shape == x[0].shape else {
                throw Failure.unsupported("\(op) of \(x[0].shape) and \(b.shape)")
            }
            let data = x[0].data.indices.map { i -> Float in
                let r = b.data.count == 1 ? b.data[0] : b.data[i]
                return op == "Div" ? x[0].data[i] / r : op == "Sub" ? x[0].data[i] - r : x[0].data[i] + r
            }
            return Tensor(shape: x[0].shape, data: data)
        case "Clip":
            let lo = x[1].data[0]
            let hi = x[2].data[0]
            return Tensor(shape: x[0].shape, data: x[0].data.map { min(max($0, lo), hi) })
        case "Conv":
            return conv(
                x[0], x[1], x[2], strides: a["strides"]!, pads: a["pads"]!, group: a["group"]?[0] ?? 1,
                dilations: a["dilations"] ?? [1, 1])
        case "GlobalAveragePool":
            let s = x[0].shape
            let pixels = s[2] * s[3]
            var out = [Float](repeating: 0, count: s[0] * s[1])
            for i in out.indices {
                var sum = 0.0
                for p in 0..<pixels { sum += Double(x[0].data[i * pixels + p]) }
                out[i] = Float(sum / Double(pixels))
            }
            return Tensor(shape: [s[0], s[1], 1, 1], data: out)
        case "Flatten":
            guard a["axis"] == [1] else { throw Failure.unsupported("Flatten axis \(a["axis"]!)") }
            return Tensor(shape: [x[0].shape[0], x[0].shape.dropFirst().reduce(1, *)], data: x[0].data)
        case "Gemm":
            guard (a["transA"] ?? [0]) == [0], (a["transB"] ?? [0]) == [0] else {
                throw Failure.unsupported("Gemm transposed")
            }
            let n = x[0].shape[0]
            let k = x[0].shape[1]
            let m = x[1].shape[1]
            var out = [Float](repeating: 0, count: n * m)
            for i in 0..<n {
                for j in 0..<m {
                    var sum = Double(x[2].data[j])
                    for p in 0..<k { sum += Double(x[0].data[i * k + p]) * Double(x[1].data[p * m + j]) }
                    out[i * m + j] = Float(sum)
                }
            }
            return Tensor(shape: [n, m], data: out)
        case "Softmax":
            guard a["axis"] == [1] || a["axis"] == [-1], x[0].shape.count == 2 else {
                throw Failure.unsupported("Softmax")
            }
            let m = x[0].shape[1]
            var out = x[0].data
            for r in 0..<x[0].shape[0] {
                let row = x[0].data[(r * m)..<((r + 1) * m)].map(Double.init)
                let top = row.max()!
                let e = row.map { exp($0 - top) }
                let s = e.reduce(0, +)
                for j in 0..<m { out[r * m + j] = Float(e[j] / s) }
            }
            return Tensor(shape: x[0].shape, data: out)
        default:
            throw Failure.unsupported(op)
        }
    }

    /// NCHW convolution with pads [top, left, bottom, right], weights (M, C / group, kh, kw), bias (M).
    private func conv(_ x: Tensor, _ w: Tensor, _ b: Tensor, strides: [Int], pads: [Int], group: Int, dilations: [Int])
        -> Tensor
    {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (m, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        precondition(c == cg * group && dilations == [1, 1], "conv: channels \(c), \(cg) per group x \(group)")
        let oh = (h + pads[0] + pads[2] - kh) / strides[0] + 1
        let ow = (wd + pads[1] + pads[3] - kw) / strides[1] + 1
        let perGroupOut = m / group
        var out = [Float](repeating: 0, count: n * m * oh * ow)
        for img in 0..<n {
            for o in 0..<m {
                let g = o / perGroupOut
                for y in 0..<oh {
                    for xx in 0..<ow {
                        var sum = Double(b.data[o])
                        for ci in 0..<cg {
                            for ky in 0..<kh {
                                for kx in 0..<kw {
                                    let iy = y * strides[0] - pads[0] + ky
                                    let ix = xx * strides[1] - pads[1] + kx
                                    guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                                    let input = x.data[((img * c + g * cg + ci) * h + iy) * wd + ix]
                                    sum += Double(input) * Double(w.data[((o * cg + ci) * kh + ky) * kw + kx])
                                }
                            }
                        }
                        out[((img * m + o) * oh + y) * ow + xx] = Float(sum)
                    }
                }
            }
        }
        return Tensor(shape: [n, m, oh, ow], data: out)
    }
}
