import ArgumentParser
import TokenVault

// Where output goes and how it is worded (as age's tui.go states it): data
// to standard output; everything for the person to standard error, as
// `ztoken: error: …`, `ztoken: hint: …` or `ztoken: …`, lowercase, one line
// each, no trailing period. Labels are escaped before they reach a terminal.
// `--quiet` silences notices (`note`, `progress`) and nothing else: errors,
// hints, warnings (`warning`) and prompts always reach the person.
#if canImport(Glibc)
import Glibc
#endif

enum Output {
    /// The subcommand being run (set once, before it runs), so that a hint
    /// names only the flags that command has.
    nonisolated(unsafe) static var command: ParsableCommand.Type = ZToken.self

    /// True when the running command has the option or flag `name` (`--force`).
    static func offers(_ name: String) -> Bool {
        command.helpMessage(columns: 10_000).split { !($0.isLetter || $0.isNumber || $0 == "-") }
            .contains { $0 == name }
    }

    /// Refuses, before asking, a prompt for a secret that no terminal can
    /// answer, naming the flag that gives it in a script.
    static func requireTerminal(toAskFor what: String, inScripts flag: String) throws {
        guard !Terminal.hasTerminalToAskOn else { return }
        throw VaultError.invalidArgument("no terminal to ask for the \(what) on", hint: "in scripts, pass \(flag)")
    }

    nonisolated(unsafe) private static var toldOfSlowUnlock = false

    /// Says, once per command, that a key derivation at the moderate or
    /// sensitive cost is about to run (it takes a second or more).
    @Sendable static func slowUnlock() {
        guard !toldOfSlowUnlock else { return }
        toldOfSlowUnlock = true
        note("unlocking the vault; its key derivation takes a moment…")
    }

    static func error(_ text: String) {
        toStandardError("ztoken: " + painted("error:", .red, standardError: true) + " " + text)
    }
    static func hint(_ text: String) {
        toStandardError("ztoken: " + painted("hint:", .cyan, standardError: true) + " " + text)
    }

    /// Set by `--quiet`/`-q` (`QuietOption`), before the command runs.
    nonisolated(unsafe) static var quiet = false

    /// A notice: what was done, or what ztoken is doing. `--quiet` silences it.
    static func note(_ text: String) {
        guard !quiet else { return }
        toStandardError("ztoken: " + text)
    }

    /// A hint that goes with a notice, not with an error or a warning
    /// (`no active tokens`, then how to make one): silenced with it.
    static func noteHint(_ text: String) {
        guard !quiet else { return }
        hint(text)
    }

    /// A line `--quiet` never silences: a warning that something is wrong,
    /// or the reason of a failure (a wrong passphrase, a file skipped).
    static func warning(_ text: String) { toStandardError("ztoken: " + text) }

    /// The colours ztoken uses, as SGR parameters.
    enum Colour: String {
        case red = "31"
        case green = "32"
        case yellow = "33"
        case cyan = "36"
    }

    /// True when text for standard error (or output) may be coloured: the
    /// stream is a terminal and `NO_COLOR` is unset or empty (no-color.org).
    /// The one place that decides; JSON is never painted.
    static func colours(standardError: Bool) -> Bool {
        guard standardError ? Terminal.standardErrorIsTerminal : Terminal.standardOutputIsTerminal else {
            return false
        }
        guard let noColour = getenv("NO_COLOR") else { return true }
        return noColour.pointee == 0
    }

    /// `text` in `colour` when `colours(standardError:)` says so, else as it is.
    static func painted(_ text: String, _ colour: Colour, standardError: Bool) -> String {
        colours(standardError: standardError) ? "\u{1B}[\(colour.rawValue)m" + text + "\u{1B}[0m" : text
    }

    static func toStandardError(_ line: String, newline: Bool = true) {
        fflush(nil)
        let text = Array((newline ? line + "\n" : line).utf8)
        var offset = 0
        while offset < text.count {
            let n = text[offset...].withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            offset += n
        }
    }

    /// Rewrites the current line of standard error (a terminal) with a
    /// `ztoken: …` note, ending it with a newline when `last`.
    static func progress(_ text: String, last: Bool) {
        guard !quiet else { return }
        toStandardError("\rztoken: " + text, newline: last)
    }

    /// "1 token", "2 tokens": a count with its noun in the right number.
    /// The one place messages pluralise; `plural` for an irregular noun.
    static func count(_ n: Int, _ singular: String, plural: String? = nil) -> String {
        "\(n) " + (n == 1 ? singular : plural ?? singular + "s")
    }

    /// Tokens named as `'label' (id)`, the first ten, then "and N more".
    static func named(_ tokens: [(label: String, id: String)], limit: Int = 10) -> String {
        let shown = tokens.prefix(limit).map { "\(VaultError.quotedLabel($0.label)) (\($0.id))" }
        return shown.joined(separator: ", ") + (tokens.count > limit ? ", and \(tokens.count - limit) more" : "")
    }

    /// A label made safe to print on a terminal. Printable ASCII other than
    /// a backslash is its own escape (the common case, checked without Unicode).
    static func safe(_ label: String) -> String {
        label.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }
            ? label : TerminalSafe.escape(label)
    }

    /// Writes data to standard output, after whatever `print` has buffered.
    static func toStandardOutput(_ bytes: [UInt8]) {
        fflush(nil)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
    }

    /// Prints a vault error with its hint and returns its exit code.
    static func report(_ failure: VaultError) -> Int32 {
        error(failure.message)
        if let text = failure.commandLineHint { hint(text) }
        return failure.exitCode
    }
}

extension VaultError {
    /// The library's hint, or one that names the flag of ztoken that helps.
    var commandLineHint: String? {
        switch self {
        case .vaultNotFound:
            Output.offers("--vault")
                ? "run 'ztoken init' to make one, or pass --vault DIR" : "run 'ztoken init' to make one"
        case .noSuchToken: "run 'ztoken list --all' to see labels, ids and states"
        case .earlierKeyPair:
            "to go back to the backup's key pair and passphrase all the same (this vault is kept aside), "
                + "add --replace-different-vault"
        case .differentVault, .unverifiableVault:
            "to replace it all the same (it is kept aside), add --replace-different-vault"
        case .alreadyExists:
            Output.offers("--force") ? "choose another path, or pass --force to replace it" : "choose another path"
        case .busy:
            Output.offers("--lock-timeout")
                ? "wait for the other ztoken to finish, or raise --lock-timeout" : "wait for the other ztoken to finish"
        case .unseenTokenLeft(_, let id, _):
            "run 'ztoken revoke \(id)', or 'ztoken rotate \(id)' to get a token you can see"
        case .rekeyedDespiteFailure:
            "unlock the vault with the new passphrase from now on; run 'ztoken doctor --repair' to remove the old vault"
        case .restoredDespiteFailure:
            "the restore is done and need not be run again; run 'ztoken doctor' to check the vault"
        case .tokenExpired(_, let id, _):
            "expiry is never undone: run 'ztoken rotate \(id)' for a new token under its label, "
                + "or 'ztoken revoke \(id)'"
        case .labelOfExpiredToken:
            "replace the expired token with 'ztoken rotate LABEL', or free the label with 'ztoken revoke LABEL'"
        case .symlink:
            "ztoken never follows links in a vault: pass the real directory with --vault, "
                + "or put the real file in place of the link"
        default: hint
        }
    }
}
