import COpenBLAS

/// A LAPACK routine that reported failure (`info` != 0).
struct LAPACKError: Error, CustomStringConvertible {
    let routine: String
    public let info: Int
    public var description: String {
        info < 0
            ? "LAPACK \(routine): argument \(-info) is invalid"
            : "LAPACK \(routine) did not converge (info \(info))"
    }
}

/// The `count` largest eigenvalues of the symmetric `n` x `n` matrix `a` (row- or column-major
/// alike; the upper triangle is read), largest first, with unit eigenvectors (`vectors[i]` goes
/// with `values[i]`). LAPACK `dsyevr` (MRRR) with RANGE = 'I' computes only those: the whole
/// tridiagonal reduction still runs, but no other eigenvector is formed. The only LAPACK caller.
func largestEigenpairs(of a: [Double], n: Int, count: Int) throws -> (values: [Double], vectors: [[Double]]) {
    precondition(a.count == n * n, "largestEigenpairs: \(a.count) values for a \(n) x \(n) matrix")
    precondition(count >= 1 && count <= n, "largestEigenpairs: count \(count) for a \(n) x \(n) matrix")
    var matrix = a  // dsyevr overwrites its input
    var nn = blasint(n)
    var lda = blasint(n)
    var ldz = blasint(n)
    var il = blasint(n - count + 1)
    var iu = blasint(n)
    var vl = 0.0
    var vu = 0.0
    var abstol = 0.0  // abstol 0: LAPACK's own safe tolerance
    var found: blasint = 0
    var info: blasint = 0
    var w = [Double](repeating: 0, count: n)
    var z = [Double](repeating: 0, count: n * count)
    var support = [blasint](repeating: 0, count: 2 * count)
    func call(
        _ work: UnsafeMutablePointer<Double>, _ lwork: blasint, _ iwork: UnsafeMutablePointer<blasint>,
        _ liwork: blasint
    ) {
        var lw = lwork
        var liw = liwork
        dsyevr_(
            "V", "I", "U", &nn, &matrix, &lda, &vl, &vu, &il, &iu, &abstol, &found, &w, &z, &ldz, &support,
            work, &lw, iwork, &liw, &info, 1, 1, 1)
    }
    // Workspace query first (lwork = liwork = -1), as LAPACK asks.
    var workSize = 0.0
    var iworkSize: blasint = 0
    call(&workSize, -1, &iworkSize, -1)
    guard info == 0 else { throw LAPACKError(routine: "dsyevr", info: Int(info)) }
    var work = [Double](repeating: 0, count: max(1, Int(workSize)))
    var iwork = [blasint](repeating: 0, count: max(1, Int(iworkSize)))
    work.withUnsafeMutableBufferPointer { wb in
        iwork.withUnsafeMutableBufferPointer { ib in
            call(wb.baseAddress!, blasint(wb.count), ib.baseAddress!, blasint(ib.count))
        }
    }
    guard info == 0 else { throw LAPACKError(routine: "dsyevr", info: Int(info)) }
    guard Int(found) == count else { throw LAPACKError(routine: "dsyevr", info: -999) }
    // LAPACK returns them ascending, eigenvector j in column j of z (column-major, ldz = n).
    let order = (0..<count).reversed()
    return (order.map { w[$0] }, order.map { j in Array(z[(j * n)..<((j + 1) * n)]) })
}
