// --note and --expires, which `create` and `zbot` share: what a new token is
// described as and when it stops being valid.
import ArgumentParser
import TokenVault

struct LifetimeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A note about the token, up to 1,000 characters.", valueName: "text"))
    var note: String?

    @Option(
        help: ArgumentHelp(
            "When the token expires: a duration (30s, 15m, 12h, 90d, 2w) or an RFC 3339 date or time.",
            discussion: "A date alone means 00:00 UTC that day. Default: never.", valueName: "when"))
    var expires: String?

    /// The expiry time in seconds since 1970, or nil for a token that never expires.
    func deadline() throws -> Int64? {
        try expires.map { try Expiry.deadline($0) }
    }
}
