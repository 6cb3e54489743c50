import Foundation
import Store

/// What `extract --maps` costs over a plain extraction of the same photos.
struct MapsCost {
    var images = 0
    /// Wall seconds of each plain run and of each --maps run, turn by turn.
    var plain: [Double] = []
    var maps: [Double] = []
    /// CPU seconds (user + system) of the same runs: less disturbed by other tenants than wall time.
    var plainCPU: [Double] = []
    var mapsCPU: [Double] = []
    /// Database file size (with its WAL) after each kind of run.
    var plainBytes: Int64 = 0
    var mapsBytes: Int64 = 0
    /// maps / plain time of each turn.
    var ratios: [Double] { zip(maps, plain).map { $0 / $1 } }
    var cpuRatios: [Double] { zip(mapsCPU, plainCPU).map { $0 / $1 } }
}

/// Runs `tlearn extract` into fresh databases with and without --maps, `turns` pairs, the order of the
/// two flipped every turn (plain, maps, maps, plain, ...) so a drift in the load of a shared machine
/// weighs on both alike. Needs the `tlearn` binary next to this one.
func mapsCost(images: String, weights: String, batchSize: Int, threads: Int?, turns: Int) throws -> MapsCost? {
    let tlearn = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
        "tlearn"
    ).path
    guard FileManager.default.isExecutableFile(atPath: tlearn) else { return nil }
    let db = FileManager.default.temporaryDirectory.appendingPathComponent(
        "tlearn-bench-maps-\(UUID().uuidString).sqlite"
    ).path
    func removeDatabase() {
        for s in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: db + s) }
    }
    defer { removeDatabase() }
    func size() -> Int64 {
        ["", "-wal"].reduce(0) {
            $0 + ((try? FileManager.default.attributesOfItem(atPath: db + $1)[.size] as? Int64) ?? 0)
        }
    }
    var args = [
        "extract", "--images", images, "--db", db, "--weights", weights, "--batch-size", "\(batchSize)", "--quiet",
    ]
    if let threads { args += ["--threads", "\(threads)"] }
    var cost = MapsCost()
    for turn in 0..<max(1, turns) {
        for withMaps in turn % 2 == 0 ? [false, true] : [true, false] {
            removeDatabase()
            let t0 = Date()
            let before = childCPUSeconds()
            let (status, _) = try runChild(tlearn, args + (withMaps ? ["--maps"] : []))
            let cpu = childCPUSeconds() - before
            let seconds = Date().timeIntervalSince(t0)
            guard status == 0 || status == 3 else {
                throw StoreError.invalid("tlearn extract\(withMaps ? " --maps" : "") exited with status \(status)")
            }
            if withMaps {
                cost.maps.append(seconds)
                cost.mapsCPU.append(cpu)
                cost.mapsBytes = size()
            } else {
                cost.plain.append(seconds)
                cost.plainCPU.append(cpu)
                cost.plainBytes = size()
            }
            cost.images = Int(try Database.open(db, readOnly: true).scalar("SELECT count(*) FROM images")?.int ?? 0)
        }
    }
    return cost
}

/// The extract section's --maps lines: time with / without per turn, and database bytes per image.
func reportMapsCost(_ c: BenchContext, images: String, report: inout BenchReport) throws {
    guard
        let cost = try mapsCost(
            images: images, weights: c.weights, batchSize: c.batch, threads: nil, turns: max(2, min(6, c.reps))),
        cost.images > 0
    else {
        c.say(
            "extract --maps: skipped (needs the tlearn binary beside tlearn-bench: swift build -c release --product tlearn)"
        )
        return
    }
    let ratios = cost.ratios
    let cpu = cost.cpuRatios
    let perImage = Double(cost.mapsBytes) / Double(cost.images)
    let extra = Double(cost.mapsBytes - cost.plainBytes) / Double(cost.images)
    func list(_ v: [Double]) -> String { v.map { String(format: "%.1f", $0) }.joined(separator: " ") }
    c.say(
        String(
            format:
                "extract --maps: wall %@ s vs without %@ s, ratio %.3f (median of %d turns, range %.3f-%.3f); CPU %@ s vs %@ s, ratio %.3f (range %.3f-%.3f)",
            list(cost.maps), list(cost.plain), median(ratios), ratios.count, ratios.min() ?? 0, ratios.max() ?? 0,
            list(cost.mapsCPU), list(cost.plainCPU), median(cpu), cpu.min() ?? 0, cpu.max() ?? 0))
    c.say(
        String(
            format: "extract --maps: database %.1f KB per image with maps (+%.1f KB over %.1f KB without)",
            perImage / 1024, extra / 1024, Double(cost.plainBytes) / Double(cost.images) / 1024))
    report.fields.append(("extract_maps_time_ratio", median(ratios)))
    report.fields.append(("extract_maps_cpu_ratio", median(cpu)))
    report.fields.append(("extract_maps_time_ratio_min", ratios.min() ?? 0))
    report.fields.append(("extract_maps_time_ratio_max", ratios.max() ?? 0))
    report.fields.append(("extract_maps_db_bytes_per_image", perImage))
    report.fields.append(("extract_plain_db_bytes_per_image", Double(cost.plainBytes) / Double(cost.images)))
}

/// CPU seconds (user + system) of this process's waited-for children so far.
private func childCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
        usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
