import Formats
import Store

/// A vector as the SQL value of its BLOB (Formats' encoding; FormatsTests check it byte for byte).
public func blob(_ v: [Float]) -> SQLValue { .blob(VectorBlob.bytes(v)) }
