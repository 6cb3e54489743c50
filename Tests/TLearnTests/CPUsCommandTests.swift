import Foundation
import XCTest

/// The default thread count follows the CPUs the process may use, checked on the real binary
/// under `taskset` and inside a real cgroup with a CPU quota.
final class CPUsCommandTests: XCTestCase {
    /// `extract --verbose`'s thread line on stderr, run through `launcher` (e.g. taskset).
    func threadLine(_ launcher: [String], extra: [String] = []) throws -> String {
        let root = try goodFixtureTree(self)
        let db = try scratchFolder(self) + "/e.sqlite"
        let args =
            [
                "extract", "--images", root, "--db", db, "--weights", tinyWeights, "--input-size", "96", "--quiet",
                "--verbose",
            ] + extra
        let r = try runProcess(launcher[0], Array(launcher.dropFirst()) + [try tlearnBinary()] + args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("extracted 11, "), r.stdout)
        return try XCTUnwrap(
            r.stderr.split(separator: "\n").first { $0.hasPrefix("extract: ") }.map(String.init), r.stderr)
    }

    func onlineCores() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// CPUs in this process's affinity mask, as nproc(1) counts them.
    func allowedCores() throws -> Int {
        let r = try runProcess("/usr/bin/env", ["-u", "OMP_NUM_THREADS", "nproc"])
        return Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    func testTasksetToOneCPUGivesOneWorker() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset") else {
            throw XCTSkip("no /usr/bin/taskset (util-linux)")
        }
        guard onlineCores() >= 2 else { throw XCTSkip("one online core: one worker either way, nothing to tell apart") }
        guard try allowedCores() == onlineCores() else {
            throw XCTSkip("the tests already run pinned to some CPUs; taskset -c 0,1 may not be allowed")
        }
        let pinned = try threadLine(["/usr/bin/taskset", "-c", "0"])
        XCTAssertTrue(
            pinned.hasPrefix(
                "extract: 1 thread (default; CPUs this process may use: 1 (online \(onlineCores()), affinity 1"), pinned
        )
        let two = try threadLine(["/usr/bin/taskset", "-c", "0,1"])
        XCTAssertTrue(
            two.hasPrefix(
                "extract: 2 threads (default; CPUs this process may use: 2 (online \(onlineCores()), affinity 2"), two)
        let overridden = try threadLine(["/usr/bin/taskset", "-c", "0"], extra: ["--threads", "3"])
        XCTAssertTrue(overridden.hasPrefix("extract: 3 threads (--threads; "), overridden)
    }

    func testCgroupCPUQuotaOfOneGivesOneWorker() throws {
        guard onlineCores() >= 2 else { throw XCTSkip("one online core: one worker either way, nothing to tell apart") }
        guard getuid() == 0 else { throw XCTSkip("creating a cgroup needs root") }
        let cgroup = try makeQuotaCgroup()
        defer { rmdir(cgroup) }
        // The shell joins the cgroup, then becomes tlearn: the quota binds from the first instruction.
        let line = try threadLine(["/bin/sh", "-c", "echo $$ > \(cgroup)/cgroup.procs && exec \"$@\"", "sh"])
        XCTAssertTrue(line.hasPrefix("extract: 1 thread (default; "), line)
        XCTAssertTrue(line.contains("cgroup quota 1)"), line)
    }

    /// A fresh child cgroup limited to one CPU: cgroup v2 `cpu.max` where the unified hierarchy
    /// has the cpu controller, else v1 `cpu.cfs_quota_us`. Skips, saying why, when neither works.
    func makeQuotaCgroup() throws -> String {
        let name = "tlearn-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let v2 = "/sys/fs/cgroup"
        if let controllers = try? String(contentsOfFile: v2 + "/cgroup.controllers", encoding: .utf8),
            controllers.split(separator: " ").contains(where: {
                $0.trimmingCharacters(in: .whitespacesAndNewlines) == "cpu"
            })
        {
            _ = write("+cpu", to: v2 + "/cgroup.subtree_control")
            let dir = v2 + "/" + name
            guard mkdir(dir, 0o755) == 0 else {
                throw XCTSkip("cannot create \(dir): \(String(cString: strerror(errno)))")
            }
            guard write("100000 100000", to: dir + "/cpu.max") else {
                rmdir(dir)
                throw XCTSkip("cannot set cpu.max in \(dir) (the cpu controller is not delegated here)")
            }
            return dir
        }
        for mount in ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"]
        where FileManager.default.fileExists(atPath: mount + "/cpu.cfs_quota_us") {
            let dir = mount + "/" + name
            guard mkdir(dir, 0o755) == 0 else {
                throw XCTSkip("cannot create \(dir): \(String(cString: strerror(errno)))")
            }
            guard write("100000", to: dir + "/cpu.cfs_period_us"), write("100000", to: dir + "/cpu.cfs_quota_us") else {
                rmdir(dir)
                throw XCTSkip("cannot set cpu.cfs_quota_us in \(dir)")
            }
            return dir
        }
        throw XCTSkip(
            "no writable cgroup CPU controller: neither cgroup v2 with cpu in \(v2)/cgroup.controllers nor a v1 cpu mount"
        )
    }

    /// Writes `text` to a cgroup control file; false when the kernel refuses it.
    func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return text.withCString { Glibc.write(fd, $0, strlen($0)) } == strlen(text)
    }
}
