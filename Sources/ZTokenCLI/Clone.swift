// `ztoken clone`: this machine's copy of a vault kept in a git remote.
import ArgumentParser
import TokenVault

struct Clone: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clone",
        _superCommandName: ZToken.name,
        abstract: "Make this machine's vault from a git remote that holds one.",
        discussion: """
            Fetches the repository without letting git write the vault's files, checks them as every \
            command checks a vault, writes them with ztoken's own atomic writes, and moves the vault into \
            place. It opens with the passphrase of the vault it came from; keep it in step with \
            'ztoken sync'.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The git remote (a URL or a path).", valueName: "remote"))
    var remote: String

    @Flag(help: "Print the cloned vault as JSON.")
    var json = false

    func run() throws {
        let vault = try Vault.clone(from: remote, to: vaultOptions.location)
        let tokens = try vault.tokens()
        if json {
            print(
                JSONText.object([
                    ("vault", JSONText.quote(vault.path)), ("vaultId", JSONText.quote(vault.vaultID)),
                    ("activeTokens", JSONText.number(tokens.count { $0.state == .active })),
                ]))
        }
        Output.note(
            "cloned the vault \(vault.vaultID) into \(Output.safe(vault.path)): "
                + Output.count(tokens.count, "token") + " not revoked")
    }
}
