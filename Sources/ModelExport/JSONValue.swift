import Formats
import Foundation

/// A JSON value whose objects keep their keys in the order written, so exported configs are stable
/// and read like the ones Keras writes.
indirect enum JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .int(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    init(nilLiteral: ()) { self = .null }

    /// Compact JSON text (no spaces), as Python's json.dumps with separators (",", ":") would write.
    var text: String {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): d == d.rounded() && abs(d) < 1e15 ? String(format: "%.1f", d) : "\(d)"
        case .string(let s): JSON.string(s)
        case .array(let items): "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let pairs):
            "{" + pairs.map { JSON.string($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }
}
