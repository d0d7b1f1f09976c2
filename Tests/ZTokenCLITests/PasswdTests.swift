// `passwd` end to end: the new passphrase opens every record and the old one
// is refused (77); --kdf changes the cost; --rekey gives the vault a new key
// pair and keeps every token; a vault of ztoken 0.1 (parameters in
// vault.json) is upgraded in place by its first passwd; refusals change
// nothing; a passwd that fails late (strace injects the faults) says which
// passphrase is in effect.
import Foundation
import TestSupport
import Testing

@Suite struct PasswdTests {
    static func writeSecret(_ box: Sandbox, _ name: String, _ text: String) -> String {
        let path = box.root + "/" + name
        box.write(text + "\n", to: path)
        return path
    }

    /// `export LABEL` with a passphrase file into a fresh plain directory.
    static func export(_ box: Sandbox, _ label: String, passphraseFile: String) throws -> CLIResult {
        try box.run([
            "export", label, "--vault-passphrase-file", passphraseFile, "--server", "https://z.example",
            "--plain-dir", box.nextName("plain"),
        ])
    }

    static func keyFile(_ box: Sandbox) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(box.bytes(box.vault + "/vault-key.json") ?? []))
                as? [String: Any])
    }

    @Test func theNewPassphraseOpensEveryRecordAndTheOldOneIsRefused() throws {
        let box = try Sandbox()
        try box.initVault()
        let tokens = try ["a", "b"].map { try box.create($0) }
        let new = Self.writeSecret(box, "new", "a new passphrase")
        let before = try Self.keyFile(box)
        let result = try box.run([
            "passwd", "--vault-passphrase-file", box.passphraseFile, "--new-passphrase-file", new,
        ])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("ztoken: changed the vault passphrase\n"))
        #expect(result.stderr.contains("backups made before still open with the old passphrase"))
        let after = try Self.keyFile(box)
        #expect(
            (after["kdf"] as? [String: Any])?["salt"] as? String != (before["kdf"] as? [String: Any])?["salt"]
                as? String)

        #expect(try Self.export(box, "a", passphraseFile: box.passphraseFile).status == 77)
        for label in ["a", "b"] { #expect(try Self.export(box, label, passphraseFile: new).status == 0) }
        for token in tokens { #expect(try box.run(["verify"], stdin: token).status == 0) }
        #expect(try box.run(["doctor"]).status == 0)
    }

    @Test func aWrongOldPassphraseIsRefusedAndChangesNothing() throws {
        let box = try Sandbox()
        try box.initVault()
        let wrong = Self.writeSecret(box, "wrong", "not it")
        let new = Self.writeSecret(box, "new", "a new passphrase")
        let before = box.bytes(box.vault + "/vault-key.json")
        let result = try box.run(["passwd", "--vault-passphrase-file", wrong, "--new-passphrase-file", new])
        #expect(result.status == 77, "\(result)")
        #expect(result.stderr.hasPrefix("ztoken: error: wrong passphrase for "))
        #expect(box.bytes(box.vault + "/vault-key.json") == before)
        #expect(box.temporaries().isEmpty)
    }

    @Test func refusals() throws {
        let box = try Sandbox()
        #expect(try box.run(["passwd", "--vault-passphrase-file", box.passphraseFile]).status == 66)
        try box.initVault()
        // No terminal to ask the new passphrase on.
        let noTerminal = try box.run(["passwd", "--vault-passphrase-file", box.passphraseFile])
        #expect(noTerminal.status == 64, "\(noTerminal)")
        #expect(try box.run(["passwd", "--kdf", "weak"]).status == 64)
        let missing = try box.run([
            "passwd", "--vault-passphrase-file", box.passphraseFile, "--new-passphrase-file", box.root + "/none",
        ])
        #expect(missing.status == 66, "\(missing)")
        let loose = Self.writeSecret(box, "loose", "a new passphrase")
        chmod(loose, 0o644)
        #expect(
            try box.run(["passwd", "--vault-passphrase-file", box.passphraseFile, "--new-passphrase-file", loose])
                .status == 77)

        let offline = try Sandbox()
        #expect(try offline.run(["init", "--offline-key", offline.root + "/key.txt"]).status == 0)
        let result = try offline.run([
            "passwd", "--vault-passphrase-file", offline.passphraseFile, "--new-passphrase-file",
            offline.passphraseFile,
        ])
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("keeps its secret key offline"))
    }

    /// With the real costs (no test hook), on a vault at the interactive
    /// level (fixtures/legacy-v1): --kdf moderate writes moderate's
    /// parameters, and --kdf interactive brings them down again.
    @Test func kdfChangesTheCostUpOrDown() throws {
        let box = try LegacyVaultTests.sandbox()
        let real: [String: String?] = [MinimalKDF.environmentName: nil]
        let new = Self.writeSecret(box, "new", "a new passphrase")
        var current = box.passphraseFile
        for (level, memLimit, opsLimit) in [("moderate", 268_435_456, 3), ("interactive", 67_108_864, 2)] {
            let changed = try box.run(
                ["passwd", "--kdf", level, "--vault-passphrase-file", current, "--new-passphrase-file", new],
                environment: real)
            #expect(changed.status == 0, "\(level): \(changed)")
            let kdf = try #require(try Self.keyFile(box)["kdf"] as? [String: Any], "\(level)")
            #expect(kdf["memLimit"] as? Int == memLimit, "\(level): \(kdf)")
            #expect(kdf["opsLimit"] as? Int == opsLimit, "\(level): \(kdf)")
            current = new
        }
        let exported = try box.run(
            [
                "export", "build-agent-7", "--vault-passphrase-file", new, "--plain-dir", box.nextName("plain"),
            ], environment: real)
        #expect(exported.status == 0, "\(exported)")
    }

    @Test func rekeyMakesANewKeyPairAndKeepsEveryToken() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://zephyr.example.com"])
        let tokens = try ["a", "b", "c"].map { try box.create($0) }
        #expect(try box.run(["revoke", "c", "--yes"]).status == 0)
        let backup = box.root + "/before.age"
        #expect(try box.run(["backup", "--out", backup, "--passphrase-file", box.passphraseFile]).status == 0)
        let metadata = box.bytes(box.vault + "/vault.json")
        let index = box.indexTokens()
        let new = Self.writeSecret(box, "new", "a new passphrase")
        let result = try box.run([
            "passwd", "--rekey", "--vault-passphrase-file", box.passphraseFile, "--new-passphrase-file", new,
        ])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("sealed 2 tokens to the new key"))
        #expect(box.bytes(box.vault + "/vault.json") != metadata, "a new public key")
        #expect(box.indexTokens() == index, "the same tokens")
        #expect(FileStatus.mode(box.vault) == 0o700)
        // Nothing of the old vault is left beside the new one.
        let parent = try FileManager.default.contentsOfDirectory(atPath: box.root)
        #expect(!parent.contains { $0.hasPrefix(".vault.") }, "\(parent)")

        #expect(try Self.export(box, "a", passphraseFile: box.passphraseFile).status == 77)
        for label in ["a", "b"] { #expect(try Self.export(box, label, passphraseFile: new).status == 0) }
        #expect(try box.run(["verify"], stdin: tokens[0]).status == 0)
        #expect(try box.run(["verify"], stdin: tokens[2]).status == 1)
        #expect(try box.run(["doctor"]).status == 0)
        #expect(try box.run(["create", "d"]).status == 0)
        #expect(try Self.export(box, "d", passphraseFile: new).status == 0)

        // A backup from before is of the same vault id but the old key pair.
        let restore = try box.run([
            "restore", backup, "--passphrase-file", box.passphraseFile, "--force", "--yes",
            "--vault-passphrase-file", new,
        ])
        #expect(restore.status == 65, "\(restore)")
        #expect(restore.stderr.contains("from before its key pair was replaced"), "\(restore.stderr)")
        #expect(restore.stderr.contains("ztoken: hint: to go back to the backup's key pair"))
    }

    @Test func aVaultOfZtoken01IsUpgradedByItsFirstPasswd() throws {
        let box = try LegacyVaultTests.sandbox()
        let old = box.root + "/old-passphrase"
        #expect(
            try Sandbox.spawnAndWait(["/bin/cp", LegacyVaultTests.fixture + "/passphrase.txt", old]) == 0)
        chmod(old, 0o600)
        let new = Self.writeSecret(box, "new", "a new passphrase")
        let result = try box.run(
            ["passwd", "--vault-passphrase-file", old, "--new-passphrase-file", new, "--kdf", "interactive"],
            environment: [MinimalKDF.environmentName: nil])
        #expect(result.status == 0, "\(result)")
        let metadata = try #require(
            try JSONSerialization.jsonObject(with: Data(box.bytes(box.vault + "/vault.json") ?? []))
                as? [String: Any])
        #expect(metadata["version"] as? Int == 2)
        #expect(metadata["kdf"] == nil, "the parameters moved to the key file")
        let key = try Self.keyFile(box)
        #expect(key["version"] as? Int == 2)
        #expect((key["kdf"] as? [String: Any])?["memLimit"] as? Int == 67_108_864)

        let environment: [String: String?] = [MinimalKDF.environmentName: nil]
        let plain = box.root + "/plain"
        let refused = try box.run(
            ["export", "ci-runner", "--vault-passphrase-file", old, "--plain-dir", plain], environment: environment)
        #expect(refused.status == 77, "\(refused)")
        for label in ["ci-runner", "jira", "build-agent-7"] {
            let exported = try box.run(
                ["export", label, "--vault-passphrase-file", new, "--plain-dir", plain, "--force"],
                environment: environment)
            #expect(exported.status == 0, "\(label): \(exported)")
            let properties = try String(contentsOfFile: plain + "/zbot/conf/zbot.properties", encoding: .utf8)
            let token = try LegacyVaultTests.token(label).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(properties.contains("zephyrApiToken=" + token))
        }
        #expect(try box.run(["doctor"]).status == 0)
    }

    // MARK: Failing late

    /// A vault with the active tokens "a" and "b" and the revoked "c", and
    /// the new passphrase's file; the active tokens.
    static func vaultWithTokens() throws -> (Sandbox, [String], new: String) {
        let box = try Sandbox()
        try box.initVault()
        let tokens = try ["a", "b"].map { try box.create($0) }
        _ = try box.create("c")
        #expect(try box.run(["revoke", "c", "--yes"]).status == 0)
        return (box, tokens, writeSecret(box, "new", "a new passphrase"))
    }

    static func passwdArguments(_ box: Sandbox, rekey: Bool) -> [String] {
        ["passwd"] + (rekey ? ["--rekey"] : []) + [
            "--vault-passphrase-file", box.passphraseFile, "--new-passphrase-file", box.root + "/new",
        ]
    }

    /// The fsync and rename calls of a passwd that succeeds on a vault made
    /// as `vaultWithTokens` makes it, as strace -y shows them (with paths),
    /// without the pid; and where that vault's parent is.
    static func tracedPasswd(rekey: Bool) throws -> (calls: [String], root: String) {
        let strace = try ExternalTools.locate("strace", package: "strace")
        let (twin, _, _) = try vaultWithTokens()
        let trace = twin.root + "/trace"
        let result = try twin.run(
            [
                "-f", "-qq", "-y", "-e", "trace=fsync,rename,renameat,renameat2", "-o", trace,
                try CLIHarness.requireBinary(),
            ]
                + passwdArguments(twin, rekey: rekey), executable: strace)
        try #require(result.status == 0, "\(result)")
        return (try calls(tracedInto: trace), twin.root)
    }

    /// The calls `strace -f -o FILE` wrote, each without its pid and the
    /// padding strace puts after a pid shorter than five digits.
    static func calls(tracedInto file: String) throws -> [String] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map {
            String($0.drop { $0 != " " }).trimmingCharacters(in: .whitespaces)
        }
    }

    /// The name of the call at `index`, and which call of that name it is (from 1).
    static func ordinal(of index: Int, in calls: [String]) -> (name: String, n: Int) {
        let name = String(calls[index].prefix { $0 != "(" })
        return (name, calls[...index].count { $0.hasPrefix(name + "(") })
    }

    /// The directory fsync after the new key file's rename fails, and so does
    /// every rename after it and every later fsync: the old key file cannot
    /// be put back, and the new one is in place. passwd says so (74), and
    /// the new passphrase opens the vault while the old one is refused.
    @Test func aFailedPutBackOfTheKeyFileSaysTheNewPassphraseIsInEffect() throws {
        let (calls, _) = try Self.tracedPasswd(rekey: false)
        let switchAt = try #require(calls.lastIndex { $0.contains("\"vault-key.json\")") }, "\(calls)")
        let syncAt = try #require(calls[switchAt...].firstIndex { $0.hasPrefix("fsync(") }, "\(calls)")
        let rename = Self.ordinal(of: switchAt, in: calls)
        let fsync = Self.ordinal(of: syncAt, in: calls)

        let (box, tokens, new) = try Self.vaultWithTokens()
        let strace = try ExternalTools.locate("strace", package: "strace")
        let result = try box.run(
            [
                "-f", "-qq", "-o", "/dev/null", "-e", "inject=fsync:error=EIO:when=\(fsync.n)+",
                "-e", "inject=\(rename.name):error=EIO:when=\(rename.n + 1)+", try CLIHarness.requireBinary(),
            ] + Self.passwdArguments(box, rekey: false), executable: strace)
        #expect(result.status == 74, "\(result)")
        let key = box.vault + "/vault-key.json"
        #expect(
            result.stderr
                == "ztoken: error: \(key): fsync failed: input/output error; putting the old key file back failed "
                + "too, and \(key) now holds the new one: the new passphrase is the one in effect\n"
                + "ztoken: hint: unlock the vault with the new passphrase from now on; 'ztoken doctor' checks the vault\n"
        )

        // AtomicFile's link to the old key file is left (the next writer
        // sweeps it): doctor names it, repair removes it.
        let doctor = try box.run(["doctor"])
        #expect(doctor.status == 65 && doctor.stdout.contains("/.tmp-vault-key.json-old-"), "\(doctor)")
        #expect(try Self.export(box, "a", passphraseFile: box.passphraseFile).status == 77)
        for label in ["a", "b"] { #expect(try Self.export(box, label, passphraseFile: new).status == 0) }
        for token in tokens { #expect(try box.run(["verify"], stdin: token).status == 0) }
        #expect(try box.run(["doctor", "--repair"]).status == 0)
        #expect(try box.run(["doctor"]).status == 0)
    }

    /// The parent's fsync after the exchange of a rekey fails: the new vault
    /// is in place, so passwd says so (74) and names the old vault left
    /// beside it. The new passphrase opens it, the public key is new, every
    /// token verifies, and doctor --repair removes the old vault.
    @Test func aRekeyFailingAfterTheExchangeSaysTheVaultWasRekeyed() throws {
        let (calls, twinRoot) = try Self.tracedPasswd(rekey: true)
        let exchangeAt = try #require(calls.firstIndex { $0.contains("RENAME_EXCHANGE") }, "\(calls)")
        let syncAt = try #require(calls[exchangeAt...].firstIndex { $0.hasPrefix("fsync(") }, "\(calls)")
        #expect(calls[syncAt].contains("<\(twinRoot)>)"), "not the parent's fsync: \(calls[syncAt])")
        let fsync = Self.ordinal(of: syncAt, in: calls)

        let (box, tokens, new) = try Self.vaultWithTokens()
        let metadata = box.bytes(box.vault + "/vault.json")
        let index = box.indexTokens()
        let strace = try ExternalTools.locate("strace", package: "strace")
        let result = try box.run(
            [
                "-f", "-qq", "-o", "/dev/null", "-e", "inject=fsync:error=EIO:when=\(fsync.n)",
                try CLIHarness.requireBinary(),
            ] + Self.passwdArguments(box, rekey: true), executable: strace)
        #expect(result.status == 74, "\(result)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        let prefix =
            "ztoken: error: \(box.root): fsync failed: input/output error; all the same, the vault at \(box.vault) "
            + "now has its new key pair and the new passphrase, and the old vault is left at \(box.root)/.vault.rekey-"
        try #require(lines.count == 2 && lines[0].hasPrefix(prefix), "\(result)")
        let leftover = String(lines[0].dropFirst(prefix.count - "\(box.root)/.vault.rekey-".count))
        #expect(FileManager.default.fileExists(atPath: leftover), "\(leftover)")
        #expect(
            lines[1]
                == "ztoken: hint: unlock the vault with the new passphrase from now on; "
                + "run 'ztoken doctor --repair' to remove the old vault")

        #expect(box.bytes(box.vault + "/vault.json") != metadata, "a new public key")
        #expect(box.indexTokens() == index, "the same tokens")
        #expect(try Self.export(box, "a", passphraseFile: box.passphraseFile).status == 77)
        for label in ["a", "b"] { #expect(try Self.export(box, label, passphraseFile: new).status == 0) }
        for token in tokens { #expect(try box.run(["verify"], stdin: token).status == 0) }
        #expect(try box.run(["doctor", "--repair"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: leftover), "doctor --repair left \(leftover)")
        #expect(try box.run(["doctor"]).status == 0)
    }
}
