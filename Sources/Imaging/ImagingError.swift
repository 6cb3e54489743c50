/// Why an image file could not be turned into a tensor. `code` is the stable reason code
/// stored in the `failures` table.
public enum ImagingError: Error, CustomStringConvertible, Equatable {
    case empty(path: String)
    case unreadable(path: String, reason: String)
    case notImage(path: String, firstBytes: [UInt8])
    case truncated(path: String, reason: String)
    case corrupt(path: String, reason: String)
    case unsupported(path: String, reason: String)

    /// A short machine-readable reason code.
    public var code: String {
        switch self {
        case .empty: "empty"
        case .unreadable: "unreadable"
        case .notImage: "not_image"
        case .truncated: "truncated"
        case .corrupt: "corrupt"
        case .unsupported: "unsupported"
        }
    }

    public var description: String {
        switch self {
        case .empty(let path): "cannot decode \(path): the file is empty"
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .notImage(let path, let bytes):
            "cannot decode \(path): not a JPEG or PNG file: starts with "
                + bytes.prefix(4).map { "0x" + String($0, radix: 16, uppercase: true) }.joined(separator: " ")
        case .truncated(let path, let reason): "cannot decode \(path): truncated: \(reason)"
        case .corrupt(let path, let reason): "cannot decode \(path): \(reason)"
        case .unsupported(let path, let reason): "cannot decode \(path): unsupported: \(reason)"
        }
    }
}
