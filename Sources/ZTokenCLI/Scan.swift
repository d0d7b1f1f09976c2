// `ztoken scan`: which tokens leaked into files, and are they still active?
// Findings go to standard output as they are found (one line each, or one
// JSON object at the end with --json), redacted; skipped and unreadable
// files and the summary go to standard error. Exit 1 when an active token of
// this vault was found (with --strict, also an unknown well-formed one), 74
// when nothing could be read, else 0.
import ArgumentParser
import TokenVault

struct Scan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        _superCommandName: ZToken.name,
        abstract: "Find leaked tokens in files and say which of this vault's they are.",
        discussion: """
            Reads files and directories (recursively, without following symbolic links below the paths \
            given) for ztoken tokens with a valid checksum and for this vault's imported tokens, and \
            prints each as FILE:LINE:COLUMN, the token redacted, and its state: active, expired, \
            revoked, or unknown (not a token of this vault). Works without a vault, reporting every token as \
            unknown. Needs no passphrase. Exit 1 when an active token of this vault was found.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(
        help: ArgumentHelp(
            "Files or directories to scan (default: the current directory; - reads standard input).",
            valueName: "path"))
    var paths: [String] = []

    @Flag(help: "Scan what is staged in the current git repository (for a pre-commit hook).")
    var gitStaged = false

    @Flag(help: "Scan every blob reachable from HEAD in the current git repository.")
    var gitHistory = false

    @Flag(help: "Also exit 1 for a well-formed token that is not in this vault.")
    var strict = false

    @Flag(help: "Print the findings as one JSON object.")
    var json = false

    func validate() throws {
        if gitStaged && gitHistory { throw ValidationError("--git-staged and --git-history cannot be combined") }
        if (gitStaged || gitHistory) && !paths.isEmpty {
            throw ValidationError("paths cannot be given with --git-staged or --git-history")
        }
    }

    func run() throws {
        let vault: Vault?
        do {
            vault = try vaultOptions.open()
        } catch VaultError.vaultNotFound {
            // A CI runner has no vault: well-formed tokens are still found.
            vault = nil
        }
        var findings: [ScanFinding] = []
        var skipped: [(file: String, reason: String)] = []
        var problems: [String] = []
        let showBlob = gitHistory
        let scanner = try LeakScanner(vault: vault) { event in
            switch event {
            case .finding(let finding):
                findings.append(finding)
                if !json { print(Self.line(for: finding, showBlob: showBlob)) }
            case .skipped(let file, let reason):
                skipped.append((file, reason))
                Output.warning("skipped \(Output.safe(file)): \(reason)")
            case .unreadable(let error):
                problems.append(error.message)
                Output.warning("\(error.message) (skipped)")
            }
        }
        if gitStaged {
            try scanner.scanGitStaged()
        } else if gitHistory {
            try scanner.scanGitHistory()
        } else {
            for path in paths.isEmpty ? ["."] : paths {
                if path == "-" { scanner.scanStandardInput() } else { scanner.scan(path: path) }
            }
        }

        let active = findings.filter { $0.token?.state == .active }.count
        let unknown = findings.filter { $0.token == nil }.count
        if json {
            print(
                JSONText.object([
                    ("bytes", String(scanner.bytesScanned)), ("files", String(scanner.filesScanned)),
                    ("findings", JSONText.array(findings.map(Self.object))),
                    (
                        "skipped",
                        JSONText.array(
                            skipped.map {
                                JSONText.object([
                                    ("file", JSONText.quote($0.file)), ("reason", JSONText.quote($0.reason)),
                                ])
                            })
                    ),
                    ("unreadable", JSONText.array(problems.map(JSONText.quote))),
                ]))
        }
        if scanner.filesScanned == 0 && scanner.unreadableCount > 0 {
            Output.error("nothing could be read")
            throw ExitCode(74)
        }
        let expired = findings.filter { $0.token?.state == .expired }.count
        let revoked = findings.filter { $0.token?.state == .revoked }.count
        Output.note(
            "scanned \(Output.count(scanner.filesScanned, "file")) "
                + "(\(Output.count(scanner.bytesScanned, "byte"))): "
                + (findings.isEmpty
                    ? "no tokens found"
                    : "\(Output.count(findings.count, "token")) found: "
                        + "\(active) active, " + (expired > 0 ? "\(expired) expired, " : "")
                        + "\(revoked) revoked, \(unknown) unknown"))
        if active > 0 {
            Output.hint("revoke (or rotate) each active token found, then remove it from where it leaked")
            throw ExitCode(1)
        }
        if strict && unknown > 0 { throw ExitCode(1) }
    }

    /// `FILE:LINE:COLUMN: ztk_…LAST STATE [ID LABEL]`, every text made terminal-safe.
    static func line(for finding: ScanFinding, showBlob: Bool) -> String {
        var text =
            "\(Output.safe(finding.file)):\(finding.line):\(finding.column): \(finding.redacted) \(finding.state)"
        if let token = finding.token { text += " \(token.id) \(Output.safe(token.label))" }
        if showBlob, let blob = finding.blob { text += " (blob \(blob.prefix(12)))" }
        return text
    }

    static func object(_ finding: ScanFinding) -> String {
        JSONText.object([
            ("file", JSONText.quote(finding.file)), ("blob", finding.blob.map(JSONText.quote)),
            ("line", String(finding.line)), ("column", String(finding.column)),
            ("last4", JSONText.quote(finding.last4)),
            ("form", JSONText.quote(finding.isMintedForm ? "ztk" : "imported")),
            ("state", JSONText.quote(finding.state)), ("id", finding.token.map { JSONText.quote($0.id) }),
            ("label", finding.token.map { JSONText.quote($0.label) }),
        ])
    }
}
