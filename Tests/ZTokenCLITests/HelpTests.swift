// Help text compared word for word with the snapshots in Snapshots/, so any
// change to the interface shows up in review. Regenerate a snapshot by
// running the binary with --help and copying its standard output.
import Foundation
import Testing
import TokenVault

@Suite struct HelpTests {
    static let commands = [
        "", "init", "create", "list", "show", "rename", "note", "expire", "rotate", "revoke", "verify", "zbot",
        "export", "keygen", "backup", "restore", "doctor", "config", "passwd", "scan", "log",
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
