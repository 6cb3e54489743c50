import COpenBLAS

#if canImport(Glibc)
    import Glibc
#endif

/// Row-major single-precision GEMM, the only `cblas_*` caller:
/// c (m x n) = alpha * a (m x k) · b (k x n) + beta * c, with optional transposes.
@inline(__always)
public func gemm(
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
    alpha: Float = 1, beta: Float = 0, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=\(m) n=\(n) k=\(k)")
    if m == 0 || n == 0 { return }
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        blasint(m), blasint(n), blasint(k), alpha,
        a, blasint(lda ?? (transA ? m : k)), b, blasint(ldb ?? (transB ? k : n)),
        beta, c, blasint(ldc ?? n))
}

/// Row-major matrix-vector product: y (m) = alpha * a (m x n) · x (n) + beta * y.
@inline(__always)
public func gemv(
    _ a: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    m: Int, n: Int, alpha: Float = 1, beta: Float = 0
) {
    if m == 0 { return }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(m), blasint(n), alpha, a, blasint(n), x, 1, beta, y, 1)
}

/// OpenBLAS's thread count: 1 when the caller parallelises across images itself.
public enum BLASThreads {
    /// Sets the count; a no-op when it is already `n`, since setting it restarts a stopped pool.
    public static func set(_ n: Int) { if n != current { openblas_set_num_threads(Int32(n)) } }
    public static var current: Int { Int(openblas_get_num_threads()) }

    /// One thread, and no worker threads until a command sets more. OpenBLAS starts its workers when
    /// it loads, and an idle worker polls (`sched_yield`) for a while before it sleeps: in a short
    /// command that never hands them work, that polling takes a CPU, or the other half of a core, from
    /// the command itself. The next `set` above 1 starts them again.
    public static func stopWorkers() {
        set(1)
        // Looked up, not linked: only OpenBLAS's pthreads build has it (its pre-fork hook, which joins
        // the workers; the next threaded call starts them again).
        if let shutdown = dlsym(nil, "blas_thread_shutdown_") {
            _ = unsafeBitCast(shutdown, to: (@convention(c) () -> Int32).self)()
        }
    }
}
