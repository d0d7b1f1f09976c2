// `ztoken sync`: one vault on several machines, through a git remote.
import ArgumentParser
import TokenVault

struct Sync: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        _superCommandName: ZToken.name,
        abstract: "Share the vault with your other machines through a git remote.",
        discussion: """
            Commits the vault's state, fetches the remote, merges what it has that this vault lacks, \
            and pushes. The merge is ztoken's own: tokens made on either machine are kept, a revocation \
            on either wins, a label, note or setting changed on both takes the later change, and two \
            tokens with one label are both kept (the later renamed LABEL~2). What the remote sends is \
            checked as every command checks a vault before anything is installed; git never writes the \
            vault's files. Exit 65 when the remote cannot be merged safely (nothing changed), 75 when it \
            moved during the push (run sync again). Needs no passphrase. Make the vault a repository with \
            'ztoken git init' (or 'init --git') and add a remote with 'ztoken git remote add origin URL'.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Option(help: ArgumentHelp("The git remote to sync with.", valueName: "name"))
    var remote = "origin"

    @Flag(help: "Print the outcome as JSON.")
    var json = false

    func run() throws {
        let report = try vaultOptions.open().sync(remote: remote)
        for note in report.notes { Output.warning(note) }
        if json {
            print(
                JSONText.object([
                    ("remote", JSONText.quote(remote)), ("receivedEvents", JSONText.number(report.receivedEvents)),
                    ("committed", JSONText.bool(report.committed)), ("pushed", JSONText.bool(report.pushed)),
                ]))
        }
        let received = Output.count(report.receivedEvents, "event")
        switch (report.receivedEvents > 0, report.pushed) {
        case (true, true): Output.note("merged \(received) from \(remote) and pushed")
        case (true, false): Output.note("merged \(received) from \(remote); in sync")
        case (false, true): Output.note("pushed to \(remote); in sync")
        case (false, false): Output.note("in sync with \(remote)")
        }
    }
}
