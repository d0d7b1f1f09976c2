// `ztoken init`: makes a private vault once, refuses to make it twice, and
// defaults to the `moderate` Argon2id preset outside tests.
import Foundation
import TestSupport
import Testing

@Suite struct InitTests {
    @Test func makesAPrivateVaultWithTheExpectedFiles() throws {
        let box = try Sandbox()
        let result = try box.initVault()
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "ztoken: made a vault at \(box.vault)\n")
        #expect(box.tree() == [".lock", "index.json", "log.jsonl", "records", "vault-key.json", "vault.json"])
        #expect(FileStatus.mode(box.vault) == 0o700)
        #expect(FileStatus.mode(box.vault + "/records") == 0o700)
        for file in [".lock", "index.json", "log.jsonl", "vault-key.json", "vault.json"] {
            #expect(FileStatus.mode(box.vault + "/" + file) == 0o600, "\(file)")
        }
        let meta = try #require(
            try JSONSerialization.jsonObject(with: Data(box.bytes(box.vault + "/vault.json") ?? [])) as? [String: Any])
        #expect(meta["version"] as? Int == 2)
        #expect(meta["kdf"] == nil, "version 2 keeps the KDF parameters in vault-key.json")
        #expect(meta["user"] as? String == "tester")
        let index = String(decoding: box.bytes(box.vault + "/index.json") ?? [], as: UTF8.self)
        #expect(index.contains("\"version\" : 2") && index.contains("\"log\" : {"), "anchored at the init event")
        // Nothing is left beside the vault: the staging directory was renamed into place.
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.root).filter { $0.contains(".init-") }.isEmpty)
    }

    @Test func refusesAnExistingVaultAndLeavesItUnchanged() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("kept")
        let before = box.bytes(box.vault + "/vault.json")
        let again = try box.run(["init", "--vault-passphrase-file", box.passphraseFile])
        #expect(again.status == 73)
        #expect(again.stdout.isEmpty)
        #expect(again.stderr.hasPrefix("ztoken: error: \(box.vault) already exists\n"))
        #expect(again.stderr.contains("ztoken: hint: "))
        #expect(box.bytes(box.vault + "/vault.json") == before)
        #expect(try box.run(["verify"], stdin: token).status == 0)
    }

    @Test func refusesANonEmptyDirectoryThatIsNotAVault() throws {
        let box = try Sandbox()
        mkdir(box.vault, 0o700)
        box.write("mine", to: box.vault + "/notes.txt")
        let result = try box.run(["init", "--vault-passphrase-file", box.passphraseFile])
        #expect(result.status == 73)
        #expect(box.tree() == ["notes.txt"])
    }

    @Test func initIntoAnEmptyDirectoryWorks() throws {
        let box = try Sandbox()
        mkdir(box.vault, 0o700)
        try box.initVault()
        #expect(try box.run(["list"]).status == 0)
    }

    @Test func withoutAPassphraseOffATerminalItIsAUsageError() throws {
        let box = try Sandbox()
        let result = try box.run(["init"])
        #expect(result.status == 64)
        #expect(
            result.stderr == "ztoken: error: no terminal to ask for the vault passphrase on\n"
                + "ztoken: hint: in scripts, pass --vault-passphrase-file FILE\n")
        #expect(!FileManager.default.fileExists(atPath: box.vault))
    }

    @Test func badFlagsAreUsageErrorsAndMakeNothing() throws {
        let box = try Sandbox()
        for arguments in [["init", "--kdf", "weak"], ["init", "--server", "ftp://x"], ["init", "--bogus"]] {
            let result = try box.run(arguments + ["--vault-passphrase-file", box.passphraseFile])
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stderr.hasPrefix("ztoken: error: "), "\(arguments)")
            #expect(result.stdout.isEmpty)
            #expect(!FileManager.default.fileExists(atPath: box.vault), "\(arguments)")
        }
    }

    @Test func aMissingPassphraseFileIsNotFound() throws {
        let box = try Sandbox()
        let result = try box.run(["init", "--vault-passphrase-file", box.root + "/nope"])
        #expect(result.status == 66)
        #expect(result.stderr.hasPrefix("ztoken: error: \(box.root)/nope: no such file\n"))
        #expect(!FileManager.default.fileExists(atPath: box.vault))
    }

    @Test func aWorldReadablePassphraseFileIsRefused() throws {
        let box = try Sandbox()
        chmod(box.passphraseFile, 0o644)
        let result = try box.run(["init", "--vault-passphrase-file", box.passphraseFile])
        #expect(result.status == 77)
        #expect(result.stderr.contains("ztoken: hint: run: chmod 600 '\(box.passphraseFile)'"))
        #expect(!FileManager.default.fileExists(atPath: box.vault))
    }

    /// Without the test hook the product's own presets apply. `interactive`
    /// keeps this cheap; memLimit 64 MiB proves the hook was not in force.
    @Test func withoutTheTestHookTheRealPresetsApply() throws {
        let box = try Sandbox()
        let result = try box.run(
            ["init", "--kdf", "interactive", "--vault-passphrase-file", box.passphraseFile],
            environment: [MinimalKDF.environmentName: nil])
        try #require(result.status == 0, "\(result)")
        // The parameters live in the key file (version 2), beside the key they unwrap.
        let keyFile = try #require(
            try JSONSerialization.jsonObject(with: Data(box.bytes(box.vault + "/vault-key.json") ?? []))
                as? [String: Any])
        let kdf = try #require(keyFile["kdf"] as? [String: Any])
        #expect(kdf["memLimit"] as? Int == 67_108_864)
        #expect(kdf["algorithm"] as? String == "argon2id13")
        // And the vault made that way is usable by a run that does set the hook.
        #expect(try box.run(["create", "ok"]).status == 0)
    }

    @Test func theDefaultPresetIsModerate() throws {
        // The default level is visible in the help text without paying for a
        // 256 MiB derivation in the test suite.
        let box = try Sandbox()
        let help = try box.run(["init", "--help"])
        let words = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("(values: interactive, moderate, sensitive; default: moderate)"))
    }
}
