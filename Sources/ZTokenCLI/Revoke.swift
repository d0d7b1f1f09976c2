// `ztoken revoke`: revokes tokens after a confirmation.
import ArgumentParser
import TokenVault

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke tokens by label or id, or all of them.",
        discussion: """
            Asks [y/N] on a terminal. Off a terminal it refuses unless --yes is given. A revoked token's \
            sealed record is deleted, so it can never be exported again. --all revokes every active token \
            in one atomic rewrite of the index.
            """)

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("Labels or ids of the tokens to revoke.", valueName: "label-or-id"))
    var tokens: [String] = []

    @Flag(help: "Revoke every active token.")
    var all = false

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    func validate() throws {
        if all && !tokens.isEmpty { throw ValidationError("give labels or ids, or --all, not both") }
        if !all && tokens.isEmpty { throw ValidationError("name the tokens to revoke, or pass --all") }
    }

    func run() throws {
        let vault = try vaultOptions.open()
        let targets = all ? try vault.tokens() : try vault.resolve(tokens)
        if let done = targets.first(where: { $0.state == .revoked }) {
            throw VaultError.invalidArgument("token \(VaultError.quotedLabel(done.label)) (\(done.id)) is already revoked")
        }
        guard !targets.isEmpty else {
            Output.note("no active tokens to revoke")
            return
        }
        let what = targets.count == 1
            ? "token \(VaultError.quotedLabel(targets[0].label)) (\(targets[0].id))"
            : "\(targets.count) tokens"
        if !yes {
            guard Terminal.standardInputIsTerminal else {
                throw VaultError.invalidArgument("refusing to revoke \(what) without confirmation off a terminal",
                                                 hint: "pass --yes to revoke from a script")
            }
            guard try Terminal.confirm("revoke \(all ? "all " : "")\(what)?") else {
                Output.note("nothing revoked")
                throw ExitCode(1)
            }
        }
        let revoked = try vault.revoke(ids: targets.map(\.id))
        for token in revoked {
            print("\(token.id)\t\(Output.safe(token.label))")
        }
        Output.note("revoked \(what)")
    }
}
