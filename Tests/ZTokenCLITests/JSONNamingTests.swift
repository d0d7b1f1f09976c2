// One naming rule for the JSON of every command (docs/SPEC.md §5):
// camelCase, an acronym written as a word (`serverUrl`), the same name for
// the same thing. Every --json output a vault with every kind of field can
// produce is collected, and each key checked.
import Foundation
import TestSupport
import Testing

@Suite struct JSONNamingTests {
    /// camelCase: lowercase words, each later one capitalised; digits may
    /// end a word (`last4`); never two capitals in a row (`URL`, `ID`).
    static var rule: Regex<Substring> { /[a-z][a-z0-9]*(?:[A-Z][a-z0-9]+)*/ }

    static func keys(of value: Any) -> Set<String> {
        if let object = value as? [String: Any] {
            return object.reduce(into: Set(object.keys)) { $0.formUnion(keys(of: $1.value)) }
        }
        if let array = value as? [Any] { return array.reduce(into: []) { $0.formUnion(keys(of: $1)) } }
        return []
    }

    @Test func everyCommandsJSONFollowsTheOneRule() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://zephyr.example.com"])
        let token = try box.create("ci")
        #expect(try box.run(["note", "ci", "a note"]).status == 0)
        #expect(try box.run(["expire", "ci", "30d"]).status == 0)
        #expect(try box.run(["zbot", "bot", "--plain-dir", box.root + "/plain"]).status == 0)
        #expect(try box.run(["create", "old"]).status == 0)
        #expect(try box.run(["rotate", "old"]).status == 0)
        var outputs: [String: String] = [:]
        for arguments in [
            ["list", "--all", "--json"], ["show", "bot", "--json"], ["show", "ci", "--json"],
            ["create", "new", "--json"], ["doctor", "--json"], ["scan", "-", "--json"],
        ] {
            let result = try box.run(arguments, stdin: token + "\n")
            // scan exits 1: it found an active token, which is what it reports.
            #expect(result.status == (arguments[0] == "scan" ? 1 : 0), "\(arguments): \(result)")
            outputs[arguments.joined(separator: " ")] = result.stdout
        }
        let verify = try box.run(["verify", "--json"], stdin: token)
        outputs["verify --json"] = verify.stdout
        var seen: Set<String> = []
        for (command, output) in outputs {
            let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8))
            for key in Self.keys(of: parsed) {
                seen.insert(key)
                #expect(key.wholeMatch(of: Self.rule) != nil, "'\(command)' writes the key '\(key)'")
            }
        }
        // The check saw the keys that once broke the rule, and the common ones.
        #expect(seen.isSuperset(of: ["serverUrl", "createdAt", "expiresAt", "rotatedTo", "last4", "activeTokens"]))
        #expect(!seen.contains("serverURL"))
    }

    // One test per command that gained --json (issue 16, item 10): it runs
    // the real binary, parses standard output as one JSON value, checks
    // the naming rule on its keys and the fields the command promises.

    /// Runs ztoken, requires exit 0, parses standard output as one JSON
    /// value and checks each of its keys against the rule.
    static func json(
        _ box: Sandbox, _ arguments: [String], stdin: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Any {
        let result = try box.run(arguments, stdin: stdin)
        try #require(result.status == 0, "\(arguments): \(result)", sourceLocation: sourceLocation)
        #expect(!result.stdout.contains("ztk_"), "no token in \(arguments)", sourceLocation: sourceLocation)
        let parsed = try JSONSerialization.jsonObject(with: Data(result.stdoutBytes))
        for key in keys(of: parsed) {
            #expect(key.wholeMatch(of: rule) != nil, "\(arguments) writes '\(key)'", sourceLocation: sourceLocation)
        }
        return parsed
    }

    static func object(
        _ box: Sandbox, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [String: Any] {
        let parsed = try json(box, arguments, sourceLocation: sourceLocation)
        return try #require(parsed as? [String: Any], "\(arguments) is not one object", sourceLocation: sourceLocation)
    }

    @Test func revokeJSONListsTheRevokedTokensAsListDoes() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        _ = try box.create("b")
        let revoked = try #require(try Self.json(box, ["revoke", "a", "b", "--yes", "--json"]) as? [[String: Any]])
        #expect(revoked.compactMap { $0["label"] as? String }.sorted() == ["a", "b"])
        #expect(revoked.allSatisfy { $0["state"] as? String == "revoked" && $0["revokedAt"] is String })
        // The same object as list --json shows for the same token.
        let listed = try box.listJSON().filter { ($0["label"] as? String) == "a" }
        let first = try #require(revoked.first { $0["label"] as? String == "a" })
        #expect(NSDictionary(dictionary: first).isEqual(to: try #require(listed.first)))
        // Nothing to revoke is an empty array, still JSON.
        #expect((try Self.json(box, ["revoke", "--expired", "--yes", "--json"]) as? [Any])?.isEmpty == true)
    }

    @Test func zbotAndExportJSONNameTheTokenAndWhereTheBundleWent() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://zephyr.example.com"])
        let (_, recipient) = try ZBotBundleCLITests.ageKey(box, "bundle.key")
        let plain = box.root + "/plain"
        let made = try Self.object(box, ["zbot", "bot", "--plain-dir", plain, "--json"])
        #expect(made["label"] as? String == "bot" && made["kind"] as? String == "zbot")
        #expect(made["serverUrl"] as? String == "https://zephyr.example.com")
        #expect(made["plainDir"] as? String == plain && made["id"] is String && made["last4"] is String)
        let bundle = box.root + "/bot.age"
        let exported = try Self.object(
            box,
            [
                "export", "bot", "-r", recipient, "--out", bundle, "--json", "--vault-passphrase-file",
                box.passphraseFile,
            ])
        #expect(exported["id"] as? String == made["id"] as? String && exported["path"] as? String == bundle)
        let second = try Self.object(box, ["zbot", "bot2", "-r", recipient, "--out", box.root + "/bot2.age", "--json"])
        #expect(second["path"] as? String == box.root + "/bot2.age" && second["agent"] is String)
        // JSON and a bundle on standard output cannot share it.
        let both = try box.run(["zbot", "bot3", "-r", recipient, "--out", "-", "--json"])
        #expect(both.status == 64 && both.stdout.isEmpty, "\(both)")
    }

    @Test func backupAndRestoreJSONCountWhatTheyCarried() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("kept")
        let (key, recipient) = try ZBotBundleCLITests.ageKey(box, "backup.key")
        let backup = box.root + "/vault.age"
        let made = try Self.object(box, ["backup", "-r", recipient, "--out", backup, "--json"])
        #expect(made["activeTokens"] as? Int == 1 && made["path"] as? String == backup && made["files"] is Int)
        let restored = box.root + "/restored"
        let passphrase = ["--vault-passphrase-file", box.passphraseFile]
        let done = try Self.object(box, ["restore", backup, "-i", key, "--vault", restored, "--json"] + passphrase)
        #expect(done["restored"] as? Bool == true && done["activeTokens"] as? Int == 1)
        #expect(done["vault"] as? String == restored && done["replacesVault"] as? Bool == false)
        #expect(done["vaultId"] is String && done["lost"] as? [Any] != nil && done["carriedRevocations"] as? Int == 0)
        _ = try box.create("after")
        let dry = try Self.object(box, ["restore", backup, "-i", key, "--dry-run", "--json"] + passphrase)
        #expect(dry["restored"] as? Bool == false && dry["replacesVault"] as? Bool == true)
        #expect((dry["lost"] as? [[String: Any]])?.map { $0["label"] as? String } == ["after"])
        #expect(dry["keptAside"] == nil)
    }

    @Test func keygenJSONPrintsTheRecipientNeverTheIdentity() throws {
        let box = try Sandbox()
        let path = box.root + "/id.key"
        let made = try box.run(["keygen", "--out", path, "--json"])
        #expect(made.status == 0 && !made.stdout.contains("AGE-SECRET-KEY"), "\(made)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(made.stdoutBytes)) as? [String: Any])
        #expect(Set(parsed.keys) == ["recipient", "path"] && parsed["path"] as? String == path)
        let keygen = try #require(ExternalTools.find("age-keygen"), "age-keygen is not installed (Debian package age)")
        let recipient = try box.run(["-y", path], executable: keygen).stdout.trimmingCharacters(in: .newlines)
        #expect(parsed["recipient"] as? String == recipient)
        // Without --out the identity would be standard output: refused.
        let bare = try box.run(["keygen", "--json"])
        #expect(bare.status == 64 && bare.stdout.isEmpty, "\(bare)")
    }

    @Test func syncAndCloneJSONSayWhatHappened() throws {
        let box = try Sandbox()
        let remote = box.root + "/remote.git"
        #expect(try box.run(["init", "--bare", "--quiet", remote], executable: "/usr/bin/git").status == 0)
        try box.initVault(["--git"])
        #expect(try box.run(["git", "remote", "add", "origin", remote]).status == 0)
        _ = try box.create("shared")
        let synced = try Self.object(box, ["sync", "--json"])
        #expect(synced["remote"] as? String == "origin" && synced["pushed"] as? Bool == true)
        #expect(synced["receivedEvents"] as? Int == 0 && synced["committed"] is Bool)
        let other = box.root + "/b"
        let cloned = try Self.object(box, ["clone", remote, "--vault", other, "--json"])
        #expect(cloned["vault"] as? String == other && cloned["activeTokens"] as? Int == 1)
        let doctor = try Self.object(box, ["doctor", "--json", "--vault", other])
        #expect(doctor["activeTokens"] as? Int == 1 && cloned["vaultId"] is String)
    }
}
