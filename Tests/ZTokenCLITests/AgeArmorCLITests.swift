// `--armor` end to end: zbot, export and backup write age's ASCII armor that
// the real `age -d` opens; restore reads armored backups, ours and `age -a`'s,
// and refuses malformed armor; binary output to a terminal is refused, which
// is driven through a pseudo-terminal.
import Foundation
import TestSupport
import Testing

@Suite("age armor on the command line")
struct AgeArmorCLITests {
    static let begin = "-----BEGIN AGE ENCRYPTED FILE-----\n"
    static let end = "-----END AGE ENCRYPTED FILE-----\n"

    /// `age -d -i KEY` of `input` (a path, or the bytes on stdin), with the real age.
    static func ageDecrypt(_ sandbox: Sandbox, key: String, file: String) throws -> CLIResult {
        let age = try #require(ExternalTools.find("age"), "age is not installed (Debian package age)")
        return try sandbox.run(["-d", "-i", key, file], executable: age)
    }

    /// The text is armor as age writes it: the header, 64-column lines, the footer.
    static func isArmor(_ text: String) -> Bool {
        guard text.hasPrefix(begin), text.hasSuffix(end) else { return false }
        let body = text.dropFirst(begin.count).dropLast(end.count).split(separator: "\n")
        return !body.isEmpty && body.dropLast().allSatisfy { $0.count == 64 } && body.last!.count <= 64
    }

    @Test func zbotExportAndBackupWriteArmorThatAgeOpens() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault(["--server", "https://zephyr.example.com"])
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "k")

        let bundle = sandbox.root + "/bot.age.txt"
        let zbot = try sandbox.run(["zbot", "bot", "-r", recipient, "--armor", "--out", bundle])
        #expect(zbot.status == 0, "\(zbot)")
        #expect(Self.isArmor(String(decoding: sandbox.bytes(bundle) ?? [], as: UTF8.self)))
        let properties = try ZBotBundleCLITests.extract(
            sandbox, bundle: bundle, key: key, member: "zbot/conf/zbot.properties")
        #expect(properties.contains("zbotName=bot\n"))

        // -a, to standard output (a file here, not a terminal).
        let exported = try sandbox.run([
            "export", "bot", "--vault-passphrase-file", sandbox.passphraseFile, "-r", recipient, "-a", "--out", "-",
        ])
        #expect(exported.status == 0, "\(exported)")
        #expect(Self.isArmor(exported.stdout), "\(exported.stdout)")
        let exportedFile = sandbox.root + "/export.txt"
        sandbox.write(exported.stdout, to: exportedFile)
        // The same token (the comment line holds the time of writing, so the files may differ there).
        let again = try ZBotBundleCLITests.extract(
            sandbox, bundle: exportedFile, key: key, member: "zbot/conf/zbot.properties")
        func token(_ text: String) -> Substring? {
            text.split(separator: "\n").first { $0.hasPrefix("zephyrApiToken=") }
        }
        #expect(token(properties) != nil && token(again) == token(properties))

        let backup = sandbox.root + "/backup.txt"
        let backedUp = try sandbox.run(["backup", "-r", recipient, "--armor", "--out", backup])
        #expect(backedUp.status == 0, "\(backedUp)")
        #expect(Self.isArmor(String(decoding: sandbox.bytes(backup) ?? [], as: UTF8.self)))
        let opened = try Self.ageDecrypt(sandbox, key: key, file: backup)
        #expect(opened.status == 0, "\(opened)")
        #expect(opened.stdoutBytes.count > 1024 && opened.stdout.contains("backup.json"), "a tar holding backup.json")
    }

    @Test func restoreReadsArmoredBackupsOursAndAges() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let token = try sandbox.create("kept")
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "k")
        let backup = sandbox.root + "/backup.txt"
        #expect(try sandbox.run(["backup", "-r", recipient, "-a", "--out", backup]).status == 0)

        // age -a re-encrypts the same archive: restore reads its armor too.
        let age = try #require(ExternalTools.find("age"), "age is not installed (Debian package age)")
        let theirs = sandbox.root + "/age-a.txt"
        let reencrypted = try sandbox.run(
            [
                "-c", "\"$0\" -d -i \"$1\" \"$2\" | \"$0\" -e -a -r \"$3\" -o \"$4\"", age, key, backup, recipient,
                theirs,
            ],
            executable: "/bin/sh")
        #expect(reencrypted.status == 0, "\(reencrypted)")
        #expect(Self.isArmor(String(decoding: sandbox.bytes(theirs) ?? [], as: UTF8.self)))

        for (name, file) in [("ours", backup), ("age -a", theirs)] {
            let restored = sandbox.root + "/restored-" + name.filter(\.isLetter)
            let result = try sandbox.run([
                "restore", file, "-i", key, "--vault", restored, "--vault-passphrase-file", sandbox.passphraseFile,
            ])
            #expect(result.status == 0, "\(name): \(result)")
            #expect(try sandbox.run(["verify", "--vault", restored], stdin: token + "\n").status == 0, "\(name)")
        }
        // And from standard input.
        let fromStdin = try sandbox.run(
            [
                "restore", "-", "-i", key, "--vault", sandbox.root + "/restored-stdin", "--vault-passphrase-file",
                sandbox.passphraseFile,
            ], stdin: String(decoding: sandbox.bytes(backup) ?? [], as: UTF8.self))
        #expect(fromStdin.status == 0, "\(fromStdin)")
    }

    /// Each malformation of an armored backup and the reason restore gives.
    static let malformations: [(name: String, reason: String, change: @Sendable ([String]) -> [String])] = [
        (
            "bad base64", "a line is not canonical padded base64",
            { l in l.prefix(2) + ["!" + l[2].dropFirst()] + l.dropFirst(3) }
        ),
        (
            "a line of 60 columns inside", "a short line that is not followed by the END line",
            { l in l.prefix(2) + [String(l[2].dropLast(4))] + l.dropFirst(3) }
        ),
        (
            "a line of 68 columns", "a line is longer than 64 columns",
            { l in l.prefix(2) + [l[2] + "AAAA"] + l.dropFirst(3) }
        ),
        ("missing footer", "the file ends before the END line", { l in Array(l.dropLast(2)) + [""] }),
        ("trailing garbage", "data after the END line", { l in l.dropLast() + ["garbage", ""] }),
    ]

    @Test("malformed armor is refused and nothing is restored", arguments: malformations.indices)
    func malformedArmorIsRefused(_ index: Int) throws {
        let (name, reason, change) = Self.malformations[index]
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "k")
        let backup = sandbox.root + "/backup.txt"
        #expect(try sandbox.run(["backup", "-r", recipient, "-a", "--out", backup]).status == 0)
        let lines = String(decoding: sandbox.bytes(backup) ?? [], as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false
        ).map(String.init)
        try #require(lines.count > 5)
        let bad = sandbox.root + "/bad.txt"
        sandbox.write(change(lines).joined(separator: "\n"), to: bad)
        let restored = sandbox.root + "/restored"
        let result = try sandbox.run([
            "restore", bad, "-i", key, "--vault", restored, "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(result.status == 65, "\(name): \(result)")
        #expect(result.stderr.hasPrefix("ztoken: error: \(bad): invalid age armor: \(reason)\n"), "\(name): \(result)")
        #expect(sandbox.bytes(restored) == nil && !FileManager.default.fileExists(atPath: restored), "\(name)")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: sandbox.root).filter { $0.contains(".restore") }.isEmpty
        )
    }

    @Test func binaryOutputToATerminalIsRefusedAndArmorIsWritten() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault(["--server", "https://zephyr.example.com"])
        let (_, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "k")
        let hint = "ztoken: hint: add -a/--armor to write it as text, or write it to a file with --out FILE"
        for (arguments, what) in [
            (["backup", "-r", recipient, "--out", "-"], "backup"),
            (["zbot", "bot", "-r", recipient, "--out", "-"], "bundle"),
            (["export", "bot", "-r", recipient, "--out", "-"], "bundle"),
        ] {
            // No question is asked, so nothing is typed (an answer typed
            // after the refusal could be echoed into the screen).
            // NO_COLOR: the messages are compared as text (ColourTests covers colour).
            let result = try sandbox.runOnTerminal(arguments, environment: ["NO_COLOR": "1"])
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(
                result.screen == "ztoken: error: refusing to write the encrypted \(what) to a terminal\n\(hint)\n",
                "\(arguments): \(result)")
        }
        #expect(try sandbox.listJSON().isEmpty, "a refused zbot minted no token")

        let armored = try sandbox.runOnTerminal(["zbot", "bot", "-r", recipient, "--out", "-", "--armor"])
        #expect(armored.status == 0, "\(armored)")
        let text = armored.screen
        #expect(text.hasPrefix(Self.begin) && text.contains(Self.end), "\(armored)")
        #expect(try sandbox.listJSON().count == 1)
    }
}
