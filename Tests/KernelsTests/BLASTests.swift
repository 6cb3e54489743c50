import Foundation
import XCTest

@testable import Kernels

/// OpenBLAS's thread pool as tlearn drives it: stopped at start, restarted by a count above one.
final class BLASTests: XCTestCase {
    /// Threads of this process, from /proc (Linux); nil where there is no /proc.
    static func threadCount() -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task"))?.count
    }

    /// c = a b for n x n matrices of fixed values.
    static func square(_ n: Int) -> [Float] {
        let a = DepthwiseTests.values(n * n, seed: 21)
        let b = DepthwiseTests.values(n * n, seed: 22)
        var c = [Float](repeating: 0, count: n * n)
        c.withUnsafeMutableBufferPointer { gemm(a, b, $0.baseAddress!, m: n, n: n, k: n) }
        return c
    }

    func testStoppedWorkersStayStoppedUntilACountAboveOneAndThenComputeTheSame() {
        let previous = BLASThreads.current
        defer { BLASThreads.set(previous) }
        BLASThreads.stopWorkers()
        XCTAssertEqual(BLASThreads.current, 1)
        let before = Self.threadCount()
        // Setting the count it already has must not start the pool again.
        BLASThreads.set(1)
        let one = Self.square(384)
        if let before, let after = Self.threadCount() {
            XCTAssertLessThanOrEqual(after, before, "set(1) on a stopped pool started threads")
        }
        // A count above one restarts the workers, and a threaded GEMM gives what one thread gave.
        BLASThreads.set(2)
        XCTAssertEqual(BLASThreads.current, 2)
        let two = Self.square(384)
        XCTAssertEqual(one.count, two.count)
        for i in one.indices where !(abs(one[i] - two[i]) <= 1e-4 * max(1, abs(one[i]))) {
            return XCTFail("element \(i): \(two[i]) with two threads, \(one[i]) with one")
        }
    }
}
