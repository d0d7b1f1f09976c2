// `zbot`, `export` and `keygen` end to end: bundles are opened by the real
// `age` and `tar`, hostile inputs fail with the documented exit code, and a
// failed command leaves no file behind.
import Foundation
import TestSupport
import Testing

@Suite("zbot, export and keygen")
struct ZBotBundleCLITests {
    /// Makes an identity with the real age-keygen; returns (key file, recipient).
    static func ageKey(_ sandbox: Sandbox, _ name: String) throws -> (String, String) {
        let path = sandbox.root + "/" + name
        let keygen = try #require(ExternalTools.find("age-keygen"), "age-keygen is not installed (Debian package age)")
        let made = try sandbox.run(["-o", path], executable: keygen)
        try #require(made.status == 0, "age-keygen failed: \(made)")
        let recipient = try sandbox.run(["-y", path], executable: keygen).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        return (path, recipient)
    }

    /// `age -d -i KEY FILE | tar -xO MEMBER`, with the real tools.
    static func extract(_ sandbox: Sandbox, bundle: String, key: String, member: String) throws -> String {
        let age = try #require(ExternalTools.find("age"), "age is not installed (Debian package age)")
        let result = try sandbox.run(
            ["-c", "\"$0\" -d -i \"$1\" \"$2\" | tar -xO \"$3\"", age, key, bundle, member], executable: "/bin/sh")
        try #require(result.status == 0, "age -d | tar -x failed: \(result)")
        return result.stdout
    }

    @Test func zbotBundleOpensWithAgeAndTarAndHoldsAVerifiableToken() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault(["--server", "https://zephyr.example.com"])
        let (key, recipient) = try Self.ageKey(sandbox, "agent.key")
        let bundle = sandbox.root + "/agent.age"
        let result = try sandbox.run(["zbot", "agent-7", "-r", recipient, "--out", bundle])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.isEmpty, "the token must not be printed: \(result.stdout)")
        #expect(FileStatus.mode(bundle) == 0o600)

        let properties = try Self.extract(sandbox, bundle: bundle, key: key, member: "zbot/conf/zbot.properties")
        #expect(properties.contains("zbotName=agent-7\n"))
        #expect(properties.contains("zephyrServerURL=https\\://zephyr.example.com\n"))
        let tokenLine = try #require(properties.split(separator: "\n").first { $0.hasPrefix("zephyrApiToken=") })
        let token = String(tokenLine.dropFirst("zephyrApiToken=".count))
        #expect(token.hasPrefix("ztk_") && token.count == 43)

        let verified = try sandbox.run(["verify"], stdin: token + "\n")
        #expect(verified.status == 0, "\(verified)")
        #expect(verified.stdout.contains("agent-7"))

        let manifest = try Self.extract(sandbox, bundle: bundle, key: key, member: "manifest.json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(manifest.utf8)) as? [String: Any])
        #expect(object["label"] as? String == "agent-7")
        #expect(object["version"] as? Int == 1)

        let tokens = try sandbox.listJSON()
        #expect(tokens.count == 1)
        #expect(tokens.first?["kind"] as? String == "zbot")
    }

    /// A low-order recipient used to make the wrap step retry for ever, after
    /// `zbot` had stored its token. It is refused where it is parsed: exit 64
    /// as an argument, 65 in a recipients file, before any token is minted.
    /// Each run is bounded by timeout(1), so a spinning binary fails the test.
    @Test func aLowOrderRecipientIsRefusedAtOnceAndNoTokenIsMinted() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault(["--server", "https://a.example"])
        let timeout = try ExternalTools.locate("timeout", package: "coreutils")
        let binary = try CLIHarness.requireBinary()
        let lowOrder = "age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z"
        let out = sandbox.root + "/x.age"
        let recipients = sandbox.root + "/recipients.txt"
        sandbox.write("# zbot\n\(lowOrder)\n", to: recipients)
        let runs: [(arguments: [String], status: Int32, message: String)] = [
            (
                ["zbot", "x", "--server", "https://a.example", "-r", lowOrder, "--out", out], 64,
                "ztoken: error: age recipient \(lowOrder) is a low-order point, not a usable public key\n"
            ),
            (
                ["zbot", "x", "--server", "https://a.example", "-R", recipients, "--out", out], 65,
                "ztoken: error: \(recipients): line 2 is a low-order point, not a usable public key\n"
            ),
            (
                ["backup", "-r", lowOrder, "--out", out], 64,
                "ztoken: error: age recipient \(lowOrder) is a low-order point, not a usable public key\n"
            ),
        ]
        for run in runs {
            let result = try sandbox.run(["60", binary] + run.arguments, executable: timeout)
            #expect(result.status == run.status, "\(run.arguments): \(result)")
            #expect(result.stderr.hasPrefix(run.message), "\(result)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
        #expect(try sandbox.listJSON().isEmpty)
    }

    @Test func exportWritesTheSameTokenAgainAndNeedsThePassphrase() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault(["--server", "https://h.example"])
        let (key, recipient) = try Self.ageKey(sandbox, "k")
        let first = sandbox.root + "/first.age"
        #expect(try sandbox.run(["zbot", "bot", "-r", recipient, "--out", first]).status == 0)

        let wrong = sandbox.root + "/wrong-pass"
        sandbox.write("not the passphrase\n", to: wrong)
        let again = sandbox.root + "/again.age"
        let denied = try sandbox.run([
            "export", "bot", "--vault-passphrase-file", wrong, "-r", recipient, "--out", again,
        ])
        #expect(denied.status == 77, "\(denied)")
        #expect(denied.stderr.contains("ztoken: error: wrong passphrase"))
        #expect(sandbox.bytes(again) == nil, "a failed export left a file behind")

        let exported = try sandbox.run([
            "export", "bot", "--vault-passphrase-file", sandbox.passphraseFile, "-r", recipient, "--out", again,
        ])
        #expect(exported.status == 0, "\(exported)")
        let a = try Self.extract(sandbox, bundle: first, key: key, member: "zbot/conf/zbot.properties")
        let b = try Self.extract(sandbox, bundle: again, key: key, member: "zbot/conf/zbot.properties")
        func token(_ text: String) -> Substring? {
            text.split(separator: "\n").first { $0.hasPrefix("zephyrApiToken=") }
        }
        #expect(token(a) != nil && token(a) == token(b))

        let existing = try sandbox.run([
            "export", "bot", "--vault-passphrase-file", sandbox.passphraseFile, "-r", recipient, "--out", again,
        ])
        #expect(existing.status == 73, "an existing output must be refused: \(existing)")

        #expect(try sandbox.run(["revoke", "bot", "--yes"]).status == 0)
        let revoked = try sandbox.run([
            "export", "bot", "--vault-passphrase-file", sandbox.passphraseFile, "-r", recipient, "--out",
            sandbox.root + "/r.age",
        ])
        #expect(revoked.status == 66, "a revoked token cannot be exported: \(revoked)")
        #expect(sandbox.bytes(sandbox.root + "/r.age") == nil)
    }

    @Test func plainDirectoryIsPrivateAndJavaStyle() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let dir = sandbox.root + "/plain"
        let result = try sandbox.runWithUmask000([
            "zbot", "local", "--server", "http://localhost:8080", "--plain-dir", dir,
        ])
        #expect(result.status == 0, "\(result)")
        #expect(FileStatus.mode(dir + "/zbot") == 0o700)
        #expect(FileStatus.mode(dir + "/zbot/conf") == 0o700)
        #expect(FileStatus.mode(dir + "/zbot/conf/zbot.properties") == 0o600)
        #expect(FileStatus.mode(dir + "/manifest.json") == 0o600)
        let again = try sandbox.run(["zbot", "other", "--server", "http://localhost:8080", "--plain-dir", dir])
        #expect(again.status == 73, "an existing configuration must be refused: \(again)")
        #expect(try sandbox.listJSON(all: false).count == 1, "a refused zbot must not leave a token behind")
    }

    @Test(arguments: [
        (["-r", "age1notarecipient", "--out", "x.age"], Int32(64)),
        (["--server", "ftp://h", "--plain-dir", "d"], Int32(64)),
        (["--out", "x.age"], Int32(64)),
        (["-r", "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq", "-p", "--out", "x.age"], Int32(64)),
    ])
    func badBundleOptionsChangeNothing(arguments: [String], expected: Int32) throws {
        let sandbox = try Sandbox()
        try sandbox.initVault(["--server", "https://h.example"])
        let result = try sandbox.run(["zbot", "bot"] + arguments)
        #expect(result.status == expected, "\(result)")
        #expect(result.stderr.hasPrefix("ztoken: error: "), "\(result)")
        #expect(try sandbox.listJSON().isEmpty, "a failed zbot created a token")
        #expect(sandbox.bytes(sandbox.root + "/x.age") == nil)
    }

    @Test func templateWithUnknownPlaceholderIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault(["--server", "https://h.example"])
        let template = sandbox.root + "/t.properties"
        sandbox.write("token={{token}}\nother={{nope}}\n", to: template)
        let result = try sandbox.run(["zbot", "bot", "--template", template, "--plain-dir", sandbox.root + "/p"])
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("line 2"), "\(result)")
        #expect(try sandbox.listJSON().isEmpty)
    }

    @Test func offlineKeyVaultExportsWithItsIdentity() throws {
        let sandbox = try Sandbox()
        let keyFile = sandbox.root + "/offline.key"
        let made = try sandbox.run(["init", "--offline-key", keyFile, "--server", "https://h.example"])
        #expect(made.status == 0, "\(made)")
        #expect(FileStatus.mode(keyFile) == 0o600)
        #expect(sandbox.bytes(sandbox.vault + "/vault-key.json") == nil, "an offline-key vault must hold no secret key")
        let (key, recipient) = try Self.ageKey(sandbox, "k")
        #expect(try sandbox.run(["zbot", "bot", "--plain-dir", sandbox.root + "/p"]).status == 0)
        let out = sandbox.root + "/o.age"
        let noKey = try sandbox.run(["export", "bot", "-r", recipient, "--out", out])
        #expect(noKey.status == 64, "\(noKey)")
        let (otherKey, _) = try Self.ageKey(sandbox, "other")
        let wrongKey = try sandbox.run(["export", "bot", "-i", otherKey, "-r", recipient, "--out", out])
        #expect(wrongKey.status == 77, "\(wrongKey)")
        let exported = try sandbox.run(["export", "bot", "-i", keyFile, "-r", recipient, "--out", out])
        #expect(exported.status == 0, "\(exported)")
        #expect(
            try Self.extract(sandbox, bundle: out, key: key, member: "zbot/conf/zbot.properties").contains(
                "zephyrApiToken=ztk_"))
    }

    @Test func keygenWritesAnIdentityAgeAccepts() throws {
        let sandbox = try Sandbox()
        let path = sandbox.root + "/id.txt"
        let result = try sandbox.run(["keygen", "--out", path])
        #expect(result.status == 0, "\(result)")
        let recipient = result.stdout.trimmingCharacters(in: .newlines)
        #expect(recipient.hasPrefix("age1"))
        #expect(FileStatus.mode(path) == 0o600)
        let keygen = try #require(ExternalTools.find("age-keygen"))
        #expect(
            try sandbox.run(["-y", path], executable: keygen).stdout.trimmingCharacters(in: .newlines) == recipient)
        #expect(try sandbox.run(["keygen", "--out", path]).status == 73, "an identity file must never be overwritten")
    }
}
