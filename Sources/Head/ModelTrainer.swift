import Formats

/// One model kind's forward and backward passes over a batch, for the training loop every kind
/// shares (optimizer, epochs, early stopping, checkpoints, dropout, class weights and l2 live there).
/// Parameters are laid out as the kind's `StoredModel` stores them.
protocol ModelTrainer {
    /// Floats in the parameter vector.
    var parameterCount: Int { get }
    /// Where the Dense kernel W lies in the parameters: what `--l2` penalizes, as Keras's
    /// `kernel_regularizer` on the Dense layer does.
    var denseKernel: Range<Int> { get }
    /// Floats per input row.
    var inputWidth: Int { get }
    /// Width of the Dense layer's input, where dropout applies.
    var dim: Int { get }
    /// Keras's starting point: glorot_uniform W and zero b drawn from `rng` (plus the kind's own layers).
    func initialParameters(using rng: inout SplitMix64) -> [Float]
    /// Logits (rows x classes) of `rows` inputs. `dropout`, when given, multiplies the Dense layer's
    /// input (rows x dim): 0 or 1 / (1 - rate). Keeps what `backward` needs.
    mutating func forward(
        _ x: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
        dropout: UnsafePointer<Float>?, logits: UnsafeMutablePointer<Float>)
    /// dloss/dparameters into `gradient` from dloss/dlogits, for the batch `forward` saw last.
    mutating func backward(
        _ x: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
        dropout: UnsafePointer<Float>?, dlogits: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>)
    /// The stored model these parameters make.
    func model(_ parameters: [Float], classes: [String]) -> StoredModel
}
