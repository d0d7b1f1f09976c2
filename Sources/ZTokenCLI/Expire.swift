// `ztoken expire`: sets or removes an active token's expiry time.
import ArgumentParser
import TokenVault

struct Expire: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire",
        _superCommandName: ZToken.name,
        abstract: "Set when an active token expires, or make it never expire.",
        discussion: """
            WHEN is a duration from now (30s, 15m, 12h, 90d, 2w), an RFC 3339 date or time (a date alone \
            means 00:00 UTC that day), or 'never'. Only an active token's expiry can change: an expired \
            token stays expired (rotate or revoke it), as a revoked one stays revoked.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @OptionGroup var reference: TokenArgument
    var token: String { reference.token }

    @Argument(help: ArgumentHelp("A duration, a date or time, or 'never'.", valueName: "when"))
    var when: String

    func run() throws {
        let vault = try vaultOptions.open()
        let expiresAt = when == "never" ? nil : try Expiry.deadline(when)
        let target = try vault.activeToken(token)
        let changed = try vault.setExpiry(id: target.id, to: expiresAt)
        let what = changed.expiresAt.map { "expires at \($0)" } ?? "never expires"
        Output.note("\(Output.safe(changed.label)) (id \(changed.id)) \(what)")
    }
}
