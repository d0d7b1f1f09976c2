// Cheap checks before costly ones (issue 16, item 2): what can be checked
// without a passphrase (the output, the server URL, the token, the
// recipients, the template, the backup file) is checked before one is read
// or asked for, and so before Argon2id or scrypt runs. Off a terminal the
// proof is the error: a passphrase file that does not exist would be
// reported (66) had it been read first. On a terminal it is that no
// passphrase prompt appears.
import Foundation
import Testing

@Suite struct CheapChecksFirstTests {
    /// A vault with a zBot token `bot` and an api token `ci`, a recipient,
    /// and an existing file `taken`.
    static func sandbox() throws -> (Sandbox, recipient: String) {
        let box = try Sandbox()
        try box.initVault()
        #expect(
            try box.run(["zbot", "bot", "--server", "https://z.example.com", "--plain-dir", box.root + "/p"]).status
                == 0)
        _ = try box.create("ci")
        let keygen = try box.run(["keygen", "--out", box.root + "/key.txt"])
        try #require(keygen.status == 0, "\(keygen)")
        box.write("already here", to: box.root + "/taken")
        box.write("{{token}} {{bogus}}\n", to: box.root + "/bad-template")
        return (box, keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// `export` off a terminal, with a vault passphrase file that is not
    /// there: each cheap problem is the error, not the missing file.
    @Test(arguments: [
        (["bot", "--out", "@/taken"], 73, "@/taken already exists"),
        (["bot", "-r", "age1bogus", "--out", "@/new"], 64, "malformed age recipient"),
        (["bot", "-R", "@/no-recipients", "--out", "@/new"], 66, "@/no-recipients: no such file"),
        (["bot", "--template", "@/bad-template", "--out", "@/new"], 64, "bogus"),
        (["ci", "--out", "@/new"], 64, "no server URL for the zBot"),
        (["nobody", "--out", "@/new"], 66, "no active token 'nobody'"),
        (["bot", "--plain-dir", "@/p"], 73, "already exists"),
    ])
    func exportChecksBeforeReadingThePassphrase(_ arguments: [String], _ status: Int32, _ message: String) throws {
        let (box, recipient) = try Self.sandbox()
        let substituted = arguments.map { $0.replacingOccurrences(of: "@", with: box.root) }
        let encryption = arguments.contains("-r") || arguments.contains("-R") || arguments.contains("--plain-dir")
        let result = try box.run(
            ["export"] + substituted + (encryption ? [] : ["-r", recipient])
                + ["--vault-passphrase-file", box.root + "/absent-passphrase"])
        #expect(result.status == status, "\(result)")
        #expect(result.stderr.contains(message.replacingOccurrences(of: "@", with: box.root)), "\(result)")
        #expect(!result.stderr.contains("absent-passphrase"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: box.root + "/new"))
    }

    /// On a terminal: no prompt appears before the cheap check fails.
    @Test(arguments: [
        (["restore", "@/missing.age", "-p", "--vault", "@/restored"], 66, "@/missing.age: no such file"),
        (["restore", "@/missing.age", "-p"], 73, "already exists"),
        (["export", "bot", "-p", "--out", "@/taken"], 73, "@/taken already exists"),
        (["export", "bot", "-r", "age1bogus", "--out", "@/new"], 64, "malformed age recipient"),
        (
            ["zbot", "bot", "--server", "https://z.example.com", "-p", "--out", "@/new"], 73,
            "an active token is already labelled 'bot'"
        ),
        (
            ["zbot", "other", "--server", "https://z.example.com", "-p", "--out", "@/taken"], 73,
            "@/taken already exists"
        ),
        (["backup", "-p", "--out", "@/taken"], 73, "@/taken already exists"),
    ])
    func noPromptBeforeTheCheapChecks(_ arguments: [String], _ status: Int32, _ message: String) throws {
        let (box, _) = try Self.sandbox()
        let result = try box.runOnTerminal(
            arguments.map { $0.replacingOccurrences(of: "@", with: box.root) },
            environment: ["ZTOKEN_VAULT_PASSPHRASE_FILE": nil])
        #expect(result.status == status, "\(result)")
        #expect(result.screen.contains(message.replacingOccurrences(of: "@", with: box.root)), "\(result)")
        #expect(!result.screen.contains("passphrase: "), "a prompt came first: \(result)")
        #expect(!FileManager.default.fileExists(atPath: box.root + "/new"))
        #expect(box.bytes(box.root + "/taken") == Array("already here".utf8))
    }
}
