// `backup` and `restore` end to end: round trips (also through the real age),
// damaged backups that must leave every location untouched, and --force.
import Foundation
import TestSupport
import Testing

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
        let result = try sandbox.run([
            "restore", backup, "-i", key, "--vault", restored, "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(result.status == 0, "\(result)")
        let before = try sandbox.listJSON()
        let after = try sandbox.run(["list", "--all", "--json", "--vault", restored])
        #expect(after.status == 0)
        let afterList = try #require(
            try JSONSerialization.jsonObject(with: Data(after.stdoutBytes)) as? [[String: Any]])
        #expect(
            afterList.map { "\($0["id"]!)\($0["label"]!)\($0["state"]!)" }
                == before.map { "\($0["id"]!)\($0["label"]!)\($0["state"]!)" })
        #expect(try sandbox.run(["verify", "--vault", restored], stdin: kept + "\n").status == 0)
        let exported = try sandbox.run([
            "export", "kept", "--vault", restored, "--vault-passphrase-file", sandbox.passphraseFile,
            "--plain-dir", sandbox.root + "/p",
        ])
        #expect(exported.status == 0, "the same passphrase must unlock the restored vault: \(exported)")
        #expect(
            String(decoding: sandbox.bytes(sandbox.root + "/p/zbot/conf/zbot.properties") ?? [], as: UTF8.self)
                .contains(kept))
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
        let result = try sandbox.run([
            "restore", backup, "-i", key, "--vault", restored, "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(result.status == 77, "\(result)")
        #expect(
            result.stderr.hasPrefix("ztoken: error: \(key) is accessible by other users (mode 644)\n"),
            "\(result.stderr)")
        #expect(result.stderr.contains("chmod 600"))
        #expect(!FileManager.default.fileExists(atPath: restored))
        chmod(key, 0o600)
        #expect(
            try sandbox.run([
                "restore", backup, "-i", key, "--vault", restored, "--vault-passphrase-file", sandbox.passphraseFile,
            ]).status == 0)

        let offline = sandbox.root + "/offline"
        let offlineKey = sandbox.root + "/offline.key"
        #expect(try sandbox.run(["init", "--vault", offline, "--offline-key", offlineKey]).status == 0)
        #expect(
            try sandbox.run([
                "zbot", "bot", "--vault", offline, "--server", "https://z.example",
                "--plain-dir", sandbox.root + "/p1",
            ]).status == 0)
        chmod(offlineKey, 0o640)
        let export = try sandbox.run([
            "export", "bot", "--vault", offline, "-i", offlineKey, "--plain-dir", sandbox.root + "/p2",
        ])
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
        let result = try sandbox.run(
            ["-c", "\"$0\" -d -i \"$1\" \"$2\" | \"$0\" -r \"$3\" -o \"$4\"", age, key, backup, recipient2, rewrapped],
            executable: "/bin/sh")
        #expect(result.status == 0, "\(result)")
        let restored = sandbox.root + "/r"
        #expect(
            try sandbox.run([
                "restore", rewrapped, "-i", key2, "--vault", restored, "--vault-passphrase-file",
                sandbox.passphraseFile,
            ]).status == 0)
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
            let at = try #require(
                (0..<(bytes.count - marker.count)).first { Array(bytes[$0..<($0 + marker.count)]) == marker })
            bytes[at + marker.count + 10] ^= 0x01
        case "payload-bit": bytes[bytes.count - 20] ^= 0x01
        case "empty": bytes = []
        default: break
        }
        try Data(bytes).write(to: URL(fileURLWithPath: backup))

        // Over a live vault with --force: the live vault must stay byte for byte.
        let live = Self.snapshot(sandbox, sandbox.vault)
        let forced = try sandbox.run([
            "restore", backup, "-i", damage == "wrong-key" ? otherKey : key, "--force", "--yes",
            "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(forced.status == (damage == "wrong-key" ? 77 : 65), "\(forced)")
        #expect(forced.stderr.hasPrefix("ztoken: error: "))
        #expect(Self.snapshot(sandbox, sandbox.vault) == live, "a failed restore changed the live vault")

        // Into a new location: nothing may appear there or beside it.
        let target = sandbox.root + "/new/vault"
        let fresh = try sandbox.run([
            "restore", backup, "-i", damage == "wrong-key" ? otherKey : key, "--vault", target,
            "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(fresh.status == forced.status, "\(fresh)")
        #expect(
            sandbox.tree(sandbox.root + "/new").isEmpty,
            "a failed restore left files: \(sandbox.tree(sandbox.root + "/new"))")
    }

    /// Backs the sandbox vault up to a new age key; returns (key file, backup path).
    static func backUp(_ sandbox: Sandbox, _ name: String = "b.age") throws -> (key: String, backup: String) {
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, name + ".key")
        let backup = sandbox.root + "/" + name
        let made = try sandbox.run(["backup", "-r", recipient, "--out", backup])
        #expect(made.status == 0, "\(made)")
        return (key, backup)
    }

    static func keptAside(_ sandbox: Sandbox) throws -> [String] {
        let parent = (sandbox.vault as NSString).deletingLastPathComponent
        let vaultName = (sandbox.vault as NSString).lastPathComponent
        return try FileManager.default.contentsOfDirectory(atPath: parent).filter {
            $0.hasPrefix(vaultName + ".replaced-")
        }
        .map { parent + "/" + $0 }
    }

    /// A backup taken before a revocation cannot undo it; a token created
    /// after the backup is named as lost and stays in the kept-aside vault.
    @Test func restoreOverAVaultCarriesRevocationsAndKeepsTheReplacedVaultAside() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let solo1 = try sandbox.create("solo1")
        let solo2 = try sandbox.create("solo2")
        let (key, backup) = try Self.backUp(sandbox)
        #expect(try sandbox.run(["revoke", "solo2", "--yes"]).status == 0)
        let solo3 = try sandbox.create("solo3")
        let live = BackupRestoreCLITests.snapshot(sandbox, sandbox.vault)

        let refused = try sandbox.run(["restore", backup, "-i", key])
        #expect(refused.status == 73, "\(refused)")
        let unconfirmed = try sandbox.run([
            "restore", backup, "-i", key, "--force", "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(unconfirmed.status == 64, "\(unconfirmed)")
        #expect(
            unconfirmed.stderr.contains("solo3") && unconfirmed.stderr.contains("carries 1 revocation of"),
            "\(unconfirmed.stderr)")
        let dry = try sandbox.run([
            "restore", backup, "-i", key, "--dry-run", "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(dry.status == 0, "\(dry)")
        #expect(
            dry.stderr.contains("1 active token the backup lacks would be lost") && dry.stderr.contains("solo3"),
            "\(dry.stderr)")
        #expect(
            BackupRestoreCLITests.snapshot(sandbox, sandbox.vault) == live,
            "a dry run or an unconfirmed restore changed the vault")
        #expect(try Self.keptAside(sandbox).isEmpty)

        let forced = try sandbox.run([
            "restore", backup, "-i", key, "--force", "--yes", "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(forced.status == 0, "\(forced)")
        #expect(forced.stderr.contains("carries 1 revocation of"), "\(forced.stderr)")
        #expect(try sandbox.run(["verify"], stdin: solo1 + "\n").status == 0)
        let revoked = try sandbox.run(["verify"], stdin: solo2 + "\n")
        #expect(
            revoked.status == 1 && revoked.stdout.contains("revoked") || revoked.stderr.contains("revoked"),
            "\(revoked)")
        #expect(try sandbox.run(["verify"], stdin: solo3 + "\n").status == 1, "solo3 is not in the backup")
        #expect(try sandbox.run(["doctor"]).status == 0)

        let kept = try #require(try Self.keptAside(sandbox).first)
        #expect(forced.stderr.contains("kept aside at \(kept)"), "\(forced.stderr)")
        var info = stat()
        #expect(lstat(kept, &info) == 0 && info.st_mode & 0o7777 == 0o700)
        #expect(
            try sandbox.run(["verify", "--vault", kept], stdin: solo3 + "\n").status == 0, "solo3 must survive aside")
        let doctor = try sandbox.run(["doctor"])
        #expect(doctor.stderr.contains(kept), "doctor must mention the kept-aside vault: \(doctor)")
    }

    /// Anyone can encrypt to a public recipient: a backup of another vault
    /// is refused over this one unless the user says it is meant.
    @Test func aBackupOfAnotherVaultIsRefusedUnlessMeant() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let mine = try sandbox.create("mine")
        let other = sandbox.root + "/other"
        #expect(
            try sandbox.run([
                "init", "--user", "x", "--vault", other, "--vault-passphrase-file", sandbox.passphraseFile,
            ]).status == 0)
        _ = try sandbox.run(["create", "theirs", "--vault", other])
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "k")
        let backup = sandbox.root + "/other.age"
        #expect(try sandbox.run(["backup", "-r", recipient, "--out", backup, "--vault", other]).status == 0)
        let live = BackupRestoreCLITests.snapshot(sandbox, sandbox.vault)

        let refused = try sandbox.run([
            "restore", backup, "-i", key, "--force", "--yes", "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(refused.status == 65, "\(refused)")
        #expect(
            refused.stderr.contains("another vault") && refused.stderr.contains("--replace-different-vault"),
            "\(refused.stderr)")
        #expect(BackupRestoreCLITests.snapshot(sandbox, sandbox.vault) == live)

        let wrong = sandbox.root + "/wrong"
        sandbox.write("not it\n", to: wrong)
        chmod(wrong, 0o600)
        let denied = try sandbox.run([
            "restore", backup, "-i", key, "--force", "--yes", "--replace-different-vault",
            "--vault-passphrase-file", wrong,
        ])
        #expect(denied.status == 77, "\(denied)")
        #expect(BackupRestoreCLITests.snapshot(sandbox, sandbox.vault) == live)

        let replaced = try sandbox.run([
            "restore", backup, "-i", key, "--force", "--yes", "--replace-different-vault",
            "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(replaced.status == 0, "\(replaced)")
        #expect(replaced.stderr.contains("mine"), "the lost token must be named: \(replaced.stderr)")
        let kept = try #require(try Self.keptAside(sandbox).first)
        #expect(try sandbox.run(["verify", "--vault", kept], stdin: mine + "\n").status == 0)
    }

    /// Into an empty location the backup's own key must open with the passphrase given.
    @Test func restoreIntoAnEmptyLocationNeedsTheBackupsPassphrase() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        _ = try sandbox.create("one")
        let (key, backup) = try Self.backUp(sandbox)
        let wrong = sandbox.root + "/wrong"
        sandbox.write("not it\n", to: wrong)
        chmod(wrong, 0o600)
        let target = sandbox.root + "/new"
        let denied = try sandbox.run([
            "restore", backup, "-i", key, "--vault", target, "--vault-passphrase-file", wrong,
        ])
        #expect(denied.status == 77, "\(denied)")
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(sandbox.tree(sandbox.root).allSatisfy { !$0.contains(".restore-") })
        let ok = try sandbox.run(
            ["restore", backup, "-i", key, "--vault", target],
            environment: ["ZTOKEN_VAULT_PASSPHRASE_FILE": sandbox.passphraseFile])
        #expect(ok.status == 0, "\(ok)")
    }

    /// The case `--force` exists for: a vault whose vault.json is corrupt.
    @Test func restoreReplacesAVaultWhoseMetadataIsCorrupt() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        _ = try sandbox.create("a")
        let b = try sandbox.create("b")
        let (key, backup) = try Self.backUp(sandbox)
        #expect(try sandbox.run(["revoke", "b", "--yes"]).status == 0)
        sandbox.write("{ not json", to: sandbox.vault + "/vault.json")
        chmod(sandbox.vault + "/vault.json", 0o600)
        let refused = try sandbox.run([
            "restore", backup, "-i", key, "--force", "--yes", "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(refused.status == 65, "\(refused)")
        #expect(refused.stderr.contains("--replace-different-vault"), "\(refused.stderr)")
        let forced = try sandbox.run([
            "restore", backup, "-i", key, "--force", "--yes", "--replace-different-vault",
            "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        #expect(forced.status == 0, "\(forced)")
        #expect(forced.stderr.contains("could not check"), "\(forced.stderr)")
        #expect(try sandbox.run(["verify"], stdin: b + "\n").status == 1, "the revocation must be carried")
        #expect(try sandbox.run(["list"]).status == 0)
    }

    @Test func backupToStandardOutputAndRestoreFromStandardInput() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let token = try sandbox.create("t")
        let passphrase = sandbox.root + "/backup-pass"
        sandbox.write("backup secret\n", to: passphrase)
        let binary = try CLIHarness.requireBinary()
        let restored = sandbox.root + "/r"
        let piped = try sandbox.run(
            [
                "-c",
                "\"$0\" backup --passphrase-file \"$1\" --out - | \"$0\" restore - --passphrase-file \"$1\" --vault \"$2\""
                    + " --vault-passphrase-file \"$3\"",
                binary, passphrase, restored, sandbox.passphraseFile,
            ], executable: "/bin/sh")
        #expect(piped.status == 0, "\(piped)")
        #expect(try sandbox.run(["verify", "--vault", restored], stdin: token + "\n").status == 0)
    }

    /// A vault with solo1 and solo2, backed up; then solo2 revoked and solo3
    /// created. Returns the tokens by label, the backup's key and path, and
    /// the arguments of a `restore --force` of it.
    static func vaultRestoredOver() throws -> (Sandbox, [String: String], [String]) {
        let box = try Sandbox()
        try box.initVault()
        var tokens: [String: String] = [:]
        for label in ["solo1", "solo2"] { tokens[label] = try box.create(label) }
        let (key, backup) = try backUp(box)
        #expect(try box.run(["revoke", "solo2", "--yes"]).status == 0)
        tokens["solo3"] = try box.create("solo3")
        let arguments = [
            "restore", backup, "-i", key, "--force", "--yes", "--vault-passphrase-file", box.passphraseFile,
        ]
        return (box, tokens, arguments)
    }

    /// The parent's fsync after the exchange of a restore --force fails (in
    /// the real binary, strace injecting EIO): the restored vault is in place,
    /// so restore says so (74), word for word, and names where the replaced
    /// vault is kept. The vault lists the backup's tokens with solo2's
    /// revocation carried over, solo3 lives on only in the kept vault, and
    /// doctor is clean after doctor --repair.
    @Test func aRestoreFailingAfterTheExchangeSaysTheVaultWasRestored() throws {
        let strace = try ExternalTools.locate("strace", package: "strace")
        let binary = try CLIHarness.requireBinary()
        let (twin, _, twinArguments) = try Self.vaultRestoredOver()
        let trace = twin.root + "/trace"
        let traced = try twin.run(
            ["-f", "-qq", "-y", "-e", "trace=fsync,rename,renameat,renameat2", "-o", trace, binary] + twinArguments,
            executable: strace)
        try #require(traced.status == 0, "\(traced)")
        let calls = try PasswdTests.calls(tracedInto: trace)
        let exchangeAt = try #require(calls.firstIndex { $0.contains("RENAME_EXCHANGE") }, "\(calls)")
        let syncAt = try #require(calls[exchangeAt...].firstIndex { $0.hasPrefix("fsync(") }, "\(calls)")
        #expect(calls[syncAt].contains("<\(twin.root)>)"), "not the parent's fsync: \(calls[syncAt])")
        let fsync = PasswdTests.ordinal(of: syncAt, in: calls)

        let (box, tokens, arguments) = try Self.vaultRestoredOver()
        let before = try box.listJSON()
        let solo3 = try #require(before.first { $0["label"] as? String == "solo3" }?["id"] as? String)
        let result = try box.run(
            ["-f", "-qq", "-o", "/dev/null", "-e", "inject=fsync:error=EIO:when=\(fsync.n)", binary] + arguments,
            executable: strace)
        let kept = try #require(try Self.keptAside(box).first, "\(result)")
        #expect(try Self.keptAside(box).count == 1)
        #expect(result.status == 74, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(
            result.stderr.split(separator: "\n", omittingEmptySubsequences: false) == [
                "ztoken: 1 active token the backup lacks would be lost (kept only in the replaced vault): "
                    + "'solo3' (\(solo3))",
                "ztoken: carries 1 revocation of this vault into the restored one",
                "ztoken: error: \(box.root): fsync failed: input/output error; all the same, the vault at "
                    + "\(box.vault) is now the restored one, and the replaced vault is kept aside at \(kept)",
                "ztoken: hint: the restore is done and need not be run again; run 'ztoken doctor' to check the vault",
                "",
            ], "\(result)")

        // The backup's tokens, with solo2's revocation carried over; solo3
        // only in the vault kept aside.
        let after = try box.listJSON()
        #expect(
            after.map { "\($0["id"]!) \($0["label"]!) \($0["state"]!)" }
                == before.filter { $0["label"] as? String != "solo3" }.map {
                    "\($0["id"]!) \($0["label"]!) \($0["state"]!)"
                }, "\(after)")
        #expect(try box.run(["verify"], stdin: tokens["solo1"]! + "\n").status == 0)
        #expect(try box.run(["verify"], stdin: tokens["solo2"]! + "\n").status == 1)
        #expect(try box.run(["verify"], stdin: tokens["solo3"]! + "\n").status == 1)
        #expect(try box.run(["verify", "--vault", kept], stdin: tokens["solo3"]! + "\n").status == 0)
        let exported = try box.run([
            "export", "solo1", "--vault-passphrase-file", box.passphraseFile, "--server", "https://z.example",
            "--plain-dir", box.nextName("plain"),
        ])
        #expect(exported.status == 0, "the restored vault opens with its passphrase: \(exported)")
        #expect(try box.run(["doctor", "--repair"]).status == 0)
        let doctor = try box.run(["doctor"])
        #expect(doctor.status == 0, "\(doctor)")
        #expect(doctor.stderr.contains(kept), "\(doctor)")
    }
}
