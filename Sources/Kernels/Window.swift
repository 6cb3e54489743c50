/// The geometry of a 3x3 convolution over an NHWC map: input size, stride, leading padding, output size.
/// Trailing padding is whatever the output size implies; padded pixels read as zero.
public struct Window: Sendable, Equatable, CustomStringConvertible {
    public let inHeight: Int
    public let inWidth: Int
    public let stride: Int
    public let padTop: Int
    public let padLeft: Int
    public let outHeight: Int
    public let outWidth: Int

    public init(inHeight: Int, inWidth: Int, stride: Int, padTop: Int, padLeft: Int, outHeight: Int, outWidth: Int) {
        precondition(
            inHeight > 0 && inWidth > 0 && outHeight > 0 && outWidth > 0 && stride > 0 && padTop >= 0 && padLeft >= 0,
            "Window: bad geometry in \(inHeight)x\(inWidth) out \(outHeight)x\(outWidth) stride \(stride) pad \(padTop),\(padLeft)"
        )
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.stride = stride
        self.padTop = padTop
        self.padLeft = padLeft
        self.outHeight = outHeight
        self.outWidth = outWidth
    }

    /// Keras's geometry for a 3x3 kernel. Stride 1 is `padding="same"`: one zero pixel all round.
    /// Stride 2 is `ZeroPadding2D(correct_pad(x, 3))` + `valid` (keras/src/applications/imagenet_utils.py):
    /// pad (top 0, bottom 1) on even sizes but (1, 1) on odd ones; the stem's `padding="same"` with
    /// stride 2 gives the same numbers. Either way the output is ceil(n / 2).
    public static func keras(height: Int, width: Int, stride: Int) -> Window {
        precondition(stride == 1 || stride == 2, "Window.keras: stride \(stride) is not 1 or 2")
        if stride == 1 {
            return Window(
                inHeight: height, inWidth: width, stride: 1, padTop: 1, padLeft: 1, outHeight: height, outWidth: width)
        }
        return Window(
            inHeight: height, inWidth: width, stride: 2, padTop: height % 2, padLeft: width % 2,
            outHeight: (height + 1) / 2, outWidth: (width + 1) / 2)
    }

    public var description: String {
        "in \(inHeight)x\(inWidth) stride \(stride) pad top \(padTop) left \(padLeft) out \(outHeight)x\(outWidth)"
    }
}
