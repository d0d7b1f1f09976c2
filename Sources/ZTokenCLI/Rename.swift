// `ztoken rename`: gives a token a new label.
import ArgumentParser
import TokenVault

struct Rename: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rename",
        _superCommandName: ZToken.name,
        abstract: "Give a token a new label.",
        discussion: """
            The new label follows the rules of create and must not be the label of another active or \
            expired token. A zBot token keeps its agent name (it is in the zBot's configuration).
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @OptionGroup var reference: TokenArgument
    var token: String { reference.token }

    @Argument(help: ArgumentHelp("The new label.", valueName: "new-label"))
    var newLabel: String

    func run() throws {
        let vault = try vaultOptions.open()
        let target = try vault.token(token)
        let renamed = try vault.rename(id: target.id, to: newLabel)
        Output.note("renamed \(Output.safe(target.label)) to \(Output.safe(renamed.label)) (id \(renamed.id))")
    }
}
