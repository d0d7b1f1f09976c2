// `ztoken git …`: git, run in the vault directory (as `pass git` does).
import ArgumentParser
import TokenVault

struct GitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "git",
        _superCommandName: ZToken.name,
        abstract: "Run git in the vault directory.",
        discussion: """
            'ztoken git init' makes the vault a git repository (ignoring the lock and temp files) and \
            commits its state; any other arguments go to git as they are, run in the vault directory: \
            'ztoken git remote add origin URL', 'ztoken git log'. Change the vault's files only with \
            ztoken: 'ztoken sync' merges and installs what a remote sends.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("Arguments for git.", valueName: "git-argument"))
    var arguments: [String] = []

    func run() throws {
        // Alone, --help and --version are ztoken's (git's: `ztoken git help`, `ztoken git version`).
        if arguments == ["--help"] || arguments == ["-h"] { throw CleanExit.helpRequest(self) }
        if arguments == ["--version"] { throw CleanExit.message(ZToken.version) }
        if arguments == ["init"] {
            try vaultOptions.open().initializeRepository()
            Output.note("the vault is a git repository; add a remote with 'ztoken git remote add origin URL'")
            return
        }
        // Opening the vault checks that it is one, and safe, before git runs in it.
        let vault = try vaultOptions.open()
        let status = try vault.runGit(arguments)
        if status != 0 { throw ExitCode(status) }
    }
}
