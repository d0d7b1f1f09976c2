// Every hint names only flags and commands that exist for the command that
// printed it. Each scenario below provokes one or more hints (every site in
// Sources that writes a hint naming a flag or a command has one); the test
// collects every `ztoken: hint:` line, and checks each `--flag` against the
// --help of the command it belongs to: the one quoted with it
// (`'ztoken doctor --repair'`), else the one that printed the hint.
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct HintTests {
    /// A command line to provoke hints, and what to set up first.
    struct Scenario: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        var stdin: String? = nil
        /// Run with no controlling terminal (`setsid`), so prompts cannot be answered.
        var detached = false
        var setUp: @Sendable (Sandbox) throws -> Void = { _ in }
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

    static let scenarios: [Scenario] = [
        Scenario(arguments: ["list"]),  // no vault: --vault
        Scenario(arguments: ["keygen", "--out", "exists"], setUp: { box in box.write("x", to: box.root + "/exists") }),
        Scenario(arguments: ["init", "--vault-passphrase-file", "passphrase"], setUp: initialized),
        Scenario(
            arguments: ["backup", "-r", recipient, "--out", "exists"],
            setUp: { box in
                try initialized(box)
                box.write("x", to: box.root + "/exists")
            }),
        Scenario(arguments: ["show", "nosuch"], setUp: initialized),
        Scenario(arguments: ["list"], setUp: initialized),  // empty: 'ztoken create LABEL'
        Scenario(arguments: ["revoke", "ci"], setUp: withToken),  // off a terminal: --yes
        Scenario(arguments: ["zbot", "bot", "-r", recipient, "--out", "bot.age"], setUp: initialized),
        Scenario(arguments: ["config", "server-url"], setUp: initialized),
        Scenario(arguments: ["create", "empty", "--stdin"], stdin: "", setUp: initialized),
        Scenario(arguments: ["create", "ci"], setUp: withToken),  // label in use
        Scenario(arguments: ["init"], detached: true),  // no terminal for the new passphrase
        Scenario(arguments: ["export", "ci", "--plain-dir", "plain"], detached: true, setUp: withToken),
        Scenario(
            arguments: ["passwd", "--vault-passphrase-file", "passphrase"], detached: true, setUp: initialized),
        Scenario(
            arguments: ["export", "ci", "--vault-passphrase-file", "passphrase", "-p", "--out", "ci.age"],
            detached: true, setUp: withToken),
        Scenario(
            arguments: ["backup", "-p", "--out", "backup.age"], detached: true, setUp: initialized),
        Scenario(arguments: ["restore", "backup.age", "-p"], detached: true, setUp: withBackup),
        Scenario(arguments: ["creat", "x"]),
        Scenario(arguments: ["help", "bogus"]),
        Scenario(arguments: ["create", "a", "--nope"], setUp: initialized),
        Scenario(
            arguments: ["list"],
            setUp: { box in
                try initialized(box)
                chmod(box.vault, 0o755)
            }),
        Scenario(
            arguments: ["list"],
            setUp: { box in
                try initialized(box)
                box.write("{", to: box.vault + "/index.json")
            }),
        Scenario(
            arguments: ["doctor"],
            setUp: { box in
                try initialized(box)
                box.write("x", to: box.vault + "/.tmp-left-over")
            }),
        Scenario(
            arguments: ["list"],
            setUp: { box in
                try initialized(box)
                rename(box.vault, box.root + "/real")
                symlink(box.root + "/real", box.vault)
            }),
        Scenario(
            arguments: [
                "restore", "backup.age", "-i", "key.txt", "--force", "--yes", "--vault-passphrase-file", "passphrase",
            ],
            setUp: { box in
                try withBackup(box)
                removeTemporaryDirectory(box.vault)
                try box.initVault()
            }),
    ]

    static func initialized(_ box: Sandbox) throws { try box.initVault() }

    static func withToken(_ box: Sandbox) throws {
        try box.initVault()
        _ = try box.create("ci")
    }

    /// A vault with a token and a backup of it to `key.txt`'s recipient.
    static func withBackup(_ box: Sandbox) throws {
        try withToken(box)
        let recipient = try box.run(["keygen", "--out", "key.txt"]).stdout.trimmingCharacters(in: .newlines)
        let backup = try box.run(["backup", "-r", recipient, "--out", "backup.age"])
        try #require(backup.status == 0, "\(backup)")
    }

    @Test(arguments: scenarios)
    func everyHintNamesOnlyWhatTheCommandHas(scenario: Scenario) throws {
        let box = try Sandbox()
        try scenario.setUp(box)
        // Relative paths in the arguments are in the sandbox, where commands run.
        let arguments = scenario.arguments.map { $0 == "passphrase" ? box.passphraseFile : $0 }
        let result: CLIResult
        if scenario.detached {
            let setsid = try ExternalTools.locate("setsid", package: "util-linux")
            result = try box.run(
                [try CLIHarness.requireBinary()] + arguments, stdin: scenario.stdin, executable: setsid)
        } else {
            result = try box.run(arguments, stdin: scenario.stdin)
        }
        let hints = result.stderr.split(separator: "\n").filter { $0.hasPrefix("ztoken: hint: ") }
            .map { String($0.dropFirst("ztoken: hint: ".count)) }
        try #require(!hints.isEmpty, "no hint was provoked: \(result)")
        let printer = Self.command(of: arguments)
        for hint in hints {
            for (command, flag) in Self.flags(in: hint, printedBy: printer) {
                let help = try Self.help(of: command, box)
                #expect(
                    help != nil, "hint '\(hint)' names the command 'ztoken \(command)', which does not exist")
                if let help {
                    #expect(
                        Self.words(of: help).contains(flag),
                        "hint '\(hint)' names \(flag), which 'ztoken \(command)' does not have")
                }
            }
        }
    }

    /// The subcommand a command line runs ("" for the root).
    static func command(of arguments: [String]) -> String {
        arguments.first { !$0.hasPrefix("-") && $0 != "help" } ?? ""
    }

    /// Every `--flag` in a hint with the command it belongs to; a quoted
    /// `'ztoken CMD …'` also names CMD itself (flag ""), which must exist.
    static func flags(in hint: String, printedBy printer: String) -> [(command: String, flag: String)] {
        var found: [(command: String, flag: String)] = []
        for quoted in hint.matches(of: /'ztoken ([^']*)'/) {
            let words = quoted.output.1.split(separator: " ").map(String.init)
            guard let command = words.first, command != "help" else { continue }
            found.append((command, ""))
            found += words.filter { $0.hasPrefix("--") }.map { (command, $0) }
        }
        let outside = hint.replacing(/'ztoken[^']*'/, with: "")
        found += outside.matches(of: /--[a-z][a-z0-9-]*/).map { (printer, String($0.output)) }
        return found
    }

    /// `ztoken CMD --help`, or nil when CMD is no command.
    static func help(of command: String, _ box: Sandbox) throws -> String? {
        let result = try box.run((command.isEmpty ? [] : [command]) + ["--help"])
        return result.status == 0 ? result.stdout : nil
    }

    static func words(of help: String) -> Set<String> {
        Set(help.split { !($0.isLetter || $0.isNumber || $0 == "-") }.map(String.init)).union([""])
    }
}
