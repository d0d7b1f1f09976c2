// `ztoken revoke`: revokes tokens after a confirmation.
import ArgumentParser
import TokenVault

struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        _superCommandName: ZToken.name,
        abstract: "Revoke tokens by label or id, or all of them.",
        discussion: """
            Asks [y/N] on a terminal. Off a terminal it refuses unless --yes is given. A revoked token's \
            sealed record is deleted, so it can never be exported again. --all revokes every active token \
            in one atomic rewrite of the index; --expired revokes every expired token the same way.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(
        help: ArgumentHelp("Labels or ids of the tokens to revoke.", valueName: "label-or-id"),
        completion: TokenCompletion.activeTokens)
    var tokens: [String] = []

    @Flag(help: "Revoke every active token.")
    var all = false

    @Flag(help: "Revoke every expired token.")
    var expired = false

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    @Flag(help: "Print the revoked tokens as a JSON array, one object per token as 'list --json' shows it.")
    var json = false

    func validate() throws {
        if all && expired { throw ValidationError("give --all or --expired, not both") }
        if (all || expired) && !tokens.isEmpty {
            throw ValidationError("give labels or ids, or \(all ? "--all" : "--expired"), not both")
        }
        if !all && !expired && tokens.isEmpty { throw ValidationError("name the tokens to revoke, or pass --all") }
    }

    func run() throws {
        let vault = try vaultOptions.open()
        // The tokens asked about: with --all, every active one.
        let targets: [TokenInfo]
        if all || expired {
            // --all: every token not revoked (an expired one too); --expired:
            // the expired ones, which stay expired, so the set cannot change.
            targets = try vault.tokens().filter { all || $0.state == .expired }
        } else {
            targets = try vault.resolve(tokens)
            if let done = targets.first(where: { $0.state == .revoked }) {
                throw VaultError.invalidArgument(
                    "token \(VaultError.quotedLabel(done.label)) (\(done.id)) is already revoked")
            }
        }
        let ids = targets.map(\.id)
        guard let first = targets.first else {
            if json { print(JSONText.array([])) }
            Output.note(expired ? "no expired tokens to revoke" : "no active tokens to revoke")
            return
        }
        let what =
            ids.count == 1
            ? "\(expired ? "expired " : "")token \(VaultError.quotedLabel(first.label)) (\(first.id))"
            : Output.count(ids.count, expired ? "expired token" : "token")
        if !yes {
            guard Terminal.standardInputIsTerminal else {
                throw VaultError.invalidArgument(
                    "refusing to revoke \(what) without confirmation off a terminal",
                    hint: "pass --yes to revoke from a script")
            }
            // The question names what it revokes (ten at most), as the answer covers exactly those.
            let names = ids.count == 1 ? "" : ": " + Output.named(targets.map { ($0.label, $0.id) })
            guard try Terminal.confirm("revoke \(all ? "all " : "")\(what)\(names)?") else {
                Output.note("nothing revoked")
                throw ExitCode(1)
            }
        }
        if Terminal.standardErrorIsTerminal { Self.showProgress(of: vault) }
        let revoked = try vault.revoke(ids: ids)
        if json {
            print(JSONText.array(revoked.map { JSONText.object($0) }))
        } else {
            print(revoked.map { $0.id + "\t" + Output.safe($0.label) + "\n" }.joined(), terminator: "")
        }
        Output.note("revoked \(what)")
    }

    /// Shows on standard error how many sealed records are deleted, once
    /// their removal has run for about a second (a revocation of many
    /// thousands), rewriting one line.
    static func showProgress(of vault: Vault) {
        var start = ContinuousClock.now
        var showing = false
        vault.onRecordRemoval = { done, total in
            if done == 0 { start = .now }
            guard showing || ContinuousClock.now - start >= .seconds(1) else { return }
            showing = true
            Output.progress("removing sealed records… \(done)/\(total)", last: done == total)
        }
    }
}
