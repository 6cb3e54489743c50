import XCTest

@testable import Formats

/// Deterministic numbers for the tests (SplitMix64).
struct Numbers {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) }
    mutating func floats(_ n: Int) -> [Float] { (0..<n).map { _ in float() } }
}

final class StoredModelTests: XCTestCase {
    /// logits = x W + b in Double, written out independently of StoredModel.
    func referenceLogits(_ x: [Float], w: [Float], b: [Float]) -> [Double] {
        let c = b.count
        return (0..<c).map { j in (0..<x.count).reduce(Double(b[j])) { $0 + Double(x[$1]) * Double(w[$1 * c + j]) } }
    }

    func testSoftmaxLogitsAreExactDoubleSumsOfTheStoredParameters() throws {
        var rng = Numbers(state: 1)
        let dim = 37
        let c = 4
        let w = rng.floats(dim * c)
        let b = rng.floats(c)
        let model = try StoredModel(kind: .softmax, classes: ["a", "b", "c", "d"], dim: dim, parameters: w + b)
        for _ in 0..<10 {
            let x = rng.floats(dim).map { max(0, $0) * 6 }
            let z = model.logits(x)
            let ref = referenceLogits(x, w: w, b: b)
            // The same exact products summed in the same order: the same Double, not just close.
            for j in 0..<c { XCTAssertEqual(z[j], ref[j]) }
            let p = model.probabilities(x)
            XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-15)
            XCTAssertEqual(model.predictions(z), [Int32(ref.indices.max { ref[$0] < ref[$1] }!)])
        }
    }

    func testManyRowLogitsEqualOneRowAtATimeBitForBit() throws {
        var rng = Numbers(state: 7)
        // Class counts below, at and around the 16 classes summed together; rows around the block of 8 and
        // its groups of 4 (one, two and three left over).
        for c in [2, 5, 16, 17, 37] {
            let dim = 45
            let w = rng.floats(dim * c)
            let b = rng.floats(c)
            let model = try StoredModel(
                kind: .softmax, classes: (0..<c).map { "c\($0)" }, dim: dim, parameters: w + b)
            for rows in [1, 2, 3, 6, 7, 8, 9, 10, 20] {
                // ReLU6-like inputs: about half exact zeros, which both paths skip.
                let x = rng.floats(rows * dim).map { max(0, $0) * 6 }
                let many = x.withUnsafeBufferPointer { model.logits($0.baseAddress!, count: rows) }
                for r in 0..<rows {
                    let one = model.logits(Array(x[(r * dim)..<((r + 1) * dim)]))
                    XCTAssertEqual(
                        Array(many[(r * c)..<((r + 1) * c)]).map(\.bitPattern), one.map(\.bitPattern),
                        "\(c) classes, row \(r) of \(rows)")
                }
            }
        }
    }

    func testTiesGoToTheFirstClass() throws {
        // Two identical columns: equal logits, and the prediction is the lower index (numpy.argmax).
        let model = try StoredModel(
            kind: .softmax, classes: ["x", "y", "z"], dim: 2, parameters: [0, 1, 1, 0, 1, 1, 0, 0, 0])
        XCTAssertEqual(model.predictions(model.logits([2, 3])), [1])
        XCTAssertEqual(argmax([1, 5, 5, 2][...]), 1)
        XCTAssertEqual(model.top(3, of: model.probabilities([2, 3])[...]).map(\.class), ["y", "z", "x"])
    }

    func testBlobRoundTripsAndWrongShapesAreOneLineErrors() throws {
        let model = try StoredModel(kind: .softmax, classes: ["a", "b"], dim: 3, parameters: [1, 2, 3, 4, 5, 6, 7, 8])
        let again = try model.blob.withUnsafeBytes { raw throws(FormatError) in
            try StoredModel(kind: .softmax, classes: ["a", "b"], dim: 3, blob: raw)
        }
        XCTAssertEqual(again, model)
        func error(_ body: () throws -> Void) -> String {
            do {
                try body()
                return ""
            } catch { return "\(error)" }
        }
        XCTAssertEqual(
            error {
                _ = try [UInt8](repeating: 0, count: 28).withUnsafeBytes { raw throws(FormatError) in
                    try StoredModel(kind: .softmax, classes: ["a", "b"], dim: 3, blob: raw)
                }
            },
            "the head BLOB is 28 bytes; a softmax model of dim 3 and 2 classes needs 32")
        XCTAssertEqual(
            error { _ = try StoredModel(kind: .knn, classes: ["a"], dim: 3, parameters: []) },
            "a knn baseline stores no parameters: it cannot predict from a vector")
        XCTAssertEqual(
            error { _ = try StoredModel(kind: .softmax, classes: [], dim: 3, parameters: []) },
            "the class list is empty")
        XCTAssertEqual(
            error { _ = try StoredModel(kind: .finetune, classes: ["a"], dim: 3, parameters: []) },
            "a finetune model needs the shape of its maps")
        XCTAssertEqual(
            error {
                _ = try StoredModel(
                    kind: .softmax, classes: ["a"], dim: 3, map: MapShape(height: 1, width: 1, channels: 2),
                    parameters: [])
            },
            "a softmax model reads vectors, not maps")
        XCTAssertEqual(
            error {
                _ = try StoredModel(
                    kind: .finetune, classes: ["a"], dim: 3, map: MapShape(height: 0, width: 7, channels: 2),
                    parameters: [])
            },
            "maps of shape [0, 7, 2] are not a feature map")
    }

    /// A finetune model: Conv_1 (1x1, channels -> dim) + bias, ReLU6, global average pooling, Dense,
    /// against the same layers written out in Double.
    func testFinetuneModelIsConvReLU6PoolThenDense() throws {
        var rng = Numbers(state: 9)
        let map = MapShape(height: 3, width: 2, channels: 5)
        let dim = 8
        let c = 3
        let kernel = rng.floats(map.channels * dim).map { $0 * 2 }
        let convBias = rng.floats(dim)
        let w = rng.floats(dim * c)
        let b = rng.floats(c)
        let model = try StoredModel(
            kind: .finetune, classes: ["a", "b", "c"], dim: dim, map: map, parameters: kernel + convBias + w + b)
        XCTAssertEqual(model.inputCount, 30)
        XCTAssertEqual(Array(model.top!.bias), convBias)
        XCTAssertEqual(Array(model.dense.weights), w)
        let x = rng.floats(map.count).map { $0 * 4 }
        var pooled = [Double](repeating: 0, count: dim)
        for p in 0..<map.pixels {
            for o in 0..<dim {
                var s = Double(convBias[o])
                for i in 0..<map.channels { s += Double(x[p * map.channels + i]) * Double(kernel[i * dim + o]) }
                pooled[o] += min(max(s, 0), 6) / Double(map.pixels)
            }
        }
        let ref = (0..<c).map { j in (0..<dim).reduce(Double(b[j])) { $0 + pooled[$1] * Double(w[$1 * c + j]) } }
        let z = model.logits(x)
        for j in 0..<c { XCTAssertEqual(z[j], ref[j], accuracy: 1e-5, "class \(j)") }
    }
}
