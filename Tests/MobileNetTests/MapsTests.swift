import Foundation
import XCTest

@testable import Formats
@testable import MobileNet

/// block_16's maps (the input of Conv_1) that `extract --maps` caches: their shape, their independence
/// from the batch and the thread count, and the backbone's own top turning them back into its embedding.
final class MapsTests: XCTestCase {
    static let weights = fixtures.appendingPathComponent("weights/tiny_a035_keras3.h5").path

    /// 32 distinct inputs of `size`: the two golden 65x65 images and mixes of them, or seeded noise.
    func inputs(size: Int, count: Int) throws -> [Float] {
        let n = size * size * 3
        if size == 65 {
            let pair = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_65_inputs.f32"))
            return (0..<(count * n)).map { k in
                let t = Float(k / n) / Float(count)
                return (1 - t) * pair[k % n] + t * pair[n + k % n]
            }
        }
        var state: UInt64 = 7
        return (0..<(count * n)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }

    func run(_ net: MobileNetV2, _ images: [Float], threads: Int, mapsOnly: Bool = false) -> (
        embeddings: [Float], maps: [Float]
    ) {
        net.threads = threads
        let k = images.count / (net.inputSize * net.inputSize * 3)
        var out = [Float](repeating: .nan, count: k * net.dim)
        var maps = [Float](repeating: .nan, count: k * net.mapShape.count)
        images.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                maps.withUnsafeMutableBufferPointer { m in
                    if mapsOnly {
                        net.maps(x.baseAddress!, count: k, into: m.baseAddress!)
                    } else {
                        net.embed(x.baseAddress!, count: k, into: o.baseAddress!, maps: m.baseAddress!)
                    }
                }
            }
        }
        return (mapsOnly ? [] : out, maps)
    }

    func testMapShapeIsTheInputSideOver32RoundedUpBy320TimesAlpha() throws {
        for (size, side) in [(96, 3), (65, 3), (64, 2), (224, 7), (225, 8), (32, 1)] {
            let net = try MobileNetV2(weightsAt: Self.weights, inputSize: size)
            // alpha 0.35: block_16 has _make_divisible(320 * 0.35) = 112 channels.
            XCTAssertEqual(net.mapShape, MapShape(height: side, width: side, channels: 112), "input \(size)")
            XCTAssertEqual(net.conv1.kernel.count, 112 * 1280)
            XCTAssertEqual(net.conv1.bias.count, 1280)
        }
    }

    func testMapsAreBitIdenticalWhateverTheBatchAndThreadsAndTheEmbeddingsUnchanged() throws {
        for size in [65, 96] {
            let net = try MobileNetV2(weightsAt: Self.weights, inputSize: size)
            let n = size * size * 3
            let m = net.mapShape.count
            let dim = net.dim
            let batch = try inputs(size: size, count: 32)
            let reference = run(net, batch, threads: 2)
            XCTAssertFalse(reference.maps.contains { $0.isNaN }, "maps not all written at \(size)")
            XCTAssertTrue(
                reference.maps.contains { $0 != 0 } && reference.maps.contains { $0 < 0 },
                "block_16 is linear: maps have negative values")
            // The maps change nothing in the embeddings.
            var plain = [Float](repeating: .nan, count: 32 * dim)
            batch.withUnsafeBufferPointer { x in
                plain.withUnsafeMutableBufferPointer { net.embed(x.baseAddress!, count: 32, into: $0.baseAddress!) }
            }
            XCTAssertEqual(
                reference.embeddings.map(\.bitPattern), plain.map(\.bitPattern),
                "embeddings with maps differ at \(size)")
            XCTAssertEqual(
                run(net, batch, threads: 1).maps.map(\.bitPattern), reference.maps.map(\.bitPattern),
                "one thread differs from two at \(size)")
            XCTAssertEqual(
                run(net, batch, threads: 2, mapsOnly: true).maps.map(\.bitPattern), reference.maps.map(\.bitPattern),
                "maps alone differ from maps with embeddings at \(size)")
            let seven = run(net, Array(batch[(5 * n)..<(12 * n)]), threads: 3)
            XCTAssertEqual(
                seven.maps.map(\.bitPattern), reference.maps[(5 * m)..<(12 * m)].map(\.bitPattern),
                "a batch of 7 differs at \(size)")
            for i in [0, 17, 31] {
                let alone = run(net, Array(batch[(i * n)..<((i + 1) * n)]), threads: 2)
                XCTAssertEqual(
                    alone.maps.map(\.bitPattern), reference.maps[(i * m)..<((i + 1) * m)].map(\.bitPattern),
                    "image \(i) alone differs at \(size)")
            }
            // A serial worker (extraction's path) gives the same maps.
            let worker = MobileNetV2.SerialWorker(net)
            var out = [Float](repeating: .nan, count: 4 * dim)
            var maps = [Float](repeating: .nan, count: 4 * m)
            batch.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { o in
                    maps.withUnsafeMutableBufferPointer {
                        worker.embed(x.baseAddress! + 10 * n, count: 4, into: o.baseAddress!, maps: $0.baseAddress!)
                    }
                }
            }
            XCTAssertEqual(
                maps.map(\.bitPattern), reference.maps[(10 * m)..<(14 * m)].map(\.bitPattern),
                "serial worker's maps at \(size)")
            XCTAssertEqual(
                out.map(\.bitPattern), reference.embeddings[(10 * dim)..<(14 * dim)].map(\.bitPattern),
                "serial worker's embeddings at \(size)")
        }
    }

    func testTheBackbonesTopTurnsItsMapsIntoItsEmbeddingBitForBit() throws {
        for size in [65, 96] {
            let net = try MobileNetV2(weightsAt: Self.weights, inputSize: size)
            let count = 8
            let result = run(net, try inputs(size: size, count: count), threads: 2)
            let embeddings = try topEmbeddings(net, maps: result.maps)
            XCTAssertEqual(
                embeddings.map(\.bitPattern), result.embeddings.map(\.bitPattern), "top(maps) != embedding at \(size)")
            // Through float16 storage: close, not equal.
            let stored = MapBlob.bytes(result.maps, count: result.maps.count).withUnsafeBytes { MapBlob.floats($0) }
            XCTAssertNotEqual(stored, result.maps)
            let rounded = try topEmbeddings(net, maps: stored)
            for i in 0..<count {
                let a = rounded[(i * net.dim)..<((i + 1) * net.dim)]
                let e = result.embeddings[(i * net.dim)..<((i + 1) * net.dim)]
                XCTAssertGreaterThan(cosine(a, e), 0.9999, "float16 maps, image \(i) at \(size)")
            }
        }
    }

    /// The Keras goldens hold embeddings only; through top(maps) == embedding they check the maps too.
    func testMapsOfTheGoldenInputsGiveKerasEmbeddingsThroughTheTop() throws {
        for size in [65, 96] {
            let net = try MobileNetV2(weightsAt: Self.weights, inputSize: size)
            let inputs = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_\(size)_inputs.f32"))
            let expected = try readF32(fixtures.appendingPathComponent("golden/tiny_a035_\(size)_embeddings.f32"))
            let maps = run(net, inputs, threads: 1, mapsOnly: true).maps
            assertClose(try topEmbeddings(net, maps: maps), expected, "top(maps) vs Keras at \(size)")
        }
    }

    /// Real weights: tlearn's maps against Keras's `block_16_project_BN` output for the 16 reference
    /// inputs, and the embeddings a finetune model with the backbone's own top computes from them.
    func testSharedMapsMatchKerasAndTheirEmbeddingsMatchKerasThroughFloat16() throws {
        let weights = shared.appendingPathComponent("weights/mnv2_no_top_keras3.h5")
        let reference = shared.appendingPathComponent("reference")
        for url in [
            weights, reference.appendingPathComponent("inputs_16.f32"),
            reference.appendingPathComponent("block16_maps_16.f32"),
        ]
        where !FileManager.default.fileExists(atPath: url.path) {
            throw XCTSkip("../shared not found: \(url.path) missing, skipping the real-weights maps parity")
        }
        let net = try MobileNetV2(weightsAt: weights.path)
        XCTAssertEqual(net.mapShape, MapShape(height: 7, width: 7, channels: 320))
        XCTAssertEqual(MapBlob.byteCount(net.mapShape), 31_360)
        let inputs = try readF32(reference.appendingPathComponent("inputs_16.f32"))
        let kerasMaps = try readF32(reference.appendingPathComponent("block16_maps_16.f32"))
        let kerasEmbeddings = try readF32(reference.appendingPathComponent("embeddings_16.f32"))
        XCTAssertEqual(kerasMaps.count, 16 * 7 * 7 * 320)
        let result = run(net, inputs, threads: 2)
        let mapsDiff = maxAbsDiff(result.maps[...], kerasMaps[...])
        let kerasMagnitude = kerasMaps.reduce(0) { max($0, abs($1)) }
        XCTAssertLessThanOrEqual(mapsDiff, 1e-3, "max |tlearn maps - Keras maps|")

        // float32 maps through the backbone's top: tlearn's own embedding, bit for bit.
        XCTAssertEqual(try topEmbeddings(net, maps: result.maps).map(\.bitPattern), result.embeddings.map(\.bitPattern))
        // float16 maps (as stored) through the top: against Keras's embeddings.
        XCTAssertTrue(MapBlob.fits(result.maps, count: result.maps.count))
        let stored = MapBlob.bytes(result.maps, count: result.maps.count).withUnsafeBytes { MapBlob.floats($0) }
        let fromStored = try topEmbeddings(net, maps: stored)
        var worst: Float = 0
        var minCos = 1.0
        for i in 0..<16 {
            let a = fromStored[(i * 1280)..<((i + 1) * 1280)]
            let e = kerasEmbeddings[(i * 1280)..<((i + 1) * 1280)]
            worst = max(worst, maxAbsDiff(a, e))
            minCos = min(minCos, cosine(a, e))
        }
        print(
            "maps parity: max |tlearn maps - Keras| = \(mapsDiff) (Keras's largest |value| \(kerasMagnitude)); "
                + "embeddings from float16 maps vs Keras: max abs \(worst), min cosine \(minCos)")
        XCTAssertGreaterThanOrEqual(minCos, 0.99999, "embeddings from float16 maps: min cosine")
        XCTAssertLessThanOrEqual(worst, 1e-3, "embeddings from float16 maps: max abs")
    }

    /// Embeddings of `maps` through a finetune StoredModel whose top is the backbone's own Conv_1 and whose
    /// Dense layer is the identity (its logits, exact Double sums of x * 1 and x * 0, are the pooled features).
    func topEmbeddings(_ net: MobileNetV2, maps: [Float]) throws -> [Float] {
        let dim = net.dim
        var identity = [Float](repeating: 0, count: dim * dim + dim)
        for i in 0..<dim { identity[i * dim + i] = 1 }
        let model = try StoredModel(
            kind: .finetune, classes: (0..<dim).map { "f\($0)" }, dim: dim, map: net.mapShape,
            parameters: net.conv1.kernel + net.conv1.bias + identity)
        return model.logits(maps).map { Float($0) }
    }
}
