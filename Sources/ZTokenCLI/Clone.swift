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

    func run() throws {
        let vault = try Vault.clone(from: remote, to: vaultOptions.location)
        Output.note(
            "cloned the vault \(vault.vaultID) into \(Output.safe(vault.path)): "
                + Output.count(try vault.tokens().count, "token") + " not revoked")
    }
}
