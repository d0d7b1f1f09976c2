// Backup and restore through the library: what the end-to-end suite cannot
// reach, such as a writer that opened the vault before a restore replaced it.
import Foundation
import Testing

@_spi(Bench) @testable import TokenVault

@Suite struct VaultBackupTests {
    final class Scratch {
        let root: String
        init() throws {
            setenv("ZTOKEN_TESTONLY_MINIMAL_KDF", "1", 1)
            var template = Array("/tmp/ztoken-unit-XXXXXX".utf8CString)
            root = String(cString: try #require(mkdtemp(&template)))
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    static let passphrase = VaultCredential.passphrase(SecureBytes(copying: Array("pw".utf8)))

    static func makeVault(at path: String) throws -> Vault {
        try Vault.initialize(
            at: path,
            setup: VaultSetup(
                user: "t", kdf: .interactive,
                keyProtection: .passphrase(SecureBytes(copying: Array("pw".utf8)))))
    }

    @Test func aWriterThatOpenedTheReplacedVaultIsStoppedNotLost() throws {
        let scratch = try Scratch()
        let path = scratch.root + "/vault"
        let vault = try Self.makeVault(at: path)
        let kept = try vault.create(label: "kept")
        let identity = AgeX25519Identity.generate()
        let backupPath = scratch.root + "/b.age"
        try vault.backup(to: OutputFile(path: backupPath, overwrite: false), recipients: [.x25519(identity.recipient)])

        let stale = try Vault(openingAt: path)  // opened before the restore
        try Vault.restore(
            from: backupPath, identities: [.x25519(identity)], to: path,
            options: RestoreOptions(replaceExisting: true), credential: Self.passphrase)

        #expect(throws: VaultError.vaultReplaced(path: path)) { try stale.create(label: "late") }
        #expect(throws: VaultError.vaultReplaced(path: path)) { try stale.revoke(ids: [kept.info.id]) }
        let fresh = try Vault(openingAt: path)
        #expect(try fresh.tokens().map(\.label) == ["kept"])
        #expect(try fresh.verify(kept.token) == .valid(kept.info))
        #expect(try fresh.doctor(repair: false).isHealthy)
        let siblings = try FileManager.default.contentsOfDirectory(atPath: scratch.root).sorted()
        #expect(
            siblings.count == 3 && siblings[0] == "b.age" && siblings[1] == "vault"
                && siblings[2].hasPrefix("vault.replaced-"), "restore left \(siblings)")
    }

    /// A backup with records missing or unreadable fails on the first such
    /// record in index order, and leaves no output behind.
    @Test func aBackupNamesTheFirstBadRecordInIndexOrder() throws {
        let scratch = try Scratch()
        let vault = try Self.makeVault(at: scratch.root + "/a")
        let created = try vault.createMany(labels: (1...12).map { "many-\($0)" })
        let identity = AgeX25519Identity.generate()
        func path(_ token: CreatedToken) -> String { scratch.root + "/a/records/\(token.info.id).sealed" }
        func backup(_ name: String) throws {
            _ = try vault.backup(
                to: OutputFile(path: scratch.root + "/" + name, overwrite: false),
                recipients: [.x25519(identity.recipient)])
        }
        for token in [created[9], created[7]] { #expect(unlink(path(token)) == 0) }
        #expect(
            throws: VaultError.corrupt(
                path: path(created[7]),
                reason: "the sealed record of active token 'many-8' is missing; run 'ztoken doctor'")
        ) {
            try backup("c.age")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/c.age"))
        // A record that cannot be read (group-readable: refused) before the missing ones is the error.
        #expect(chmod(path(created[4]), 0o644) == 0)
        #expect(throws: VaultError.unsafePermissions(path: path(created[4]), mode: S_IFREG | 0o644, expected: 0o600)) {
            try backup("d.age")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/d.age"))
    }

    @Test func aBackupHoldsOnlyActiveRecordsAndRestoresTheSameVault() throws {
        let scratch = try Scratch()
        let vault = try Self.makeVault(at: scratch.root + "/a")
        let a = try vault.create(label: "a")
        let b = try vault.create(label: "b")
        try vault.revoke(ids: [b.info.id])
        let identity = AgeX25519Identity.generate()
        let summary = try vault.backup(
            to: OutputFile(path: scratch.root + "/b.age", overwrite: false),
            recipients: [.x25519(identity.recipient)])
        #expect(summary.activeTokens == 1)
        #expect(summary.files == 5)  // vault.json, vault-key.json, log.jsonl, index.json, one record
        try Vault.restore(
            from: scratch.root + "/b.age", identities: [.x25519(identity)], to: scratch.root + "/r",
            options: RestoreOptions(), credential: Self.passphrase)
        let restored = try Vault(openingAt: scratch.root + "/r")
        #expect(try restored.tokens(includeRevoked: true) == vault.tokens(includeRevoked: true))
        #expect(restored.vaultID == vault.vaultID)
        let key = try restored.unlock(passphrase: SecureBytes(copying: Array("pw".utf8)))
        #expect(try restored.revealToken(id: a.info.id, with: key).constantTimeEquals(a.token))
    }

    /// A backup whose archive is built here: backup.json listing `listed`, then `members`.
    static func archive(listed: [(String, Int)], members: [(String, [UInt8])]) throws -> [UInt8] {
        let files = listed.map {
            BackupManifest.File(path: $0.0, size: $0.1, blake2b: String(repeating: "0", count: 64))
        }
        let manifest = BackupManifest(
            version: 1, vaultID: "v", createdAt: "2026-01-01T00:00:00Z", activeTokens: 0, files: files)
        var entries = [
            TarArchive.Entry.file(
                BackupManifest.path, mode: 0o600, contents: SecureBytes(copying: try manifest.encoded()))
        ]
        for (path, bytes) in members { entries.append(.file(path, mode: 0o600, contents: SecureBytes(copying: bytes))) }
        return try TarArchive.write(entries, modificationTime: 0).withUnsafeBytes { Array($0) }
    }

    /// A path from a backup never reaches a message raw (terminal escape injection).
    @Test func aBackupPathWithAnEscapeIsShownEscaped() throws {
        let evil = "vault/\u{1B}]0;pwned\u{07}"
        do {
            _ = try Vault.checkBackupArchive(try Self.archive(listed: [(evil, 1)], members: []), shown: "b.age")
            Issue.record("accepted")
        } catch let error as VaultError {
            #expect(
                !error.message.unicodeScalars.contains("\u{1B}") && !error.message.unicodeScalars.contains("\u{07}"),
                "\(error.message)")
            #expect(error.message.contains("\\u{1b}"), "\(error.message)")
        }
    }

    /// A member is held to the vault's limit for its kind from the manifest,
    /// before any of its bytes are read.
    @Test func aMemberLargerThanTheVaultAllowsIsRefusedBeforeItIsRead() throws {
        let record = "vault/records/aaaaaaaaaaaa.sealed"
        #expect(
            throws: VaultError.corrupt(
                path: "b.age", reason: "'\(record)' is \(60 << 20) bytes; the vault's limit for it is 4096")
        ) {
            _ = try Vault.checkBackupArchive(
                try Self.archive(listed: [(record, 60 << 20)], members: []), shown: "b.age")
        }
        #expect(throws: VaultError.corrupt(path: "b.age", reason: "unlisted file 'vault/index.json'")) {
            _ = try Vault.checkBackupArchive(
                try Self.archive(listed: [], members: [("vault/index.json", [1])]), shown: "b.age")
        }
    }

    /// The sweep of abandoned staging directories never follows a planted
    /// symlink: not as the staging directory, not as its records/.
    @Test func theStagingSweepNeverFollowsASymlink() throws {
        let scratch = try Scratch()
        let vault = try Self.makeVault(at: scratch.root + "/a")
        _ = try vault.create(label: "one")
        let identity = AgeX25519Identity.generate()
        try vault.backup(
            to: OutputFile(path: scratch.root + "/b.age", overwrite: false), recipients: [.x25519(identity.recipient)])
        for name in ["elsewhere/records", "elsewhere2"] {
            try FileManager.default.createDirectory(
                atPath: scratch.root + "/" + name, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: scratch.root + "/" + name + "/precious", contents: Data([9]))
        }
        // A dead owner's staging name that is a symlink, and one whose records/ is.
        symlink(scratch.root + "/elsewhere", scratch.root + "/.r.restore-999999-0123456789ab")
        mkdir(scratch.root + "/.r.restore-999998-0123456789ab", 0o700)
        symlink(scratch.root + "/elsewhere2", scratch.root + "/.r.restore-999998-0123456789ab/records")
        try Vault.restore(
            from: scratch.root + "/b.age", identities: [.x25519(identity)], to: scratch.root + "/r",
            options: RestoreOptions(), credential: Self.passphrase)
        #expect(FileManager.default.contents(atPath: scratch.root + "/elsewhere/records/precious") == Data([9]))
        #expect(FileManager.default.contents(atPath: scratch.root + "/elsewhere2/precious") == Data([9]))
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/.r.restore-999998-0123456789ab"))
    }
}
