// `ztoken doctor`: checks the vault; --repair removes provable garbage.
import ArgumentParser
import TokenVault

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        _superCommandName: ZToken.name,
        abstract: "Check the vault's files, and repair what is safe to repair.",
        discussion: """
            Checks permissions, every file's format, that each active token has its sealed record, \
            leftovers of interrupted writes, and the history: every link of the log, the index's anchor, and a \
            replay of the events against the index. Names the next step for each problem. --repair removes only \
            what is provably garbage (temp files, records of revoked tokens, records with no index entry, a \
            log tail no index anchors), records what it repaired in the log, and \
            takes group and other permissions away from your own vault files, never following a link and never \
            touching a file someone else owns. Exit 0 when healthy, 65 otherwise.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Remove provable garbage and restore safe modes on your vault files.")
    var repair = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let report = try Vault.doctor(at: vaultOptions.location, repair: repair, configure: vaultOptions.configure)
        for path in report.keptAside {
            Output.note(
                "a vault replaced by restore is kept aside at \(Output.safe(path)); remove it once you no longer need it"
            )
        }
        if json {
            let findings = report.findings.map { finding in
                JSONText.object([
                    ("path", JSONText.quote(finding.path)), ("problem", JSONText.quote(finding.problem)),
                    ("repairable", String(finding.repairable)), ("repaired", String(finding.repaired)),
                    ("nextStep", finding.repaired ? nil : JSONText.quote(Self.step(for: finding))),
                ])
            }
            // Counts only of what doctor could read: absent when the index could not be.
            print(
                JSONText.object([
                    ("activeTokens", report.activeTokens.map { String($0) }), ("findings", JSONText.array(findings)),
                    ("healthy", String(report.isHealthy)), ("revokedTokens", report.revokedTokens.map { String($0) }),
                ]))
        } else {
            for finding in report.findings {
                let state = finding.repaired ? "repaired" : finding.repairable ? "repairable" : "needs attention"
                let step = finding.repaired ? "" : "; " + Self.step(for: finding)
                print("\(Output.safe(finding.path)): \(Output.safe(finding.problem)) [\(state)]\(step)")
            }
            let counted =
                if let active = report.activeTokens, let revoked = report.revokedTokens {
                    "\(active) active, \(revoked) revoked"
                } else {
                    "tokens not counted (the index could not be read)"
                }
            print(counted + "; " + (report.isHealthy ? "vault is healthy" : "problems found"))
        }
        if report.wrappedKeyWasExposed {
            Output.hint(
                "vault-key.json was readable by other users, who may have copied the wrapped key: "
                    + "run 'ztoken passwd --rekey' to replace the key pair and passphrase")
        }
        if !report.isHealthy {
            if !json && !repair && report.findings.contains(where: { $0.repairable }) {
                Output.hint("run 'ztoken doctor --repair' to repair what is marked repairable")
            }
            throw ExitCode(65)
        }
    }

    /// The next step for a finding, naming the command or flag that takes it.
    static func step(for finding: DoctorFinding) -> String {
        // A path as one shell word, in single quotes, safe to show.
        func word(_ path: String) -> String {
            "'" + Output.safe(path).split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''")
                + "'"
        }
        let path = word(finding.path)
        switch finding.remedy {
        case .repair: return "run 'ztoken doctor --repair'"
        case .chmod(let mode): return "run 'ztoken doctor --repair', or: chmod \(String(mode, radix: 8)) \(path)"
        case .chown: return "if it is yours, run: sudo chown \"$(id -un)\" \(path); ztoken never touches it"
        case .replaceLink: return "put the real file in place of the link; ztoken never follows it"
        case .removeByHand: return "look at it and remove it by hand"
        case .restoreFromBackup: return "restore the vault from a backup: ztoken restore BACKUP --force"
        case .upgrade: return "upgrade ztoken to read it"
        case .moveRepositoryBack(let vault):
            return "move it back into the vault by hand: mv \(word(finding.path + "/.git")) \(word(vault + "/")) "
                + "(and \(word(finding.path + "/.gitignore")) if it is there), then remove the directory"
        }
    }
}
