// `backup` and `restore` end to end: round trips (also through the real age),
// damaged backups that must leave every location untouched, and --force.
import Foundation
import Testing
import TestSupport

@Suite("backup and restore")
struct BackupRestoreCLITests {
    /// Every file under `dir` with its bytes, for byte-for-byte comparisons.
    static func snapshot(_ sandbox: Sandbox, _ dir: String) -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for path in sandbox.tree(dir) { if let bytes = sandbox.bytes(path) { files[path] = bytes } }
        return files
    }

    @Test func roundTripKeepsIdsLabelsStatesAndThePassphrase() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault(["--server", "https://h.example"])
        let kept = try sandbox.create("kept")
        _ = try sandbox.create("gone")
        #expect(try sandbox.run(["revoke", "gone", "--yes"]).status == 0)
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "backup.key")
        let backup = sandbox.root + "/vault.age"
        let made = try sandbox.run(["backup", "-r", recipient, "--out", backup])
        #expect(made.status == 0, "\(made)")

        let restored = sandbox.root + "/restored"
        let result = try sandbox.run(["restore", backup, "-i", key, "--vault", restored])
        #expect(result.status == 0, "\(result)")
        let before = try sandbox.listJSON()
        let after = try sandbox.run(["list", "--all", "--json", "--vault", restored])
        #expect(after.status == 0)
        let afterList = try #require(try JSONSerialization.jsonObject(with: Data(after.stdoutBytes)) as? [[String: Any]])
        #expect(afterList.map { "\($0["id"]!)\($0["label"]!)\($0["state"]!)" } == before.map { "\($0["id"]!)\($0["label"]!)\($0["state"]!)" })
        #expect(try sandbox.run(["verify", "--vault", restored], stdin: kept + "\n").status == 0)
        let exported = try sandbox.run(["export", "kept", "--vault", restored, "--vault-passphrase-file", sandbox.passphraseFile,
                                        "--plain-dir", sandbox.root + "/p"])
        #expect(exported.status == 0, "the same passphrase must unlock the restored vault: \(exported)")
        #expect(String(decoding: sandbox.bytes(sandbox.root + "/p/zbot/conf/zbot.properties") ?? [], as: UTF8.self).contains(kept))
    }

    /// An identity file is a secret, as a passphrase file is: one that others
    /// can read is refused (77) with a chmod hint, for restore and for export
    /// of an offline-key vault, and nothing is written.
    @Test func aLooseIdentityFileIsRefused() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "backup.key")
        let backup = sandbox.root + "/vault.age"
        #expect(try sandbox.run(["backup", "-r", recipient, "--out", backup]).status == 0)
        chmod(key, 0o644)
        let restored = sandbox.root + "/restored"
        let result = try sandbox.run(["restore", backup, "-i", key, "--vault", restored])
        #expect(result.status == 77, "\(result)")
        #expect(result.stderr.hasPrefix("ztoken: error: \(key) is accessible by other users (mode 644)\n"), "\(result.stderr)")
        #expect(result.stderr.contains("chmod 600"))
        #expect(!FileManager.default.fileExists(atPath: restored))
        chmod(key, 0o600)
        #expect(try sandbox.run(["restore", backup, "-i", key, "--vault", restored]).status == 0)

        let offline = sandbox.root + "/offline"
        let offlineKey = sandbox.root + "/offline.key"
        #expect(try sandbox.run(["init", "--vault", offline, "--offline-key", offlineKey]).status == 0)
        #expect(try sandbox.run(["zbot", "bot", "--vault", offline, "--server", "https://z.example",
                                 "--plain-dir", sandbox.root + "/p1"]).status == 0)
        chmod(offlineKey, 0o640)
        let export = try sandbox.run(["export", "bot", "--vault", offline, "-i", offlineKey, "--plain-dir", sandbox.root + "/p2"])
        #expect(export.status == 77, "\(export)")
        #expect(!FileManager.default.fileExists(atPath: sandbox.root + "/p2"))
    }

    @Test func backupReencryptedByAgeRestores() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let token = try sandbox.create("t")
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "k1")
        let (key2, recipient2) = try ZBotBundleCLITests.ageKey(sandbox, "k2")
        let backup = sandbox.root + "/b.age"
        #expect(try sandbox.run(["backup", "-r", recipient, "--out", backup]).status == 0)
        let age = try #require(ExternalTools.find("age"))
        let rewrapped = sandbox.root + "/b2.age"
        let result = try sandbox.run(["-c", "\"$0\" -d -i \"$1\" \"$2\" | \"$0\" -r \"$3\" -o \"$4\"", age, key, backup, recipient2, rewrapped],
                                     executable: "/bin/sh")
        #expect(result.status == 0, "\(result)")
        let restored = sandbox.root + "/r"
        #expect(try sandbox.run(["restore", rewrapped, "-i", key2, "--vault", restored]).status == 0)
        #expect(try sandbox.run(["verify", "--vault", restored], stdin: token + "\n").status == 0)
    }

    @Test(arguments: ["truncated", "header-bit", "payload-bit", "empty", "wrong-key"])
    func damagedBackupLeavesEverythingUntouched(damage: String) throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        _ = try sandbox.create("one")
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "k")
        let (otherKey, _) = try ZBotBundleCLITests.ageKey(sandbox, "other")
        let backup = sandbox.root + "/b.age"
        #expect(try sandbox.run(["backup", "-r", recipient, "--out", backup]).status == 0)
        var bytes = try #require(sandbox.bytes(backup))
        switch damage {
        case "truncated": bytes.removeLast(bytes.count / 3)
        case "header-bit":
            // A bit in the header MAC: a flip inside a recipient stanza would
            // read as "no identity matched" (77), as it does for age.
            let marker = Array("\n--- ".utf8)
            let at = try #require((0..<(bytes.count - marker.count)).first { Array(bytes[$0..<($0 + marker.count)]) == marker })
            bytes[at + marker.count + 10] ^= 0x01
        case "payload-bit": bytes[bytes.count - 20] ^= 0x01
        case "empty": bytes = []
        default: break
        }
        try Data(bytes).write(to: URL(fileURLWithPath: backup))

        // Over a live vault with --force: the live vault must stay byte for byte.
        let live = Self.snapshot(sandbox, sandbox.vault)
        let forced = try sandbox.run(["restore", backup, "-i", damage == "wrong-key" ? otherKey : key, "--force"])
        #expect(forced.status == (damage == "wrong-key" ? 77 : 65), "\(forced)")
        #expect(forced.stderr.hasPrefix("ztoken: error: "))
        #expect(Self.snapshot(sandbox, sandbox.vault) == live, "a failed restore changed the live vault")

        // Into a new location: nothing may appear there or beside it.
        let target = sandbox.root + "/new/vault"
        let fresh = try sandbox.run(["restore", backup, "-i", damage == "wrong-key" ? otherKey : key, "--vault", target])
        #expect(fresh.status == forced.status, "\(fresh)")
        #expect(sandbox.tree(sandbox.root + "/new").isEmpty, "a failed restore left files: \(sandbox.tree(sandbox.root + "/new"))")
    }

    @Test func restoreRefusesAnExistingVaultWithoutForceAndReplacesItWithForce() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let old = try sandbox.create("old")
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "k")
        let backup = sandbox.root + "/b.age"
        #expect(try sandbox.run(["backup", "-r", recipient, "--out", backup]).status == 0)
        let newer = try sandbox.create("newer")

        let refused = try sandbox.run(["restore", backup, "-i", key])
        #expect(refused.status == 73, "\(refused)")
        #expect(try sandbox.run(["verify"], stdin: newer + "\n").status == 0)

        let forced = try sandbox.run(["restore", backup, "-i", key, "--force"])
        #expect(forced.status == 0, "\(forced)")
        #expect(try sandbox.run(["verify"], stdin: old + "\n").status == 0)
        #expect(try sandbox.run(["verify"], stdin: newer + "\n").status == 1, "the replaced vault's tokens must be gone")
        #expect(try sandbox.run(["doctor"]).status == 0)
        let parent = (sandbox.vault as NSString).deletingLastPathComponent
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: parent).filter { $0.contains(".restore-") || $0.contains(".replaced-") }
        #expect(leftovers.isEmpty, "restore --force left \(leftovers)")
    }

    @Test func backupToStandardOutputAndRestoreFromStandardInput() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let token = try sandbox.create("t")
        let passphrase = sandbox.root + "/backup-pass"
        sandbox.write("backup secret\n", to: passphrase)
        let binary = try CLIHarness.requireBinary()
        let restored = sandbox.root + "/r"
        let piped = try sandbox.run(["-c", "\"$0\" backup --passphrase-file \"$1\" --out - | \"$0\" restore - --passphrase-file \"$1\" --vault \"$2\"",
                                     binary, passphrase, restored], executable: "/bin/sh")
        #expect(piped.status == 0, "\(piped)")
        #expect(try sandbox.run(["verify", "--vault", restored], stdin: token + "\n").status == 0)
    }
}
