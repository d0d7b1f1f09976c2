// Help text compared word for word with the snapshots in Snapshots/, so any
// change to the interface shows up in review. Regenerate a snapshot by
// running the binary with --help and copying its standard output.
import Foundation
import Testing
import TokenVault

@Suite struct HelpTests {
    static let commands = [
        "", "init", "create", "list", "show", "rename", "note", "expire", "rotate", "revoke", "verify", "zbot",
        "export", "keygen", "backup", "restore", "doctor", "config", "passwd", "scan", "log", "sync", "clone", "git",
    ]

    @Test(arguments: commands)
    func helpMatchesTheSnapshot(command: String) throws {
        let box = try Sandbox()
        let result = try box.run((command.isEmpty ? [] : [command]) + ["--help"], environment: ["COLUMNS": "80"])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let name = command.isEmpty ? "ztoken" : "ztoken-\(command)"
        let path = CLIHarness.packageRoot + "/Tests/ZTokenCLITests/Snapshots/\(name).txt"
        let expected = try #require(
            box.bytes(path).map { String(decoding: $0, as: UTF8.self) }, "missing snapshot \(path)")
        #expect(result.stdout == expected)
        // `ztoken CMD …` is parsed by CMD alone, `ztoken help CMD` from the
        // root (ZToken.parseSubcommand): both must print the same help.
        if !command.isEmpty {
            let fromRoot = try box.run(["help", command], environment: ["COLUMNS": "80"])
            #expect(fromRoot.status == 0)
            #expect(fromRoot.stdout == expected)
            let version = try box.run([command, "--version"])
            #expect(version.status == 0 && version.stdout == Vault.libraryVersion + "\n")
        }
    }

    @Test(arguments: [("creat", "create"), ("lsit", "list"), ("revok", "revoke"), ("rot", "rotate")])
    func aMistypedCommandGetsTheClosestOne(typed: String, meant: String) throws {
        let box = try Sandbox()
        for arguments in [[typed], [typed, "x", "--json"], ["--vault", box.vault, typed], ["help", typed]] {
            let result = try box.run(arguments)
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stdout.isEmpty)
            #expect(
                result.stderr == "ztoken: error: unknown command '\(typed)'\nztoken: hint: did you mean '\(meant)'?\n",
                "\(arguments)")
        }
    }

    @Test func anUnknownCommandOrHelpTopicIsAUsageError() throws {
        let box = try Sandbox()
        for arguments in [["frobnicate"], ["help", "bogus"], ["help", "frobnicate", "--json"]] {
            let result = try box.run(arguments)
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stdout.isEmpty, "\(arguments): no help for a topic that does not exist")
            #expect(
                result.stderr.hasPrefix("ztoken: error: unknown command '"), "\(arguments): \(result.stderr)")
            #expect(result.stderr.hasSuffix("ztoken: hint: run 'ztoken help' to see the commands\n"))
        }
    }

    @Test func theTopLevelHelpNamesTheVaultOptionAndEveryEnvironmentVariable() throws {
        let box = try Sandbox()
        let help = try box.run(["--help"]).stdout
        #expect(help.contains("--vault DIR"))
        let read = try Self.environmentVariablesTheCodeReads()
        #expect(read.isSuperset(of: ["ZTOKEN_VAULT", "ZTOKEN_VAULT_PASSPHRASE_FILE", "DISPLAY"]), "\(read)")
        for name in read {
            #expect(help.contains("\n  \(name)\n"), "ztoken --help does not explain $\(name)")
        }
    }

    /// Every environment variable named in a `getenv("…")` or
    /// `environment("…")` call in Sources, except the test-only switches
    /// that release builds do not read.
    static func environmentVariablesTheCodeReads() throws -> Set<String> {
        var names: Set<String> = []
        let sources = CLIHarness.packageRoot + "/Sources"
        let walker = try #require(FileManager.default.enumerator(atPath: sources))
        for case let path as String in walker where path.hasSuffix(".swift") {
            let text = try String(contentsOfFile: sources + "/" + path, encoding: .utf8)
            for match in text.matches(of: /(?:getenv|environment)\("([A-Z_][A-Z0-9_]*)"\)/) {
                names.insert(String(match.output.1))
            }
        }
        return names.filter { !$0.hasPrefix("ZTOKEN_TESTONLY_") }
    }

    @Test func helpSubcommandAndVersion() throws {
        let box = try Sandbox()
        let help = try box.run(["help", "create"])
        #expect(help.status == 0)
        #expect(help.stdout.hasPrefix("OVERVIEW: Create a token and show it once."))
        let version = try box.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == Vault.libraryVersion + "\n")
    }
}
