import ArgumentParser
import Extraction
import Kernels

#if canImport(Glibc)
    import Glibc
#endif

/// The `tlearn` command line.
///
/// Every command states its `commandName`, so renaming a type never renames a command users script
/// against, and ArgumentParser does not derive the names from type descriptions at every start.
@main
struct TLearn: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tlearn",
        abstract: "MobileNetV2 embeddings in SQLite, and a softmax head on them.",
        version: "0.1.0",
        subcommands: [
            Extract.self,
            Info.self,
            Embed.self,
            TrainHead.self,
            Sweep.self,
            Runs.self,
            Evaluate.self,
            ReportCommand.self,
            Predict.self,
            Query.self,
            Similar.self,
            Duplicates.self,
            Export.self,
            Merge.self,
        ])

    /// ArgumentParser's own `main`, but every error a command throws is reported here, once: one
    /// `error: ...` line (the usual Unix form) and the status `exitStatus(for:)` gives it.
    static func main() {
        // Commands parallelise across images or rows themselves; the two that let BLAS run threaded
        // (similar, duplicates) set the count from AvailableCPUs, which a cgroup quota bounds too.
        BLASThreads.stopWorkers()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            let (status, message) = exitStatus(for: error)
            if !message.isEmpty { writeStandardError(message + "\n") }
            Glibc.exit(status)
        }
    }
}
