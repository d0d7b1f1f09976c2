// Passphrases as people expect them (issue 16, item 3), on a real
// pseudo-terminal: a wrong vault passphrase is asked again (three tries in
// all), a mismatched or unconfirmed short new passphrase is asked again,
// and a slow key derivation is announced on standard error before it runs.
// The pty driver waits for the whole text before typing, so each step
// names the text that only the latest prompt completes.
import Foundation
import TestSupport
import Testing

@Suite struct PassphrasePromptTests {
    static let passphrase = "correct horse battery staple"
    static let again = "ztoken: wrong passphrase; try again\n"

    /// A vault with the zBot token `bot`, made with the sandbox's passphrase file.
    static func sandbox(kdf: [String] = [], environment: [String: String?] = [:]) throws -> Sandbox {
        let box = try Sandbox()
        let made = try box.run(
            ["init", "--user", "tester", "--vault-passphrase-file", box.passphraseFile] + kdf,
            environment: environment)
        try #require(made.status == 0, "\(made)")
        let bot = try box.run(["zbot", "bot", "--server", "https://z.example.com", "--plain-dir", box.root + "/first"])
        try #require(bot.status == 0, "\(bot)")
        return box
    }

    /// The steps that type `answers` at successive `vault passphrase: `
    /// prompts: the n-th waits for n prompts, each after a retry line.
    static func vaultPrompts(_ answers: [String]) -> [(expect: String, send: String)] {
        answers.indices.map { n in
            let retried = String(repeating: "\r\n" + again.dropLast() + "\r\nvault passphrase: ", count: n)
            return (expect: "vault passphrase: " + retried, send: answers[n] + "\n")
        }
    }

    @Test func aWrongVaultPassphraseIsAskedAgainThenAccepted() throws {
        let box = try Self.sandbox()
        let result = try box.runOnTerminal(
            ["export", "bot", "--plain-dir", box.root + "/out"], steps: Self.vaultPrompts(["wrong", Self.passphrase]))
        #expect(result.status == 0, "\(result)")
        #expect(result.screen.components(separatedBy: Self.again).count == 2, "one retry: \(result)")
        #expect(FileManager.default.fileExists(atPath: box.root + "/out/zbot/conf/zbot.properties"))
    }

    @Test func threeWrongVaultPassphrasesAreRefused() throws {
        let box = try Self.sandbox()
        // NO_COLOR: the error line is compared as text (ColourTests covers colour).
        let result = try box.runOnTerminal(
            ["export", "bot", "--plain-dir", box.root + "/out"],
            steps: Self.vaultPrompts(["wrong 1", "wrong 2", "wrong 3"]), environment: ["NO_COLOR": "1"])
        #expect(result.status == 77, "\(result)")
        #expect(result.screen.components(separatedBy: Self.again).count == 3, "two retries: \(result)")
        #expect(result.screen.hasSuffix("ztoken: error: wrong passphrase for \(box.vault)/vault-key.json\n"))
        #expect(!FileManager.default.fileExists(atPath: box.root + "/out"))
    }

    /// A passphrase file is read once: a wrong one is not tried again.
    @Test func aWrongPassphraseFileIsTriedOnce() throws {
        let box = try Self.sandbox()
        box.write("wrong\n", to: box.root + "/wrong")
        chmod(box.root + "/wrong", 0o600)
        let result = try box.run(
            ["export", "bot", "--plain-dir", box.root + "/out", "--vault-passphrase-file", box.root + "/wrong"])
        #expect(result.status == 77)
        #expect(!result.stderr.contains("try again"), "\(result)")
    }

    /// passwd asks the current passphrase again before the new one.
    @Test func passwdAsksTheCurrentPassphraseAgain() throws {
        let box = try Self.sandbox()
        let new = "a new and longer passphrase"
        let result = try box.runOnTerminal(
            ["passwd"],
            steps: Self.vaultPrompts(["wrong", Self.passphrase]) + [
                ("new vault passphrase: ", new + "\n"), ("repeat the vault passphrase: ", new + "\n"),
            ])
        #expect(result.status == 0, "\(result)")
        #expect(result.screen.contains("ztoken: changed the vault passphrase\n"), "\(result)")
        box.write(new + "\n", to: box.root + "/new")
        chmod(box.root + "/new", 0o600)
        let export = try box.run(
            ["export", "bot", "--plain-dir", box.root + "/out", "--vault-passphrase-file", box.root + "/new"])
        #expect(export.status == 0, "\(export)")
    }

    /// restore, replacing a vault, asks that vault's passphrase again too.
    @Test func restoreAsksTheVaultPassphraseAgain() throws {
        let box = try Self.sandbox()
        box.write("backup passphrase\n", to: box.root + "/bp")
        chmod(box.root + "/bp", 0o600)
        let backup = try box.run(["backup", "--passphrase-file", box.root + "/bp", "--out", box.root + "/b.age"])
        try #require(backup.status == 0, "\(backup)")
        let result = try box.runOnTerminal(
            ["restore", box.root + "/b.age", "--passphrase-file", box.root + "/bp", "--force", "--dry-run"],
            steps: Self.vaultPrompts(["wrong", Self.passphrase]))
        #expect(result.status == 0, "\(result)")
        #expect(result.screen.components(separatedBy: Self.again).count == 2, "one retry: \(result)")
        #expect(result.screen.contains("ztoken: dry run: nothing was changed\n"), "\(result)")
    }

    /// init: a short passphrase is questioned (declined: asked again), a
    /// mismatched repeat is asked again, and the vault gets the passphrase
    /// finally agreed on.
    @Test func initAsksAgainAfterAShortOrMismatchedPassphrase() throws {
        let box = try Sandbox()
        let result = try box.runOnTerminal(
            ["init", "--user", "tester"],
            steps: [
                ("new vault passphrase: ", "short\n"),
                ("use it anyway? [y/N] ", "n\n"),
                ("not confirmed; try again\r\nnew vault passphrase: ", Self.passphrase + "\n"),
                ("repeat the vault passphrase: ", "something else entirely\n"),
                ("did not match; try again\r\nnew vault passphrase: ", Self.passphrase + "\n"),
                (
                    "did not match; try again\r\nnew vault passphrase: \r\nrepeat the vault passphrase: ",
                    Self.passphrase + "\n"
                ),
            ])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.screen.contains(
                "ztoken: warning: a passphrase under 12 characters is easier to guess; "
                    + "a few words are easier to remember\nuse it anyway? [y/N] n\n"), "\(result)")
        // The passphrase agreed on opens the vault (the sandbox's file holds it).
        let bot = try box.run(["zbot", "bot", "--server", "https://z.example.com", "--plain-dir", box.root + "/p"])
        #expect(bot.status == 0)
        let export = try box.run(
            ["export", "bot", "--plain-dir", box.root + "/out", "--vault-passphrase-file", box.passphraseFile])
        #expect(export.status == 0, "\(export)")
    }

    /// A short passphrase the person confirms is taken.
    @Test func aConfirmedShortPassphraseIsTaken() throws {
        let box = try Sandbox()
        let result = try box.runOnTerminal(
            ["init", "--user", "tester"],
            steps: [
                ("new vault passphrase: ", "short\n"), ("use it anyway? [y/N] ", "y\n"),
                ("repeat the vault passphrase: ", "short\n"),
            ])
        #expect(result.status == 0, "\(result)")
        box.write("short\n", to: box.root + "/short")
        chmod(box.root + "/short", 0o600)
        _ = try box.run(["zbot", "bot", "--server", "https://z.example.com", "--plain-dir", box.root + "/p"])
        let export = try box.run(
            ["export", "bot", "--plain-dir", box.root + "/out", "--vault-passphrase-file", box.root + "/short"])
        #expect(export.status == 0, "\(export)")
    }

    /// A vault at the moderate cost (real Argon2id, about a second) says
    /// so on standard error before unlocking; a cheap one says nothing.
    @Test func aSlowUnlockIsAnnouncedFirst() throws {
        let note = "ztoken: unlocking the vault; its key derivation takes a moment…\n"
        let real: [String: String?] = [MinimalKDF.environmentName: nil]
        let slow = try Self.sandbox(kdf: ["--kdf", "moderate"], environment: real)
        let export = try slow.run(
            ["export", "bot", "--plain-dir", slow.root + "/out", "--vault-passphrase-file", slow.passphraseFile],
            environment: real)
        #expect(export.status == 0, "\(export)")
        #expect(export.stderr.hasPrefix(note), "\(export)")

        let cheap = try Self.sandbox()
        let quick = try cheap.run(
            ["export", "bot", "--plain-dir", cheap.root + "/out", "--vault-passphrase-file", cheap.passphraseFile])
        #expect(quick.status == 0, "\(quick)")
        #expect(!quick.stderr.contains("takes a moment"), "\(quick)")
    }
}
