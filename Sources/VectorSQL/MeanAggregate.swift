import CSQLite3
import Formats

/// Running sum of `vec_mean`, in Double so the mean of thousands of vectors keeps full float32 precision.
final class MeanAccumulator {
    var sum: [Double] = []
    var count = 0
}

/// The aggregate context holds one pointer to a retained MeanAccumulator.
private func accumulator(_ context: OpaquePointer, create: Bool) -> MeanAccumulator? {
    let size = Int32(MemoryLayout<UnsafeMutableRawPointer?>.size)
    guard
        let slot = sqlite3_aggregate_context(context, create ? size : 0)?.assumingMemoryBound(
            to: UnsafeMutableRawPointer?.self)
    else {
        return nil
    }
    if let p = slot.pointee { return Unmanaged<MeanAccumulator>.fromOpaque(p).takeUnretainedValue() }
    guard create else { return nil }
    let acc = MeanAccumulator()
    slot.pointee = Unmanaged.passRetained(acc).toOpaque()
    return acc
}

private let meanStep: @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void = {
    context, argc, argv in
    guard let context else { return }
    let args = SQLArguments(values: argv, count: Int(argc), function: "vec_mean")
    do {
        guard let v = try args.vector(0) else { return }  // NULLs are skipped, as avg() does
        guard let acc = accumulator(context, create: true) else {
            sqlite3_result_error_nomem(context)
            return
        }
        if acc.count == 0 {
            acc.sum = [Double](repeating: 0, count: v.count)
        } else if v.count != acc.sum.count {
            throw SQLFunctionError("vectors have different sizes: \(acc.sum.count) and \(v.count) floats")
        }
        for i in 0..<v.count { acc.sum[i] += Double(v[i]) }
        acc.count += 1
    } catch {
        sqlite3_result_error(context, "vec_mean: \(error)", -1)
    }
}

private let meanFinal: @convention(c) (OpaquePointer?) -> Void = { context in
    guard let context else { return }
    let slot = sqlite3_aggregate_context(context, 0)?.assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
    guard let slot, let p = slot.pointee else {
        sqlite3_result_null(context)
        return
    }  // no non-NULL rows
    // xFinal is also the cleanup call after an error, so the accumulator is released here either way.
    let acc = Unmanaged<MeanAccumulator>.fromOpaque(p).takeRetainedValue()
    slot.pointee = nil
    let n = Double(acc.count)
    setResult(.vector(acc.sum.map { Float($0 / n) }), on: context, function: "vec_mean")
}

extension VectorSQL {
    /// `vec_mean(v)`: the element-wise mean of the non-NULL vectors of a group; NULL for none.
    static func registerMean(_ db: OpaquePointer) throws(SQLFunctionError) {
        let rc = sqlite3_create_function_v2(
            db, "vec_mean", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nil, nil, meanStep, meanFinal, nil
        )
        if rc != SQLITE_OK {
            throw SQLFunctionError("cannot register vec_mean: \(String(cString: sqlite3_errstr(rc)))")
        }
    }
}
