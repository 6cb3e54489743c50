import ArgumentParser
import Extraction
import Kernels

#if canImport(Glibc)
import Glibc
#endif

/// The `tlearn` command line.
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
            Predict.self,
            Query.self,
            Similar.self,
            Duplicates.self,
            Export.self,
            Merge.self,
        ])

    /// ArgumentParser's own `main`, but errors print as `error: ...` (the usual Unix form, and the
    /// one every command already uses for the errors it reports itself).
    static func main() {
        // OpenBLAS sizes its pool by the affinity mask alone; where a command lets BLAS run threaded
        // (similar, duplicates), a cgroup quota should bound it too.
        let cpus = AvailableCPUs.current.count
        if BLASThreads.current > cpus { BLASThreads.set(cpus) }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            guard code != .success else { exit(withError: error) }  // --help, --version
            let message = fullMessage(for: error)
            if !message.isEmpty {
                let line = message.hasPrefix("Error: ") ? "error: " + message.dropFirst("Error: ".count) : message
                writeStandardError(line + "\n")
            }
            Glibc.exit(code.rawValue)
        }
    }
}
