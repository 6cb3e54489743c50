import ArgumentParser

/// The `tlearn` command line.
@main
struct TLearn: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tlearn",
        abstract: "MobileNetV2 embeddings in SQLite, and a softmax head on them.",
        version: "0.1.0",
        subcommands: [
            Extract.self,
            Embed.self,
            Info.self,
            Merge.self,
            Query.self,
            Similar.self,
            Duplicates.self,
            Export.self,
        ])
}
