import Foundation
import XCTest

@testable import Kernels

/// The CPU count behind every default thread count: cgroup files parsed from fixture strings, and
/// the live reading checked against what the kernel says.
final class AvailableCPUsTests: XCTestCase {
    func testCPUMaxQuotaNoLimitAndMalformed() {
        XCTAssertEqual(AvailableCPUs.parseCPUMax("150000 100000\n"), 1.5)
        XCTAssertEqual(AvailableCPUs.parseCPUMax("200000 100000"), 2)
        XCTAssertEqual(AvailableCPUs.parseCPUMax("50000 100000\n"), 0.5)
        XCTAssertEqual(AvailableCPUs.parseCPUMax("100000\n"), 1, "the period defaults to 100000 us")
        XCTAssertNil(AvailableCPUs.parseCPUMax("max 100000\n"), "no limit")
        XCTAssertNil(AvailableCPUs.parseCPUMax("max\n"))
        for bad in ["", "\n", "abc 100000", "100000 0", "-5 100000", "100000 100000 7", "1.5 100000", "0 100000"] {
            XCTAssertNil(AvailableCPUs.parseCPUMax(bad), "malformed cpu.max \(bad.debugDescription)")
        }
    }

    func testCFSQuotaNoLimitAndMalformed() {
        XCTAssertEqual(AvailableCPUs.parseCFS(quota: "250000\n", period: "100000\n"), 2.5)
        XCTAssertEqual(AvailableCPUs.parseCFS(quota: "50000", period: "100000"), 0.5)
        XCTAssertNil(AvailableCPUs.parseCFS(quota: "-1\n", period: "100000\n"), "no limit")
        for (q, p) in [("", "100000"), ("x", "100000"), ("50000", "0"), ("50000", ""), ("0", "100000")] {
            XCTAssertNil(
                AvailableCPUs.parseCFS(quota: q, period: p),
                "malformed quota \(q.debugDescription) period \(p.debugDescription)")
        }
    }

    func testCountIsTheSmallestLimitRoundedUpAndAtLeastOne() {
        XCTAssertEqual(AvailableCPUs(online: 64, affinity: nil, quota: nil).count, 64)
        XCTAssertEqual(AvailableCPUs(online: 64, affinity: 2, quota: nil).count, 2)
        XCTAssertEqual(AvailableCPUs(online: 64, affinity: 8, quota: 1.5).count, 2, "a quota rounds up")
        XCTAssertEqual(AvailableCPUs(online: 64, affinity: 8, quota: 4).count, 4)
        XCTAssertEqual(AvailableCPUs(online: 64, affinity: 8, quota: 4.0000001).count, 4, "rounding noise is not a CPU")
        XCTAssertEqual(AvailableCPUs(online: 4, affinity: nil, quota: 16).count, 4, "never more than online cores")
        XCTAssertEqual(AvailableCPUs(online: 4, affinity: 8, quota: nil).count, 4)
        XCTAssertEqual(AvailableCPUs(online: 4, affinity: nil, quota: 0.1).count, 1)
        XCTAssertEqual(AvailableCPUs(online: 0, affinity: nil, quota: nil).count, 1, "at least one")
        XCTAssertEqual(
            AvailableCPUs(online: 4, affinity: 2, quota: 1.5).description, "2 (online 4, affinity 2, cgroup quota 1.5)")
    }

    func testCgroupV2DirectoriesWalkUpToTheMount() {
        let mounts =
            "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
        let dirs = AvailableCPUs.cgroupDirectories(
            cgroupFile: "0::/system.slice/slurmstepd.scope/job_5\n", mountInfo: mounts)
        XCTAssertEqual(
            dirs.map(\.path),
            [
                "/sys/fs/cgroup/system.slice/slurmstepd.scope/job_5", "/sys/fs/cgroup/system.slice/slurmstepd.scope",
                "/sys/fs/cgroup/system.slice", "/sys/fs/cgroup",
            ])
        XCTAssertEqual(Set(dirs.map(\.version)), [2])
        // A container with its own cgroup namespace sees its cgroup as the mount's root.
        let container = AvailableCPUs.cgroupDirectories(cgroupFile: "0::/\n", mountInfo: mounts)
        XCTAssertEqual(container.map(\.path), ["/sys/fs/cgroup"])
    }

    func testCgroupV1DirectoriesUseTheCPUControllerMount() {
        let mounts = """
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            50 31 0:40 /docker/abc /mnt/my\\040cg rw - cgroup cgroup rw,cpu

            """
        let file = "4:memory:/a\n2:cpu,cpuacct:/slurm/uid_0/job_7\n0::/\n"
        let dirs = AvailableCPUs.cgroupDirectories(cgroupFile: file, mountInfo: mounts)
        XCTAssertEqual(
            dirs.filter { $0.version == 1 }.map(\.path),
            [
                "/sys/fs/cgroup/cpu,cpuacct/slurm/uid_0/job_7", "/sys/fs/cgroup/cpu,cpuacct/slurm/uid_0",
                "/sys/fs/cgroup/cpu,cpuacct/slurm", "/sys/fs/cgroup/cpu,cpuacct",
            ])
        XCTAssertEqual(dirs.filter { $0.version == 2 }.map(\.path), ["/sys/fs/cgroup/unified"])
        // A mount that shows only part of the hierarchy (a container's), with an escaped space.
        let nested = AvailableCPUs.cgroupDirectories(
            cgroupFile: "3:cpu:/docker/abc/inner\n", mountInfo: String(mounts.split(separator: "\n")[4]))
        XCTAssertEqual(nested.map(\.path), ["/mnt/my cg/inner", "/mnt/my cg"])
        XCTAssertTrue(AvailableCPUs.cgroupDirectories(cgroupFile: "garbage\n1:cpu\n", mountInfo: mounts).isEmpty)
    }

    func testLiveReadingMatchesTheKernel() throws {
        let now = AvailableCPUs.read()
        XCTAssertGreaterThanOrEqual(now.online, 1)
        let affinity = try XCTUnwrap(now.affinity, "sched_getaffinity works on Linux")
        XCTAssertLessThanOrEqual(affinity, now.online)
        XCTAssertLessThanOrEqual(now.count, affinity)
        XCTAssertGreaterThanOrEqual(now.count, 1)
        // nproc(1) counts the affinity mask the same way.
        let nproc = Process()
        nproc.executableURL = URL(fileURLWithPath: "/usr/bin/nproc")
        let out = Pipe()
        nproc.standardOutput = out
        nproc.environment = [:]  // OMP_NUM_THREADS would change nproc's answer
        try nproc.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        nproc.waitUntilExit()
        XCTAssertEqual(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), affinity)
    }
}
