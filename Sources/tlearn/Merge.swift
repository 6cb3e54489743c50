import ArgumentParser
import Store

#if canImport(Glibc)
    import Glibc
#endif

/// `tlearn merge`: one database from the shard databases of `tlearn extract --shard`.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine databases built with `tlearn extract --shard K/N` into one.",
        discussion: """
            All inputs must come from the same backbone (weights, input size, preprocessing), views and split \
            percentages, and hold maps of the same views or none (`tlearn extract --maps` adds them to one without). An image in two inputs must have the same content and label. Splits are recomputed over \
            the merged set, so OUT holds what one extraction of the whole dataset would. OUT must be new.
            """)

    @Argument(help: "The database to create.") var out: String
    @Argument(help: "Shard databases to combine.") var shards: [String]

    func validate() throws {
        guard !shards.isEmpty else { throw ValidationError("give at least one shard database after OUT") }
        if shards.contains(out) { throw ValidationError("OUT \(out) is also an input; merge into a new file") }
        for s in shards where !pathExists(s) { throw ValidationError("no database at \(s)") }
        if pathExists(out) { throw ValidationError("\(out) exists; merge into a new file") }
    }

    func run() throws {
        do {
            let report = try ShardMerge.merge(into: out, from: shards)
            for w in report.warnings { warn(w) }
            print(
                "merged \(shards.count) database\(shards.count == 1 ? "" : "s") into \(out): \(report.images) images, \(report.embeddings) vectors, "
                    + (report.maps > 0 ? "\(report.maps) maps, " : "") + "\(report.failures) failures"
                    + (report.duplicates > 0 ? ", \(report.duplicates) duplicates skipped" : ""))
        } catch {
            // OUT did not exist before (validate): leave no half-made file behind.
            if case StoreError.locked = error {
            } else {
                for suffix in ["", "-wal", "-shm"] { unlink(out + suffix) }
            }
            throw error
        }
    }
}
