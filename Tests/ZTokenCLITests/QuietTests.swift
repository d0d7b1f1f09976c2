// `--quiet`/`-q` (issue 16, item 4): every command takes it, before or after
// its name; it silences the `ztoken: …` notices and nothing else. Data on
// standard output, errors with their hints, and exit codes stay as they are.
import Foundation
import Testing

@Suite struct QuietTests {
    /// Each command is run twice, without and with `-q`: the first run shows
    /// there was a notice to silence, the second that it is gone while the
    /// data on standard output is unchanged in kind.
    @Test func quietSilencesTheNoticesOfEveryKindOfCommand() throws {
        let box = try Sandbox()
        try box.initVault()

        let empty = try box.run(["list"])
        #expect(empty.stderr.contains("ztoken: no active tokens"), "\(empty)")
        let emptyQuiet = try box.run(["-q", "list"])
        #expect(emptyQuiet.status == 0 && emptyQuiet.stdout.isEmpty && emptyQuiet.stderr.isEmpty, "\(emptyQuiet)")

        // create prints its notice only on a terminal; off one, nothing to
        // silence, and the token alone on standard output either way.
        let created = try box.run(["create", "first", "--quiet"])
        #expect(created.status == 0 && created.stderr.isEmpty, "\(created)")
        #expect(created.stdout.hasPrefix("ztk_") && created.stdoutLines.count == 1, "\(created)")
        let onTerminal = try box.runOnTerminal(["create", "shown"])
        #expect(onTerminal.screen.contains("ztoken: created shown"), "\(onTerminal)")
        let quietTerminal = try box.runOnTerminal(["-q", "create", "shown-quietly"])
        #expect(quietTerminal.status == 0, "\(quietTerminal)")
        #expect(quietTerminal.screen.firstMatch(of: /^ztk_[0-9A-Za-z]{39}\n$/) != nil, "\(quietTerminal)")

        let renamed = try box.run(["rename", "first", "second"])
        #expect(renamed.stderr.contains("ztoken: renamed first to second"), "\(renamed)")
        let renamedQuiet = try box.run(["rename", "second", "third", "-q"])
        #expect(renamedQuiet.status == 0 && renamedQuiet.stderr.isEmpty, "\(renamedQuiet)")
        #expect(try box.listJSON().contains { $0["label"] as? String == "third" })

        let revoked = try box.run(["revoke", "shown", "--yes"])
        #expect(revoked.stderr.contains("ztoken: revoked"), "\(revoked)")
        let revokedQuiet = try box.run(["--vault", box.vault, "-q", "revoke", "third", "--yes"])
        #expect(revokedQuiet.status == 0 && revokedQuiet.stderr.isEmpty, "\(revokedQuiet)")
        #expect(revoked.stdout.hasSuffix("\tshown\n"), "\(revoked)")
        #expect(
            revokedQuiet.stdout.hasSuffix("\tthird\n"), "the revoked token is data, never silenced: \(revokedQuiet)")

        let recipient = try box.run(["keygen", "-q", "--out", box.root + "/backup-key"])
        #expect(recipient.status == 0 && recipient.stdout.hasPrefix("age1") && recipient.stderr.isEmpty, "\(recipient)")
        let key = recipient.stdout.trimmingCharacters(in: .newlines)
        let backup = try box.run(["backup", "-r", key, "--out", box.root + "/b1.age"])
        #expect(backup.stderr.contains("ztoken: backed up"), "\(backup)")
        let backupQuiet = try box.run(["-q", "backup", "-r", key, "--out", box.root + "/b2.age"])
        #expect(backupQuiet.status == 0 && backupQuiet.stderr.isEmpty, "\(backupQuiet)")
        #expect(box.bytes(box.root + "/b2.age")?.isEmpty == false, "the quiet backup was not written")
    }

    /// Errors and their hints are never silenced, and the exit codes are
    /// those of the same commands without `-q`.
    @Test func quietKeepsErrorsHintsAndExitCodes() throws {
        let box = try Sandbox()
        try box.initVault()
        let cases: [[String]] = [
            ["revoke", "nosuch", "--yes"],
            ["rename", "nosuch", "other"],
            ["create", "bad\nlabel"],
            ["list", "--vault", box.root + "/no-vault"],
            ["backup", "--out", box.root + "/x.age"],
        ]
        for arguments in cases {
            let loud = try box.run(arguments)
            let quiet = try box.run(["-q"] + arguments)
            #expect(loud.status != 0, "\(arguments): \(loud)")
            #expect(quiet.status == loud.status, "\(arguments): \(quiet) against \(loud)")
            #expect(quiet.stderr.contains("ztoken: error: "), "\(arguments): \(quiet)")
            #expect(quiet.stderr == loud.stderr, "\(arguments): \(quiet) against \(loud)")
        }
    }

    /// Both spellings, before the command's name or after it, mean the same.
    @Test func quietIsAcceptedBeforeAndAfterTheCommandName() throws {
        let box = try Sandbox()
        try box.initVault()
        for arguments in [["-q", "list"], ["--quiet", "list"], ["list", "-q"], ["list", "--quiet"]] {
            let result = try box.run(arguments)
            #expect(result.status == 0 && result.stderr.isEmpty, "\(arguments): \(result)")
        }
        let keygen = try box.run(["--quiet", "keygen"])
        #expect(keygen.status == 0 && keygen.stdout.contains("AGE-SECRET-KEY-1"), "\(keygen)")
        #expect(keygen.stderr.isEmpty, "\(keygen)")
    }
}
