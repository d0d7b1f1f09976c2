// `ztoken create`: mints or imports a token and shows it exactly once.
import ArgumentParser
import TokenVault

// Values and defaults spelled out (see `VaultOptions.Seconds` for why).
extension TokenKind: ExpressibleByArgument {
    public var defaultValueDescription: String { rawValue }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        _superCommandName: ZToken.name,
        abstract: "Create a token and show it once.",
        discussion: """
            Mints a new token and prints it. It is shown only this once: the vault keeps it sealed and \
            no command prints it again. On a terminal a notice says so; off a terminal the token is \
            printed alone on one line, so T=$(ztoken create ci) works. With --stdin it imports a token \
            made elsewhere (surrounding whitespace trimmed) and prints only the new id and label: you \
            already have the token.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: "A name for the token, unique among active tokens.")
    var label: String

    @Option(help: "What the token is for.")
    var kind: TokenKind = .api

    @Flag(help: "Import a token read from standard input instead of minting one.")
    var stdin = false

    @Flag(
        help: ArgumentHelp(
            "Also put the token on the clipboard, cleared after 45 seconds (not with --stdin).",
            discussion:
                "With --quiet on a terminal the token goes only to the clipboard, unless the copy cannot be confirmed (OSC 52): then it is printed too."
        ))
    var copy = false

    @OptionGroup var lifetime: LifetimeOptions

    @Flag(help: "Print the token (not an imported one) and its metadata as JSON.")
    var json = false

    func validate() throws {
        if stdin && copy {
            throw ValidationError("--copy is for a minted token; an imported one is already yours to paste")
        }
    }

    func run() throws {
        let vault = try vaultOptions.open()
        let expiresAt = try lifetime.deadline()
        var imported: SecureBytes?
        if stdin {
            let input =
                Terminal.standardInputIsTerminal
                ? try SecretInput.askOnTerminal(prompt: "token to import: ")
                : try SecretInput.readStandardInput(limit: 4096)
            let token = input.trimmingASCIIWhitespace()
            guard token.count > 0 else {
                throw VaultError.invalidArgument(
                    "no token given", hint: "pipe the token in, as in 'ztoken create LABEL --stdin < token.txt'")
            }
            imported = token
        }
        let created = try vault.create(
            label: label, kind: kind, importing: imported, note: lifetime.note, expiresAt: expiresAt)
        // `--copy --quiet` on a terminal, the `pass -c` habit: the clipboard
        // instead of the screen, but only when a tool confirmed the copy, so
        // that no token is stored that nobody saw. Scripts and JSON still
        // get the token on standard output.
        let clipboardInstead = copy && Output.quiet && !json && Terminal.standardOutputIsTerminal
        if clipboardInstead, copyToClipboard(created.token) { return }
        do {
            try show(created)
        } catch {
            // Nobody saw the token: take it out again so the label stays free.
            throw vault.rollBack(created, after: error)
        }
        if copy && !clipboardInstead { copyToClipboard(created.token) }
    }

    /// Copies the token and says how; true when a clipboard tool confirmed
    /// it. The token is stored: a clipboard that fails is worth a warning,
    /// not a failed command a script would retry.
    @discardableResult
    private func copyToClipboard(_ token: SecureBytes) -> Bool {
        do {
            let outcome = try Clipboard.copy(token)
            // OSC 52 is never cleared by ztoken: the user must hear of it.
            outcome.confirmed ? Output.note(outcome.message) : Output.warning(outcome.message)
            return outcome.confirmed
        } catch let failure as VaultError {
            Output.warning("warning: not copied to the clipboard: \(failure.message)")
        } catch {
            Output.warning("warning: not copied to the clipboard")
        }
        return false
    }

    private func show(_ created: CreatedToken) throws {
        let info = created.info
        if stdin {
            // The user gave the token: printing it back would only put it on
            // one more screen or log. The id and label are what is new.
            if json {
                print(JSONText.object(info))
            } else {
                print(info.id + "\t" + Output.safe(info.label))
            }
            return
        }
        if json {
            // Every other key sorts before "token", which is written last as a secret.
            let fields = JSONText.object([
                ("createdAt", JSONText.quote(info.createdAt)), ("id", JSONText.quote(info.id)),
                ("kind", JSONText.quote(info.kind.rawValue)), ("label", JSONText.quote(info.label)),
                ("last4", JSONText.quote(info.last4)), ("expiresAt", info.expiresAt.map(JSONText.quote)),
                ("note", info.note.map(JSONText.quote)),
            ])
            try Terminal.writeToStandardOutput([
                .text(String(fields.dropLast()) + ",\"token\":\""),
                .jsonEscapedSecret(created.token),
                .text("\"}\n"),
            ])
        } else {
            try Terminal.writeToStandardOutput([.secret(created.token), .text("\n")])
        }
        if Terminal.standardOutputIsTerminal {
            Output.note(
                "created \(Output.safe(info.label)) (id \(info.id)); copy the token now: it will not be shown again")
        }
    }
}
