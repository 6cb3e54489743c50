import Imaging
import MobileNet
import Store

/// The backbone the extraction runs: each extraction worker gets its own arena and embeds its own
/// images, one at a time, on its own thread.
extension MobileNetV2: Embedder {
    public func makeWorker() -> EmbedWorker {
        let worker = SerialWorker(self)
        return { worker.embed($0, count: $1, into: $2) }
    }

    public var backboneTop: BackboneTop? {
        let (kernel, bias) = conv1
        return BackboneTop(map: mapShape, kernel: kernel, bias: bias)
    }

    public func makeMapWorker() -> MapWorker? {
        let worker = SerialWorker(self)
        return { worker.embed($0, count: $1, into: $2, maps: $3) }
    }
}

/// Loads a MobileNetV2 and the cache key its vectors are stored under.
public enum Backbone {
    /// Hashes the weights file (the key must change when the file does, whatever its name) and loads it.
    /// `preprocessing` is the preparer's identifier (`ImagingPreparer.identifier`).
    public static func load(weights: String, inputSize: Int, preprocessing: String = Preprocessing.identifier) throws
        -> (BackboneKey, MobileNetV2)
    {
        let sha = try SHA256.hexOfFile(weights)
        let net = try MobileNetV2(weightsAt: weights, inputSize: inputSize)
        let name = weights.split(separator: "/").last.map(String.init) ?? weights
        let key = BackboneKey(
            weightsSHA256: sha, alpha: Double(net.alpha), inputSize: net.inputSize,
            preprocessing: preprocessing, dim: net.dim, weightsName: name)
        return (key, net)
    }
}
