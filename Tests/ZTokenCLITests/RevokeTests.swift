// `ztoken revoke`: by label or id, or --all; asks on a terminal, refuses off
// one without --yes; deletes the revoked token's sealed record, also after
// a large revocation, and what an older ztoken's background remover left behind.
import Foundation
import TestSupport
import Testing
@_spi(Bench) import TokenVault

/// Drives a command on a pseudo-terminal and answers its `[y/N]` question.
enum PTY {
    /// Runs ztoken on a pseudo-terminal and answers its [y/N] question;
    /// what the terminal showed is the result's stdout.
    static func run(_ box: Sandbox, answer: String, _ arguments: [String]) throws -> CLIResult {
        let result = try box.runOnTerminal(arguments, steps: [("[y/N]", answer + "\n")])
        return CLIResult(status: result.status, signal: nil, stdoutBytes: Array(result.screen.utf8), stderrBytes: [])
    }
}

@Suite struct RevokeTests {
    @Test func offATerminalWithoutYesItRefuses() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("ci")
        let id = try #require(try box.listJSON().first?["id"] as? String)
        let before = box.bytes(box.vault + "/index.json")
        let result = try box.run(["revoke", "ci"])
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr
                == "ztoken: error: refusing to revoke token 'ci' (\(id)) without confirmation off a terminal\nztoken: hint: pass --yes to revoke from a script\n"
        )
        let all = try box.run(["revoke", "--all"])
        #expect(all.status == 64)
        #expect(
            all.stderr.hasPrefix(
                "ztoken: error: refusing to revoke token 'ci' (\(id)) without confirmation off a terminal\n"))
        #expect(box.bytes(box.vault + "/index.json") == before)
        #expect(try box.run(["verify"], stdin: token).status == 0)
    }

    @Test func revokesByLabelAndById() throws {
        let box = try Sandbox()
        try box.initVault()
        let a = try box.create("a")
        let b = try box.create("b")
        let ids = try box.listJSON().compactMap { $0["id"] as? String }
        let byLabel = try box.run(["revoke", "a", "--yes"])
        #expect(byLabel.status == 0)
        #expect(byLabel.stdout == "\(ids[0])\ta\n")
        #expect(byLabel.stderr == "ztoken: revoked token 'a' (\(ids[0]))\n")
        let byID = try box.run(["revoke", ids[1], "--yes"])
        #expect(byID.status == 0)
        #expect(byID.stdout == "\(ids[1])\tb\n")
        #expect(box.tree(box.vault + "/records").isEmpty, "revoked tokens' sealed records are deleted")
        #expect(try box.run(["verify"], stdin: a).stderr == "ztoken: token not valid: revoked\n")
        #expect(try box.run(["verify"], stdin: b).status == 1)
        #expect(try box.run(["doctor"]).status == 0)
        // Revoking it again by id says so and changes nothing.
        let again = try box.run(["revoke", ids[0], "--yes"])
        #expect(again.status == 64)
        #expect(again.stderr.hasPrefix("ztoken: error: token 'a' (\(ids[0])) is already revoked\n"))
    }

    @Test func unknownTokensAreNotFoundAndNothingIsRevoked() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("a")
        let result = try box.run(["revoke", "a", "nope", "--yes"])
        #expect(result.status == 66)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr
                == "ztoken: error: no active token 'nope'\nztoken: hint: run 'ztoken list --all' to see labels, ids and states\n"
        )
        #expect(try box.run(["verify"], stdin: token).status == 0)
    }

    @Test func allRevokesEveryActiveTokenAndNamesHowMany() throws {
        let box = try Sandbox()
        try box.initVault()
        let tokens = try (1...3).map { try box.create("t\($0)") }
        let result = try box.run(["revoke", "--all", "--yes"])
        #expect(result.status == 0)
        #expect(result.stdoutLines.count == 3)
        #expect(result.stderr == "ztoken: revoked 3 tokens\n")
        for token in tokens { #expect(try box.run(["verify"], stdin: token).status == 1) }
        #expect(try box.listJSON(all: false).isEmpty)
        let nothing = try box.run(["revoke", "--all", "--yes"])
        #expect(nothing.status == 0)
        #expect(nothing.stderr == "ztoken: no active tokens to revoke\n")
    }

    /// A large `revoke --all` deletes every record before it returns, and off
    /// a terminal says no more than a small one (progress is for terminals).
    @Test func aLargeRevokeAllLeavesNoRecordAndEveryTokenRevoked() throws {
        let box = try Sandbox()
        try box.initVault()
        let created = try Vault(openingAt: box.vault).createMany(labels: (1...1_500).map { "bulk-\($0)" })
        #expect(box.tree(box.vault + "/records").count == 1_500)
        let result = try box.run(["revoke", "--all", "--yes"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.count == 1_500)
        #expect(result.stderr == "ztoken: revoked 1500 tokens\n")
        #expect(box.tree(box.vault + "/records").isEmpty)
        #expect(!box.tree().contains { $0.hasPrefix(".revoked-") })
        let rows = try box.listJSON()
        #expect(rows.count == 1_500)
        #expect(rows.allSatisfy { $0["state"] as? String == "revoked" })
        let vault = try Vault(openingAt: box.vault)
        #expect(try vault.verify(created[700].token).reason == "revoked")
        #expect(try box.run(["doctor"]).stdout == "0 active, 1500 revoked; vault is healthy\n")
    }

    /// A `.revoked-<pid>-<hex>` directory an older ztoken left when its background
    /// remover was killed: the next writer deletes the records in it; a file
    /// ztoken did not put there stays, with the directory, and doctor names it.
    @Test func aLegacyRevokedDirectoryIsCleanedByTheNextCreate() throws {
        let box = try Sandbox()
        try box.initVault()
        let legacy = box.vault + "/.revoked-123-abcd"
        mkdir(legacy, 0o700)
        for name in ["aaaaaaaaaaaa.sealed", "bbbbbbbbbbbb.sealed", "234567abcdef.sealed"] {
            box.write("ztoken-record-v1\nsealed", to: legacy + "/" + name)
        }
        box.write("mine", to: legacy + "/notes.txt")
        let create = try box.run(["create", "after"])
        #expect(create.status == 0, "\(create)")
        #expect(box.tree(legacy) == ["notes.txt"])
        #expect(box.bytes(legacy + "/notes.txt") == Array("mine".utf8))
        #expect(try box.listJSON().map { $0["label"] as? String } == ["after"])
        let doctor = try box.run(["doctor", "--repair"])
        #expect(doctor.status == 65)
        #expect(
            doctor.stdout == """
                \(legacy): left by an interrupted revoke, holds 'notes.txt', which ztoken did not put there \
                [needs attention]; look at it and remove it by hand
                1 active, 0 revoked; problems found

                """)
        #expect(box.tree(legacy) == ["notes.txt"])
    }

    /// `doctor` reports such a directory that holds only records, and
    /// `doctor --repair` removes it.
    @Test func doctorRepairRemovesALegacyRevokedDirectory() throws {
        let box = try Sandbox()
        try box.initVault()
        let legacy = box.vault + "/.revoked-123-abcd"
        mkdir(legacy, 0o700)
        for name in ["aaaaaaaaaaaa.sealed", "bbbbbbbbbbbb.sealed"] {
            box.write("ztoken-record-v1\nsealed", to: legacy + "/" + name)
        }
        let doctor = try box.run(["doctor"])
        #expect(doctor.status == 65)
        let problem = "\(legacy): records of revoked tokens left by an interrupted revoke"
        #expect(doctor.stdout.hasPrefix(problem + " [repairable]; run 'ztoken doctor --repair'\n"))
        #expect(box.tree(legacy).count == 2, "doctor without --repair removes nothing")
        let repair = try box.run(["doctor", "--repair"])
        #expect(repair.status == 0, "\(repair)")
        #expect(repair.stdout.hasPrefix(problem + " [repaired]\n"))
        #expect(!FileManager.default.fileExists(atPath: legacy))
        #expect(try box.run(["doctor"]).status == 0)
    }

    @Test(arguments: [["revoke"], ["revoke", "--all", "a", "--yes"], ["revoke", "a", "--bogus"]])
    func badArgumentsAreUsageErrors(arguments: [String]) throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        let result = try box.run(arguments)
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("ztoken: error: "))
        #expect(try box.listJSON(all: false).count == 1)
    }

    @Test func onATerminalYesRevokesAndNoDeclines() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("ci")
        let id = try #require(try box.listJSON().first?["id"] as? String)
        let declined = try PTY.run(box, answer: "n", ["revoke", "ci"])
        #expect(declined.status == 1, "\(declined)")
        #expect(declined.stdout.contains("revoke token 'ci' (\(id))? [y/N]"))
        #expect(declined.stdout.contains("ztoken: nothing revoked"))
        #expect(try box.run(["verify"], stdin: token).status == 0)
        let empty = try PTY.run(box, answer: "", ["revoke", "ci"])
        #expect(empty.status == 1, "the default is no: \(empty)")
        let accepted = try PTY.run(box, answer: "y", ["revoke", "ci"])
        #expect(accepted.status == 0, "\(accepted)")
        #expect(accepted.stdout.contains("ztoken: revoked token 'ci' (\(id))"))
        #expect(try box.run(["verify"], stdin: token).status == 1)
    }

    @Test func onATerminalAllNamesTheCount() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        _ = try box.create("b")
        let ids = try box.listJSON().compactMap { $0["id"] as? String }
        let declined = try PTY.run(box, answer: "no", ["revoke", "--all"])
        #expect(declined.status == 1)
        #expect(
            declined.stdout.contains("revoke all 2 tokens: 'a' (\(ids[0])), 'b' (\(ids[1]))? [y/N]"), "\(declined)")
        #expect(try box.listJSON(all: false).count == 2)
    }

    /// The question names the first ten tokens it would revoke, then how many more.
    @Test func onATerminalTheQuestionNamesTenTokensThenHowManyMore() throws {
        let box = try Sandbox()
        try box.initVault()
        for n in 1...12 { _ = try box.create("t\(n)") }
        let ids = try box.listJSON().compactMap { $0["id"] as? String }
        let named = (1...10).map { "'t\($0)' (\(ids[$0 - 1]))" }.joined(separator: ", ")
        let declined = try PTY.run(box, answer: "n", ["revoke", "--all"])
        #expect(declined.status == 1)
        #expect(declined.stdout.contains("revoke all 12 tokens: \(named), and 2 more? [y/N]"), "\(declined)")
        let some = try PTY.run(box, answer: "n", ["revoke", "t1", "t2"])
        #expect(some.stdout.contains("revoke 2 tokens: 't1' (\(ids[0])), 't2' (\(ids[1]))? [y/N]"), "\(some)")
        #expect(try box.listJSON(all: false).count == 12)
    }

    /// Ctrl-D at the question is a no, and the next message starts on a new line.
    @Test func ctrlDAtTheQuestionDeclinesOnANewLine() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("ci")
        let result = try box.runOnTerminal(["revoke", "ci"], steps: [("[y/N] ", "\u{4}")])
        #expect(result.status == 1, "\(result)")
        #expect(result.screen.contains("? [y/N] \nztoken: nothing revoked\n"), "\(result)")
        #expect(try box.listJSON(all: false).count == 1)
    }
}
