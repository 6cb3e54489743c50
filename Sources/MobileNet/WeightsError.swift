import HDF5

/// Why a weights file could not be loaded.
public enum WeightsError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case notHDF5(file: String)
    case missing(layer: String, file: String)
    case shape(layer: String, file: String, expected: [Int], found: [Int])
    case invalid(file: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): "cannot read weights \(file): \(reason)"
        case .notHDF5(let file): "cannot load weights \(file): not an HDF5 file (expected a Keras .h5)"
        case .missing(let layer, let file): "no weights for \(layer) in \(file)"
        case .shape(let layer, let file, let e, let f):
            "weights for \(layer) in \(file): expected shape \(e), found \(f)"
        case .invalid(let file, let reason): "cannot load weights \(file): \(reason)"
        }
    }
}

extension WeightsError {
    /// The same failure of the HDF5 layer, said about a weights file.
    init(_ error: HDF5Error) {
        switch error {
        case .unreadable(let file, let reason): self = .unreadable(file: file, reason: reason)
        case .notHDF5(let file): self = .notHDF5(file: file)
        case .invalid(let file, let reason): self = .invalid(file: file, reason: reason)
        }
    }
}
