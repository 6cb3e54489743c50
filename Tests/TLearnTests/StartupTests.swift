import Foundation
import XCTest

/// What every tlearn process pays before its command runs.
final class StartupTests: XCTestCase {
    /// libhdf5 and the thirty-odd libraries it needs are opened only by a command that reads an .h5
    /// file (CHDF5's dlopen), so `train-head`, `query` or `runs` do not load them at start.
    func testTheBinaryDoesNotLinkLibhdf5() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ldd") else { throw XCTSkip("no /usr/bin/ldd") }
        let r = try runProcess("/usr/bin/ldd", [try tlearnBinary()])
        XCTAssertEqual(r.status, 0, r.stderr)
        // The listing is real: the libraries tlearn does link are in it.
        XCTAssertTrue(r.stdout.contains("libsqlite3"), r.stdout)
        XCTAssertTrue(r.stdout.contains("libopenblas"), r.stdout)
        XCTAssertFalse(r.stdout.contains("hdf5"), r.stdout)
        XCTAssertFalse(r.stdout.contains("libcurl"), r.stdout)
    }
}
