import CSQLite3
import Store

/// Registers tlearn's vector SQL functions (vec_*, head_*) on a connection.
public enum VectorSQL {
    /// Adds every function to `db`; tlearn calls this on each connection it opens.
    public static func register(on db: OpaquePointer) throws {}
}
