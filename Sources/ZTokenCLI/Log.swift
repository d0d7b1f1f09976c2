// `ztoken log`: the vault's history, checked as it is read.
import ArgumentParser
import TokenVault

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        _superCommandName: ZToken.name,
        abstract: "Show the vault's history: what was done to which token, and when.",
        discussion: """
            Prints the events of the vault's log, oldest first: time, event, label, id and details. With \
            a token, only its events and those of the tokens it was rotated from or to. The log is a hash \
            chain anchored in index.json, checked as it is read: an edited, truncated or reordered log is \
            exit 65 naming the first bad line ('ztoken doctor' also replays it against the index). It \
            never holds a token, a passphrase or a key.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(
        help: ArgumentHelp("Only this token's events (a label or id).", valueName: "label-or-id"),
        completion: TokenCompletion.activeTokens)
    var token: String?

    @Option(
        help: ArgumentHelp(
            "Only events from this time on (a date, or a duration such as 7d meaning that long ago).",
            valueName: "when"))
    var since: String?

    @Flag(help: "Print a JSON array, one object per event.")
    var json = false

    func run() throws {
        let start = try since.map(Expiry.start)
        let events = try vaultOptions.open().history(of: token, since: start)
        if json {
            print(JSONText.array(events.map(Self.object)))
            return
        }
        guard !events.isEmpty else {
            Output.note(since == nil ? "the log holds no events" : "no events since \(Output.safe(since ?? ""))")
            return
        }
        let rows = events.map { event in
            [
                event.time, event.kind.rawValue, event.label ?? "", event.tokenID ?? "",
                [event.replacedID.map { "replaces \($0)" }, event.detail].compactMap { $0 }.joined(separator: "; "),
            ]
        }
        Output.toStandardOutput(Table.render(header: ["TIME", "EVENT", "LABEL", "ID", "DETAILS"], rows: rows))
    }

    static func object(_ event: HistoryEvent) -> String {
        JSONText.object([
            ("time", JSONText.quote(event.time)), ("event", JSONText.quote(event.kind.rawValue)),
            ("id", event.tokenID.map(JSONText.quote)), ("label", event.label.map(JSONText.quote)),
            ("replaces", event.replacedID.map(JSONText.quote)), ("detail", event.detail.map(JSONText.quote)),
        ])
    }
}
