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

            Every command that uses the vault takes --vault DIR, before or after the command's name \
            (ztoken --vault DIR list); without it the vault is $ZTOKEN_VAULT, else \
            $XDG_DATA_HOME/ztoken, else ~/.local/share/ztoken. Every command takes -q/--quiet, \
            before or after its name: no notices, only data, warnings, errors and prompts.

            ENVIRONMENT:
            \(environmentHelp)
            """,
        version: version,
        subcommands: [
            Init.self, Create.self, List.self, Show.self, Rename.self, Note.self, Expire.self, Rotate.self,
            Revoke.self, Verify.self, ZBot.self, Export.self, Keygen.self, Backup.self, Restore.self, Doctor.self,
            Config.self, Passwd.self, Scan.self, Log.self, Sync.self, Clone.self, GitCommand.self,
        ]
    )

    public init() {}

    static let name = "ztoken"

    /// Every environment variable ztoken reads, and what for: the one list
    /// behind the ENVIRONMENT of --help and of the man page. Each meaning
    /// fits on one line of an 80-column help.
    static let environment: [(name: String, meaning: String)] = [
        ("ZTOKEN_VAULT", "The vault directory when --vault is not given."),
        ("XDG_DATA_HOME", "Without $ZTOKEN_VAULT, the vault is $XDG_DATA_HOME/ztoken."),
        ("HOME", "Without either, the vault is $HOME/.local/share/ztoken."),
        ("ZTOKEN_VAULT_PASSPHRASE_FILE", "A file holding the vault passphrase, if no --vault-passphrase-file."),
        ("USER", "The user name init records when the system does not know it."),
        ("WAYLAND_DISPLAY", "With wl-copy on PATH, create --copy uses the Wayland clipboard."),
        ("DISPLAY", "With xclip or xsel on PATH, create --copy uses the X clipboard."),
        ("NO_COLOR", "Set and not empty: no colour, even on a terminal (no-color.org)."),
        ("PATH", "Where wl-copy, xclip, xsel (create --copy) and git (scan) are found."),
    ]

    static var environmentHelp: String {
        environment.map { "  \($0.name)\n      \($0.meaning)" }.joined(separator: "\n")
    }
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

    /// Flags that apply to every subcommand and may come before its name.
    static let globalFlags = ["--quiet", "-q"]

    /// Moves global options written before the subcommand name to just after
    /// it, so `ztoken --vault DIR list` and `ztoken list --vault DIR` agree.
    static func normalize(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            if globalFlags.contains(argument) {
                leading.append(argument)
                index += 1
                continue
            }
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
            try checkCommandName(arguments)
            var command = try parseSubcommand(arguments) ?? parseAsRoot(arguments)
            Output.command = type(of: command)
            try command.run()
            Glibc.exit(0)
        } catch let failure as VaultError {
            Glibc.exit(Output.report(failure))
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
        } catch {
            if let unknown = error as? UnknownCommand {
                Output.error("unknown command \(Output.safe(unknown.name).quotedForMessage)")
                Output.hint(
                    unknown.suggestion.map { "did you mean '\($0)'?" } ?? "run 'ztoken help' to see the commands")
                Glibc.exit(64)
            }
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

/// A first word that is no command (`ztoken creat`, `ztoken help bogus`).
struct UnknownCommand: Error {
    var name: String
    /// The command it is probably a typo of.
    var suggestion: String?
}

extension ZToken {
    /// Stops a mistyped command name (`ztoken creat`, `ztoken help bogus`)
    /// before ArgumentParser calls it an unexpected argument, with the
    /// closest command name when one is close (as git and cargo do).
    static func checkCommandName(_ arguments: [String]) throws {
        var words = arguments[...]
        if words.first == "help" { words = words.dropFirst() }
        guard let name = words.first, !name.hasPrefix("-"), subcommandsByName[name] == nil else { return }
        let names = configuration.subcommands.compactMap { $0.configuration.commandName }
        let best = names.map { ($0, editDistance(name.lowercased(), $0)) }.min { $0.1 < $1.1 }
        let close = best.flatMap { $0.1 <= (name.count >= 4 ? 2 : 1) ? $0.0 : nil }
        // Or the one command the word begins (`ztoken rot`).
        let started = names.filter { $0.hasPrefix(name.lowercased()) }
        throw UnknownCommand(name: name, suggestion: close ?? (started.count == 1 ? started[0] : nil))
    }

    /// The edit distance of two words, a swap of two neighbours counting
    /// as one edit (optimal string alignment), as typos usually are.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in stride(from: 1, through: a.count, by: 1) {
            for j in stride(from: 1, through: b.count, by: 1) {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}

extension String {
    /// The text in single quotes, as messages quote names.
    var quotedForMessage: String { "'" + self + "'" }

    func lowercasedFirst() -> String {
        guard let first else { return self }
        return first.lowercased() + dropFirst()
    }
}
