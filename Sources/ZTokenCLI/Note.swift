// `ztoken note`: sets or clears a token's note.
import ArgumentParser
import TokenVault

struct Note: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note",
        _superCommandName: ZToken.name,
        abstract: "Set or remove the note of a token.",
        discussion: """
            With TEXT, sets the token's note (up to 1,000 characters, no control characters); without it, \
            removes the note. show, list and list --json print notes.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @OptionGroup var reference: TokenArgument
    var token: String { reference.token }

    @Argument(help: ArgumentHelp("The note; leave it out to remove the note.", valueName: "text"))
    var text: String?

    func run() throws {
        let vault = try vaultOptions.open()
        let target = try vault.token(token)
        let changed = try vault.setNote(id: target.id, to: text)
        let what = text == nil ? "removed the note of" : "set the note of"
        Output.note("\(what) \(Output.safe(changed.label)) (id \(changed.id))")
    }
}
