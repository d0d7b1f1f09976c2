// The root command: its subcommands, and the entry point that prints every
// failure the same way (`ztoken: error: …`) with the exit code of docs/SPEC.md §8.
import ArgumentParser
import TokenVault

#if canImport(Glibc)
import Glibc
#endif

/// `ztoken`: an offline vault of API tokens.
public struct ZToken: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: name,
        abstract: "An offline vault of API tokens: shown once, kept sealed, revocable.",
        discussion: """
            Each token's plaintext is kept only as a sealed box to the vault's public key, so creating, \
            listing, revoking and verifying need no passphrase. Exports and backups are age files.
            """,
        version: version,
        subcommands: [
            Init.self, Create.self, List.self, Show.self, Rename.self, Note.self, Expire.self, Rotate.self,
            Revoke.self, Verify.self, ZBot.self, Export.self, Keygen.self, Backup.self, Restore.self, Doctor.self,
            Config.self, Passwd.self, Scan.self, Log.self,
        ]
    )

    public init() {}

    static let name = "ztoken"
    /// The library's version: one number for the CLI and TokenVault.
    static let version = Vault.libraryVersion

    /// The subcommands by name, for `parseSubcommand`.
    static let subcommandsByName: [String: ParsableCommand.Type] = Dictionary(
        uniqueKeysWithValues: configuration.subcommands.map { ($0.configuration.commandName!, $0) })

    /// Options ArgumentParser handles only from the root, wherever they appear.
    static func isRootOnly(_ argument: String) -> Bool {
        argument.hasPrefix("--generate-completion-script") || argument.hasPrefix("---completion")
            || argument.hasPrefix("--experimental-dump-help")
    }

    /// Parses a command line that names a subcommand with that subcommand
    /// alone: ArgumentParser's parse from the root builds every command's
    /// arguments by reflection and tries two completion-script commands
    /// first, about as much work as the rest of `ztoken list`. The
    /// subcommands carry the root's name (`_superCommandName`), so their
    /// usage, help and errors read as from the root. Anything else (no
    /// subcommand, `help`, root options such as --version or
    /// --generate-completion-script) goes through the root as before.
    static func parseSubcommand(_ arguments: [String]) throws -> ParsableCommand? {
        guard let first = arguments.first, let command = subcommandsByName[first],
            !arguments.contains(where: isRootOnly)
        else { return nil }
        return try command.parseAsRoot(Array(arguments.dropFirst()))
    }

    /// Options that apply to every subcommand and may come before its name.
    /// An array, not a Set: two names, and a Set's hashing cost a conformance
    /// scan at every start.
    static let globalOptionsWithValue = ["--vault", "--lock-timeout"]

    /// Moves global options written before the subcommand name to just after
    /// it, so `ztoken --vault DIR list` and `ztoken list --vault DIR` agree.
    static func normalize(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            guard globalOptionsWithValue.contains(name) else { break }
            leading.append(argument)
            if !argument.contains("="), index + 1 < arguments.count {
                leading.append(arguments[index + 1])
                index += 1
            }
            index += 1
        }
        guard !leading.isEmpty, index < arguments.count else { return arguments }
        return [arguments[index]] + leading + arguments[(index + 1)...]
    }

    /// Parses the command line, runs the command and exits with its code.
    public static func runMain(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> Never {
        Terminal.hardenProcess()
        do {
            let arguments = normalize(arguments)
            var command = try parseSubcommand(arguments) ?? parseAsRoot(arguments)
            try command.run()
            Glibc.exit(0)
        } catch let failure as VaultError {
            Glibc.exit(Output.report(failure))
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            Output.error(message(for: error).lowercasedFirst())
            Output.hint("run 'ztoken help' or add --help to the command")
            Glibc.exit(code.rawValue == 1 ? 64 : code.rawValue)
        }
    }
}

extension String {
    func lowercasedFirst() -> String {
        guard let first else { return self }
        return first.lowercased() + dropFirst()
    }
}
