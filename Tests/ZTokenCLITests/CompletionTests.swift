// Shell completion scripts: swift-argument-parser generates them; each must
// be produced without error and know every subcommand listed by --help, so a
// subcommand added later is covered without editing this test.
import Foundation
import TestSupport
import Testing

@Suite struct CompletionTests {
    /// The subcommands named in `ztoken --help`'s SUBCOMMANDS section.
    static func subcommandsFromHelp(_ box: Sandbox) throws -> [String] {
        let help = try box.run(["--help"])
        try #require(help.status == 0, "\(help)")
        let section = try #require(help.stdout.components(separatedBy: "SUBCOMMANDS:\n").last)
        return section.split(separator: "\n").compactMap { line in
            // A subcommand line is indented two spaces; wrapped abstracts more.
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first,
                name.allSatisfy({ $0.isLowercase || $0 == "-" })
            else { return nil }
            return String(name)
        }
    }

    @Test func helpListsTheKnownSubcommands() throws {
        let names = try Self.subcommandsFromHelp(try Sandbox())
        #expect(
            Set([
                "init", "create", "list", "revoke", "verify", "zbot", "export", "keygen", "backup", "restore", "doctor",
            ])
            .isSubset(of: Set(names)), "\(names)")
    }

    /// A subcommand's command line is parsed by the subcommand alone
    /// (ZToken.parseSubcommand); options only the root handles must still
    /// reach it wherever they are written.
    @Test(arguments: ["bash", "zsh"])
    func aCompletionRequestAfterASubcommandGetsTheRootScript(shell: String) throws {
        let box = try Sandbox()
        let root = try box.run(["--generate-completion-script", shell])
        let after = try box.run(["list", "--generate-completion-script", shell])
        #expect(root.status == 0 && after.status == 0, "\(after)")
        #expect(after.stdout == root.stdout)
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionScriptMentionsEverySubcommand(shell: String) throws {
        let box = try Sandbox()
        let names = try Self.subcommandsFromHelp(box)
        let result = try box.run(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        #expect(result.stdout.count > 200)
        for name in names {
            #expect(result.stdout.contains(name), "the \(shell) completion script does not know '\(name)'")
        }
        // A subcommand's own options are completed too (create's --copy, revoke's --yes).
        #expect(result.stdout.contains("copy"))
        #expect(result.stdout.contains("yes"))
    }

    /// The bash script must at least be valid bash.
    @Test func theBashScriptParses() throws {
        let box = try Sandbox()
        let bash = try #require(ExternalTools.find("bash"), "bash is not installed")
        let result = try box.run(["--generate-completion-script", "bash"])
        try #require(result.status == 0)
        let script = box.root + "/ztoken.bash"
        box.write(result.stdout, to: script)
        let check = try box.run(["-n", script], executable: bash)
        #expect(check.status == 0, "\(check)")
    }

    // Completion of what exists (issue 16, item 9): the commands that take a
    // token offer the labels and ids of the active ones, read without a
    // passphrase. ArgumentParser 1.8.2's scripts call back as
    // `ztoken ---completion CMD -- positional@0 WORD-INDEX CURSOR WORDS…`
    // with SAP_SHELL naming the shell; these tests call back the same way.

    static let tokenCommands = ["revoke", "export", "show", "rename", "note", "expire", "rotate", "log"]

    /// A vault with two active tokens and a revoked one; returns the ids by label.
    static func vaultWithTokens(_ box: Sandbox) throws -> [String: String] {
        try box.initVault()
        _ = try box.create("ci")
        _ = try box.create("deploy key")
        _ = try box.create("gone")
        #expect(try box.run(["revoke", "gone", "--yes"]).status == 0)
        var ids: [String: String] = [:]
        for token in try box.listJSON() { ids[token["label"] as? String ?? ""] = token["id"] as? String }
        return ids
    }

    /// The callback of the completion of `command`'s first positional
    /// argument, with `word` being typed after the other `before` words.
    static func complete(
        _ box: Sandbox, _ command: String, _ word: String, before: [String] = [], shell: String = "bash"
    ) throws -> CLIResult {
        let words = ["ztoken", command] + before + [word]
        return try box.run(
            ["---completion", command, "--", "positional@0", String(words.count - 1), String(word.count)] + words,
            environment: ["SAP_SHELL": shell])
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func theCommandsThatTakeATokenCompleteActiveLabelsAndIds(shell: String) throws {
        let box = try Sandbox()
        let ids = try Self.vaultWithTokens(box)
        for command in Self.tokenCommands {
            let result = try Self.complete(box, command, "", shell: shell)
            #expect(result.status == 0 && result.stderr.isEmpty, "\(command): \(result)")
            for expected in ["ci", "deploy key", ids["ci"] ?? "?", ids["deploy key"] ?? "?"] {
                #expect(result.stdout.contains(expected), "\(shell) \(command) does not offer \(expected): \(result)")
            }
            // A revoked token is not offered, by label or by id.
            #expect(!result.stdout.contains("gone") && !result.stdout.contains(ids["gone"] ?? "?"), "\(result)")
        }
        let typed = try Self.complete(box, "show", "de", shell: shell)
        #expect(typed.stdout.contains("deploy") && !typed.stdout.contains("ci"), "\(typed)")
    }

    @Test func noVaultCompletesNothingAndSaysNothing() throws {
        let box = try Sandbox()
        let result = try Self.complete(box, "revoke", "")
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty && result.stderr.isEmpty)
        // A --vault on the command line is the vault read.
        let ids = try Self.vaultWithTokens(box)
        let elsewhere = try box.run(
            ["---completion", "revoke", "--", "positional@0", "4", "0", "ztoken", "revoke", "--vault", box.vault, ""],
            environment: ["ZTOKEN_VAULT": box.root + "/nowhere"])
        #expect(elsewhere.stdout.contains(ids["ci"] ?? "?"), "\(elsewhere)")
    }

    /// The generated bash script itself, run by bash as at a prompt where
    /// `ztoken revoke c<TAB>` was typed, offers the one active match.
    @Test func bashCompletesATokenLabelAtThePrompt() throws {
        let box = try Sandbox()
        let ids = try Self.vaultWithTokens(box)
        let bash = try #require(ExternalTools.find("bash"), "bash is not installed")
        let script = box.root + "/ztoken.bash"
        box.write(try box.run(["--generate-completion-script", "bash"]).stdout, to: script)
        let binary = try CLIHarness.requireBinary()
        let prompt = """
            source '\(script)'
            COMP_WORDS=('\(binary)' revoke "$1"); COMP_CWORD=2; COMP_LINE="ztoken revoke $1"; COMP_POINT=${#COMP_LINE}
            _ztoken ztoken "$1" revoke
            printf '<%s>\\n' "${COMPREPLY[@]}"
            """
        // Ids are offered too, and a random id may begin with the same letter:
        // expected are the label and any active token's id that matches.
        func expected(_ prefix: String, labels: [String]) -> Set<String> {
            let matching = ids.filter { $0.key != "gone" }.values.filter { $0.hasPrefix(prefix) }
            return Set((labels + matching).map { "<\($0)>" })
        }
        func offered(_ result: CLIResult) -> Set<String> { Set(result.stdoutLines.filter { $0 != "<>" }) }
        let typedC = try box.run(["-c", prompt, "bash", "c"], executable: bash)
        #expect(offered(typedC) == expected("c", labels: ["ci"]) && typedC.stderr.isEmpty, "\(typedC)")
        let typedG = try box.run(["-c", prompt, "bash", "g"], executable: bash)
        #expect(offered(typedG) == expected("g", labels: []), "a revoked token is not offered: \(typedG)")
    }
}
