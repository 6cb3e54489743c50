/// Why an extraction (or one of its files) could not go on.
enum ExtractionError: Error, CustomStringConvertible, Equatable, FailureReason {
    /// A file that could not be read; becomes a failure row.
    case unreadable(path: String, reason: String)
    /// A zero-byte file; becomes a failure row.
    case empty(path: String)
    /// Larger than any photo (a disk image named .jpg): refused before reading it whole.
    case tooLarge(path: String, bytes: Int, limit: Int)
    /// The dataset folder or manifest is unusable; stops the run before any work.
    case badInput(String)
    /// A manifest line that cannot be used; stops the run before any work.
    case manifest(file: String, line: Int, reason: String)
    /// A map value float16 cannot hold: stops the run (the weights, not the file, make such values).
    case mapRange(path: String, view: String, value: Float)

    public var code: String {
        switch self {
        case .unreadable: "unreadable"
        case .empty: "empty"
        case .tooLarge: "unsupported"
        case .badInput, .manifest, .mapRange: "invalid"
        }
    }

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .empty(let path): "cannot decode \(path): the file is empty"
        case .tooLarge(let path, let bytes, let limit):
            "cannot decode \(path): unsupported: file is \(bytes) bytes, more than the limit of \(limit)"
        case .badInput(let message): message
        case .manifest(let file, let line, let reason): "\(file):\(line): \(reason)"
        case .mapRange(let path, let view, let value):
            "cannot store the \(view) maps of \(path): block_16's output holds \(value), beyond float16's range (+-65504); "
                + "maps of these weights cannot be cached as float16: extract without --maps"
        }
    }
}
