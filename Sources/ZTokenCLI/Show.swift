// `ztoken show`: everything the vault knows about one token but the token.
import ArgumentParser
import TokenVault

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        _superCommandName: ZToken.name,
        abstract: "Show everything known about one token except the token itself.",
        discussion: """
            Shows the id, label, kind, state, creation time, last four characters, and where the token \
            has them: the expiry time, the revocation time, the note, the zBot's name and server, and the \
            ids of the tokens it was rotated from and to. Works for active, expired and revoked tokens; a \
            revoked token is found by its id, or by its label if no other token has that label.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @OptionGroup var reference: TokenArgument
    var token: String { reference.token }

    @Flag(help: "Print the token as one JSON object, as list --json does.")
    var json = false

    func run() throws {
        let info = try vaultOptions.open().token(token)
        if json {
            print(JSONText.object(info))
            return
        }
        let fields: [(String, String?)] = [
            ("id", info.id), ("label", info.label), ("kind", info.kind.rawValue), ("state", info.state.rawValue),
            ("created", info.createdAt), ("expires", info.expiresAt ?? "never"), ("revoked", info.revokedAt),
            ("last4", info.last4), ("note", info.note), ("agent", info.agentName), ("server", info.serverURL),
            ("rotated from", info.rotatedFrom), ("rotated to", info.rotatedTo),
            ("displayed", info.wasNeverDisplayed ? "never: ztoken stopped before showing it; rotate it again" : nil),
        ]
        let shown = fields.compactMap { name, value in value.map { (name, $0) } }
        let width = shown.map(\.0.count).max() ?? 0
        let lines = shown.map { name, value in
            name + String(repeating: " ", count: width - name.count + 2) + Output.safe(value) + "\n"
        }
        Output.toStandardOutput(Array(lines.joined().utf8))
    }
}
