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
        try Vault.initialize(at: path, setup: VaultSetup(user: "t", kdf: .interactive,
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

        let stale = try Vault(openingAt: path)          // opened before the restore
        try Vault.restore(from: backupPath, identities: [.x25519(identity)], to: path,
                          options: RestoreOptions(replaceExisting: true), credential: Self.passphrase)

        #expect(throws: VaultError.vaultReplaced(path: path)) { try stale.create(label: "late") }
        #expect(throws: VaultError.vaultReplaced(path: path)) { try stale.revoke(ids: [kept.info.id]) }
        let fresh = try Vault(openingAt: path)
        #expect(try fresh.tokens().map(\.label) == ["kept"])
        #expect(try fresh.verify(kept.token) == .valid(kept.info))
        #expect(try fresh.doctor(repair: false).isHealthy)
        let siblings = try FileManager.default.contentsOfDirectory(atPath: scratch.root).sorted()
        #expect(siblings.count == 3 && siblings[0] == "b.age" && siblings[1] == "vault"
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
            _ = try vault.backup(to: OutputFile(path: scratch.root + "/" + name, overwrite: false),
                                 recipients: [.x25519(identity.recipient)])
        }
        for token in [created[9], created[7]] { #expect(unlink(path(token)) == 0) }
        #expect(throws: VaultError.corrupt(path: path(created[7]),
                                           reason: "the sealed record of active token 'many-8' is missing; run 'ztoken doctor'")) {
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
        let summary = try vault.backup(to: OutputFile(path: scratch.root + "/b.age", overwrite: false),
                                       recipients: [.x25519(identity.recipient)])
        #expect(summary.activeTokens == 1)
        #expect(summary.files == 4)   // vault.json, vault-key.json, index.json, one record
        try Vault.restore(from: scratch.root + "/b.age", identities: [.x25519(identity)], to: scratch.root + "/r",
                          options: RestoreOptions(), credential: Self.passphrase)
        let restored = try Vault(openingAt: scratch.root + "/r")
        #expect(try restored.tokens(includeRevoked: true) == vault.tokens(includeRevoked: true))
        #expect(restored.vaultID == vault.vaultID)
        let key = try restored.unlock(passphrase: SecureBytes(copying: Array("pw".utf8)))
        #expect(try restored.revealToken(id: a.info.id, with: key).constantTimeEquals(a.token))
    }
}
