import ArgumentParser
import Store

/// `tlearn info`: what a database holds.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show classes with counts per split, backbones, views, maps, failures and file size of a database.")

    @OptionGroup var store: DatabaseOptions
    @Flag(help: "Also list every failed file with its reason and message.") var failures = false

    func run() throws {
        let db = store.db
        let info = try DatabaseInfo.read(db)
        print("database  \(db)  \(humanBytes(info.fileBytes))  schema \(info.schemaVersion)")
        if let root = info.meta["root"] { print("images    \(root)") }
        if let shard = info.meta["shard"] { print("shard     \(shard)") }
        print("splits    val \(info.meta["val_percent"] ?? "10.0")%, test \(info.meta["test_percent"] ?? "10.0")%")

        let total = info.classes.reduce(into: DatabaseInfo.ClassCounts(name: "total")) {
            $0.train += $1.train
            $0.val += $1.val
            $0.test += $1.test
        }
        print("\nclasses   \(info.classes.count)")
        let width = max(5, info.classes.map(\.name.tableCell.count).max() ?? 0)
        print(
            "  " + pad("class", width) + leftPad("train", 8) + leftPad("val", 8) + leftPad("test", 8)
                + leftPad("total", 8))
        for c in info.classes + [total] {
            print(
                "  " + pad(c.name.tableCell, width) + leftPad("\(c.train)", 8) + leftPad("\(c.val)", 8)
                    + leftPad("\(c.test)", 8) + leftPad("\(c.total)", 8))
        }

        print("\nbackbones \(info.backbones.count)")
        for b in info.backbones {
            let k = b.key
            // alpha is the model's float32 read into a Double: Float prints 0.35, not 0.3499999940395355.
            print(
                "  #\(b.id) \(k.weightsName ?? "?")  sha256 \(k.weightsSHA256.prefix(16))  alpha \(Float(k.alpha))  input \(k.inputSize)  dim \(k.dim)"
            )
            print("      preprocessing \(k.preprocessing)")
            let views =
                b.views.isEmpty ? "no vectors" : b.views.map { "\($0.view) \($0.count)" }.joined(separator: ", ")
            print("      views \(views)")
            if !b.maps.isEmpty {
                print(
                    "      maps \(b.maps.map { "\($0.view) \($0.count) (\(humanBytes($0.bytes)))" }.joined(separator: ", "))"
                )
            }
        }

        let failed = info.failures.reduce(0) { $0 + $1.count }
        print(
            "\nfailures  \(failed)"
                + (failed > 0
                    ? "  (" + info.failures.map { "\($0.reason) \($0.count)" }.joined(separator: ", ") + ")" : ""))
        if failures && failed > 0 {
            let rows = try Database.open(db, readOnly: true).rows(
                "SELECT path, reason, message FROM failures ORDER BY path")
            for r in rows { print("  \(r[0].string ?? "")  \(r[1].string ?? "")  \(r[2].string ?? "")") }
        }
        if info.runs > 0 { print("\nruns      \(info.runs)") }
    }
}

private func pad(_ s: String, _ n: Int) -> String {
    s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count + 1)
}
private func leftPad(_ s: String, _ n: Int) -> String {
    s.count >= n ? " " + s : String(repeating: " ", count: n - s.count) + s
}

private func humanBytes(_ n: Int64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 {
        v /= 1024
        u += 1
    }
    return u == 0 ? "\(n) B" : "\((v * 10).rounded() / 10) \(units[u])"
}
