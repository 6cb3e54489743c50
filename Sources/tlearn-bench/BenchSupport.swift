import Foundation
import Store

/// What every section is given.
struct BenchContext {
    let weights: String
    let shared: String
    let batch: Int
    let threads: Int
    let reps: Int
    let seconds: Double
    let runPeer: Bool
    /// Print the human-readable table as the section runs (off with --json).
    let verbose: Bool
    /// The scale section's image count and database (made there when missing; nil: a default under /tmp).
    var scaleN = 100_000
    var scaleDB: String? = nil
    /// The checkout, for scripts/ (the current directory, as `make bench` runs it).
    var repository = FileManager.default.currentDirectoryPath

    func say(_ line: String) { if verbose { print(line) } }
}

/// One benchmark: measures, prints when verbose, adds its JSON fields (prefixed by its name).
protocol BenchSection: Sendable {
    static var name: String { get }
    static func run(_ context: BenchContext, _ report: inout BenchReport) throws
}

/// The fields of the --json object, in the order sections add them.
struct BenchReport {
    var fields: [(String, Any)] = []

    func json() -> String {
        let body = fields.map { key, value in "\"\(key)\": \(BenchReport.encode(value))" }
        return "{" + body.joined(separator: ", ") + "}"
    }

    private static func encode(_ value: Any) -> String {
        switch value {
        case let v as Double: return v.isFinite ? String(format: "%.4g", v) : "null"
        case let v as Int: return String(v)
        case let v as String:
            let data = try? JSONSerialization.data(withJSONObject: [v], options: [])
            return data.flatMap { String(data: $0, encoding: .utf8) }.map { String($0.dropFirst().dropLast()) }
                ?? "\"\""
        case let v as [String: Any]:
            return "{" + v.keys.sorted().map { "\"\($0)\": \(encode(v[$0]!))" }.joined(separator: ", ") + "}"
        case Optional<Any>.none: return "null"
        default: return "\"\(value)\""
        }
    }
}

/// Median of the values (the mean of the middle two for an even count).
func median(_ values: [Double]) -> Double {
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Seconds on a monotonic clock.
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// This process's peak resident set size (getrusage: kilobytes on Linux).
func peakRSSKilobytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss
}

/// Runs a peer script and returns its last stdout line parsed as a JSON object, or nil with a warning.
func runPeer(_ arguments: [String]) -> [String: Any]? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch {
        FileHandle.standardError.write(Data("warning: cannot run \(arguments.joined(separator: " ")): \(error)\n".utf8))
        return nil
    }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
        let line = String(data: data, encoding: .utf8)?.split(separator: "\n").last,
        let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    else {
        FileHandle.standardError.write(
            Data("warning: \(arguments.joined(separator: " ")) failed (status \(process.terminationStatus))\n".utf8))
        return nil
    }
    return object
}

/// Runs a child process; returns its exit status and its own peak RSS (KB). wait4's ru_maxrss will
/// not do: a spawned child starts from its parent's high-water mark (Linux carries the old memory's
/// peak across exec), so it reported this benchmark's own size whenever that was larger. The child's
/// VmHWM, which counts only the memory it exec'd into, is read from /proc while it runs; it only
/// grows, so the last reading is the peak up to a few milliseconds before the end.
func runChild(_ path: String, _ arguments: [String]) throws -> (Int32, Int) {
    var pid: pid_t = 0
    var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard rc == 0 else { throw StoreError.invalid("cannot run \(path): \(String(cString: strerror(rc)))") }
    let child = try waitWithPeak(pid, path)
    return (child.status, child.peakKB)
}

/// Waits for the spawned child `pid`: its exit status (128 + the signal when a signal ended it), the
/// signal (0 when it exited), and its peak RSS in KB (see `runChild`).
func waitWithPeak(_ pid: pid_t, _ path: String) throws -> (status: Int32, signal: Int32, peakKB: Int) {
    // A thread reads the peak while this one waits, so the exit is seen at once (runs are timed).
    let watcher = PeakWatcher(pid)
    let thread = Thread { watcher.watch() }
    thread.start()
    var status: Int32 = 0
    var usage = rusage()
    let waited = wait4(pid, &status, 0, &usage)
    let peak = watcher.stop()
    guard waited == pid else { throw StoreError.invalid("wait4 failed for \(path)") }
    let signal = status & 0x7f
    return (signal == 0 ? (status >> 8) & 0xff : 128 + signal, signal, peak > 0 ? peak : usage.ru_maxrss)
}

/// Polls a child's VmHWM every few milliseconds until stopped.
final class PeakWatcher: @unchecked Sendable {
    private let pid: pid_t
    private let lock = NSLock()
    private var peak = 0
    private var stopped = false

    init(_ pid: pid_t) { self.pid = pid }

    func watch() {
        while true {
            let kb = highWaterKB(pid) ?? 0
            let done = lock.withLock {
                peak = max(peak, kb)
                return stopped
            }
            if done { return }
            usleep(3000)
        }
    }

    /// Stops watching; the largest reading, 0 when there was none.
    func stop() -> Int {
        lock.withLock {
            stopped = true
            return peak
        }
    }
}

/// VmHWM of a running process, in KB; nil once it is gone.
func highWaterKB(_ pid: pid_t) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return nil }
    return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
}
