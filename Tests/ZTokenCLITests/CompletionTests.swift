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
}
