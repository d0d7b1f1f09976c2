// `ztoken doctor`: checks the vault; --repair removes provable garbage.
import ArgumentParser
import TokenVault

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        _superCommandName: ZToken.name,
        abstract: "Check the vault's files, and repair what is safe to repair.",
        discussion: """
            Checks permissions, every file's format, that each active token has its sealed record, and \
            leftovers of interrupted writes. --repair removes only what is provably garbage: temp files, \
            records of revoked tokens, records with no index entry. Exit 0 when healthy, 65 otherwise.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Remove leftovers that are provably garbage.")
    var repair = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let vault = try vaultOptions.open()
        let report = try vault.doctor(repair: repair)
        for path in report.keptAside {
            Output.note(
                "a vault replaced by restore is kept aside at \(Output.safe(path)); remove it once you no longer need it"
            )
        }
        if json {
            let findings = report.findings.map {
                JSONText.object([
                    ("path", JSONText.quote($0.path)), ("problem", JSONText.quote($0.problem)),
                    ("repairable", String($0.repairable)), ("repaired", String($0.repaired)),
                ])
            }
            print(
                JSONText.object([
                    ("activeTokens", String(report.activeTokens)), ("findings", JSONText.array(findings)),
                    ("healthy", String(report.isHealthy)), ("revokedTokens", String(report.revokedTokens)),
                ]))
        } else {
            for finding in report.findings {
                let state = finding.repaired ? "repaired" : finding.repairable ? "repairable" : "needs attention"
                print("\(Output.safe(finding.path)): \(Output.safe(finding.problem)) [\(state)]")
            }
            print(
                "\(report.activeTokens) active, \(report.revokedTokens) revoked; "
                    + (report.isHealthy ? "vault is healthy" : "problems found"))
        }
        if !report.isHealthy {
            if !json && !repair && report.findings.contains(where: { $0.repairable }) {
                Output.hint("run 'ztoken doctor --repair' to remove the repairable leftovers")
            }
            throw ExitCode(65)
        }
    }
}
