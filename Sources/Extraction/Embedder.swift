import Formats
import Store

/// A network that turns preprocessed images into vectors. `MobileNetV2` conforms (see
/// Backbone.swift); tests may use any deterministic function of the input.
public protocol Embedder: Sendable {
    /// Floats per output vector.
    var dim: Int { get }
    /// Side of the square input, in pixels.
    var inputSize: Int { get }
    /// An embedding function for one worker thread, which calls it on that thread alone: it embeds
    /// `count` NHWC inputs of inputSize x inputSize x 3 floats into `count` x `dim` floats, using that
    /// thread only. Must give the same vector for the same input whatever else it was given.
    func makeWorker() -> EmbedWorker
    /// The shape of the feature maps a map worker writes and the layer that turns them into the vectors
    /// (the `backbone_tops` row); nil when this embedder cannot give maps.
    var backboneTop: BackboneTop? { get }
    /// Like `makeWorker`, but the worker also writes each input's maps (count x backboneTop.map.count floats)
    /// into its fourth argument, the same for the same input whatever else it was given; nil without maps.
    func makeMapWorker() -> MapWorker?
}

extension Embedder {
    var backboneTop: BackboneTop? { nil }
    func makeMapWorker() -> MapWorker? { nil }
}

/// See `Embedder.makeWorker`: (inputs, count, outputs).
public typealias EmbedWorker = (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) throws -> Void
/// See `Embedder.makeMapWorker`: (inputs, count, outputs, maps).
public typealias MapWorker = (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)
    throws -> Void

/// Turns the bytes of one file into network inputs. One instance per worker thread.
public protocol ImagePreparer {
    /// Throws the error `prepare` would throw when `prefix` (the first bytes of a file of
    /// `size` bytes) shows the file cannot be an image we decode, so big non-images are never read whole.
    mutating func sniff(_ prefix: [UInt8], size: Int, path: String) throws
    /// Decodes `bytes` and writes one size x size x 3 input per view, consecutively, into `output`;
    /// returns the decoded size (after EXIF orientation).
    mutating func prepare(
        _ bytes: [UInt8], path: String, size: Int, views: [View], into output: UnsafeMutablePointer<Float>
    ) throws -> (width: Int, height: Int)
}

/// An error that knows its `failures.reason` code (empty, unreadable, not_image, truncated, ...).
protocol FailureReason: Error {
    var code: String { get }
}
