import CSystem

#if canImport(Glibc)
    import Glibc
#endif

/// How many CPUs this process may use: the default of every thread count in tlearn.
///
/// Online cores overstate it whenever a scheduler confines the process: Slurm's `task/affinity`
/// and `taskset` narrow the affinity mask, a container runtime or Slurm's `task/cgroup` sets a
/// cgroup CPU quota. The count is the smallest of the online cores, the CPUs in the affinity mask
/// and the quota rounded up (a quota of 1.5 CPUs still runs two threads part of the time), and at
/// least 1.
public struct AvailableCPUs: Sendable, Equatable, CustomStringConvertible {
    /// Cores the kernel has online (`_SC_NPROCESSORS_ONLN`).
    var online: Int
    /// CPUs in the affinity mask (`sched_getaffinity`), nil when it cannot be read.
    public var affinity: Int?
    /// The tightest cgroup CPU quota on the way to the root, in CPUs (quota / period); nil: none.
    public var quota: Double?

    public init(online: Int, affinity: Int?, quota: Double?) {
        self.online = online
        self.affinity = affinity
        self.quota = quota
    }

    /// The number of threads to run: min(online, affinity, ceil(quota)), at least 1.
    public var count: Int {
        var n = max(1, online)
        if let affinity, affinity > 0 { n = min(n, affinity) }
        if let quota, quota > 0 {
            // A quota a hair above a whole number is the whole number (1.0000001 CPUs is 1).
            n = min(n, Int((quota - 1e-6).rounded(.up)))
        }
        return max(1, n)
    }

    /// `2 (online 4, affinity 2, cgroup quota 1.5)`.
    public var description: String {
        var parts = ["online \(online)"]
        if let affinity { parts.append("affinity \(affinity)") }
        if let quota {
            let text = quota == quota.rounded() ? "\(Int(quota))" : "\((quota * 100).rounded() / 100)"
            parts.append("cgroup quota \(text)")
        }
        return "\(count) (\(parts.joined(separator: ", ")))"
    }

    /// This process's CPUs, read once per process (they rarely change while it runs, and the
    /// cgroup walk reads several files).
    public static let current = read()

    /// Reads the online count, the affinity mask and the cgroup quota now.
    public static func read(procRoot: String = "/proc") -> AvailableCPUs {
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return AvailableCPUs(online: online, affinity: affinityCount(), quota: cgroupQuota(procRoot: procRoot))
    }

    /// CPUs in this thread's affinity mask (the main thread's, when called early), or nil.
    static func affinityCount() -> Int? {
        let n = Int(tl_affinity_count())
        return n > 0 ? n : nil
    }

    // MARK: cgroups

    /// The smallest CPU quota of this process's cgroup and its ancestors (v2 `cpu.max`, else v1
    /// `cpu.cfs_quota_us` / `cpu.cfs_period_us`), in CPUs; nil when there is none or nothing can be read.
    static func cgroupQuota(procRoot: String = "/proc") -> Double? {
        guard let cgroups = readSmallFile("\(procRoot)/self/cgroup"),
            let mounts = readSmallFile("\(procRoot)/self/mountinfo")
        else { return nil }
        var best: Double?
        func take(_ q: Double?) { if let q { best = min(best ?? q, q) } }
        for dir in cgroupDirectories(cgroupFile: cgroups, mountInfo: mounts) {
            switch dir.version {
            case 2:
                take(readSmallFile(dir.path + "/cpu.max").flatMap(parseCPUMax))
            default:
                if let q = readSmallFile(dir.path + "/cpu.cfs_quota_us"),
                    let p = readSmallFile(dir.path + "/cpu.cfs_period_us")
                {
                    take(parseCFS(quota: q, period: p))
                }
            }
        }
        return best
    }

    /// Parses a cgroup v2 `cpu.max` (`"$MAX $PERIOD"`, e.g. `150000 100000`, or `max 100000`) into
    /// CPUs; nil for no limit (`max`) or a malformed file.
    static func parseCPUMax(_ text: String) -> Double? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard fields.count == 2 || fields.count == 1 else { return nil }
        if fields[0] == "max" { return nil }
        guard let quota = Int64(fields[0]), quota > 0 else { return nil }
        // The period is optional when writing cpu.max; the kernel's default is 100000 us.
        let period = fields.count == 2 ? Int64(fields[1]) : 100_000
        guard let period, period > 0 else { return nil }
        return Double(quota) / Double(period)
    }

    /// Parses cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` into CPUs; nil for no limit
    /// (quota -1) or malformed text.
    static func parseCFS(quota: String, period: String) -> Double? {
        func integer(_ s: String) -> Int64? { Int64(s.trimmingCharacters(in: " \n\t")) }
        guard let q = integer(quota), let p = integer(period), q > 0, p > 0 else { return nil }
        return Double(q) / Double(p)
    }

    /// The cgroup directories that can hold this process's CPU limit, innermost first: for each
    /// CPU hierarchy in `/proc/self/cgroup` (the v2 line `0::/path`, or a v1 line whose controllers
    /// include `cpu`), the process's directory under that hierarchy's mount and every ancestor
    /// up to the mount (a parent's quota binds its children too).
    static func cgroupDirectories(cgroupFile: String, mountInfo: String) -> [(version: Int, path: String)] {
        let mounts = cgroupMounts(mountInfo)
        var out: [(version: Int, path: String)] = []
        for line in cgroupFile.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let controllers = parts[1].split(separator: ",").map(String.init)
            let version: Int
            if parts[0] == "0" && controllers.isEmpty {
                version = 2
            } else if controllers.contains("cpu") {
                version = 1
            } else {
                continue
            }
            let cgroupPath = String(parts[2])
            for m in mounts where m.version == version && (version == 2 || m.controllers.contains("cpu")) {
                // The mount shows the hierarchy from `m.root` down (a container sees its own cgroup as /).
                guard let relative = Self.relative(cgroupPath, to: m.root) else { continue }
                var components = relative.split(separator: "/").map(String.init)
                while true {
                    out.append(
                        (version, m.mountPoint + (components.isEmpty ? "" : "/" + components.joined(separator: "/"))))
                    if components.isEmpty { break }
                    components.removeLast()
                }
                break
            }
        }
        return out
    }

    /// `path` below `root` ("/a/b" under "/a" is "/b"), or nil when it is not inside.
    static func relative(_ path: String, to root: String) -> String? {
        if root == "/" { return path }
        if path == root { return "/" }
        return path.hasPrefix(root + "/") ? String(path.dropFirst(root.count)) : nil
    }

    /// The cgroup mounts of a `/proc/self/mountinfo`: version, mount point, the hierarchy path it
    /// shows (field 4) and, for v1, the controllers in its super options.
    static func cgroupMounts(_ mountInfo: String) -> [(
        version: Int, mountPoint: String, root: String, controllers: [String]
    )] {
        var out: [(version: Int, mountPoint: String, root: String, controllers: [String])] = []
        for line in mountInfo.split(separator: "\n") {
            // "36 25 0:31 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate"
            let halves = line.split(separator: " - ", maxSplits: 1).map(String.init)
            guard halves.count == 2 else { continue }
            let left = halves[0].split(separator: " ")
            let right = halves[1].split(separator: " ")
            guard left.count >= 5, right.count >= 1 else { continue }
            let root = unescapeMountField(String(left[3]))
            let point = unescapeMountField(String(left[4]))
            switch right[0] {
            case "cgroup2": out.append((2, point, root, []))
            case "cgroup":
                let options = right.count >= 3 ? right[2].split(separator: ",").map(String.init) : []
                out.append((1, point, root, options))
            default: continue
            }
        }
        return out
    }

    /// mountinfo writes space, tab, newline and backslash in paths as octal escapes (`\040`).
    static func unescapeMountField(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var bytes: [UInt8] = []
        let u = Array(s.utf8)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "\\"), i + 4 <= u.count,
                let v = UInt8(String(decoding: u[(i + 1)..<(i + 4)], as: UTF8.self), radix: 8)
            {
                bytes.append(v)
                i += 4
            } else {
                bytes.append(u[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A small text file (procfs and cgroupfs report size 0, so read until EOF), or nil.
    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while data.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 4096) }
            if n < 0 { return nil }
            if n == 0 { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
