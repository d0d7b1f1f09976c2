// `--quiet`/`-q`, the one definition of the flag: every command has it
// (through `VaultOptions`, or directly where a command has no vault).
import ArgumentParser

/// `--quiet`/`-q`: no notices on standard error, only data, warnings and errors.
struct QuietOption: ParsableArguments {
    @Flag(
        name: [.short, .long],
        help: "Print no notices: only data, warnings, errors and prompts.")
    var quiet = false

    /// Parsing validates every option group before the command runs: the
    /// one moment to tell `Output`, for the whole process.
    func validate() throws {
        if quiet { Output.quiet = true }
    }
}
