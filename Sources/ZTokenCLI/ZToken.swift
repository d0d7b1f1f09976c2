// The root command: subcommands, global options, and nothing else.
import ArgumentParser
import TokenVault

/// `ztoken`: an offline vault of API tokens.
public struct ZToken: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ztoken",
        abstract: "An offline vault of API tokens, shown once and kept sealed.",
        version: "0.1.0",
        subcommands: []
    )
    public init() {}
}
