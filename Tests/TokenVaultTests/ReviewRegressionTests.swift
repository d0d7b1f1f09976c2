// Regressions found by review of the day's merges: each would have let a
// writer undo a revocation, an expiry or a passphrase change, or store an
// index that no command could open again.
import Foundation
import Testing

@testable import TokenVault

@Suite struct ReviewRegressionTests {
    static func scratchVault() throws -> (VaultBackupTests.Scratch, Vault) {
        let scratch = try VaultBackupTests.Scratch()
        return (scratch, try VaultBackupTests.makeVault(at: scratch.root + "/v"))
    }

    /// A lifetime carried past the last expressible time is capped there,
    /// and no writer stores an index the reader refuses.
    @Test func rotatingATokenThatExpiresInTheYear9999KeepsTheVaultOpen() throws {
        let (scratch, vault) = try Self.scratchVault()
        defer { withExtendedLifetime(scratch) {} }
        let made = try vault.create(label: "far", expiresAt: Expiry.latest - 10)
        // Made years ago: its lifetime, counted from now, ends past year 9999.
        var index = try vault.readIndex()
        index.tokens[0].createdAt = "2020-01-01T00:00:00Z"
        try vault.writeIndex(index)
        _ = try vault.rotate(reference: made.info.id)
        let tokens = try vault.tokens()
        #expect(tokens.map(\.label) == ["far"])
        #expect(tokens.first?.expiresAt == Expiry.format(Expiry.latest))
    }

    /// A revoked token's value imported again would be active under a new id
    /// while verify still found the revoked entry.
    @Test func aRevokedTokenCannotBeImportedAgain() throws {
        let (scratch, vault) = try Self.scratchVault()
        defer { withExtendedLifetime(scratch) {} }
        let token = SecureBytes(copying: Array("imported-SERVER-token-0123456789".utf8))
        let made = try vault.create(label: "jira", importing: token)
        try vault.revoke(ids: [made.info.id])
        #expect(
            throws: VaultError.invalidArgument(
                "this token is already in the vault as 'jira' (id \(made.info.id), revoked)")
        ) {
            try vault.create(label: "jira-again", importing: token)
        }
        #expect(try vault.verify(token) == .revoked(try vault.token(made.info.id)))
    }

    /// A passwd between showing a restore's plan and installing it would be
    /// undone by the install (the kept key is the one read for the plan).
    @Test func aPasswdWhileARestoreWaitsStopsTheRestore() throws {
        let (scratch, vault) = try Self.scratchVault()
        _ = try vault.create(label: "a")
        let identity = AgeX25519Identity.generate()
        try vault.backup(
            to: OutputFile(path: scratch.root + "/b.age", overwrite: false), recipients: [.x25519(identity.recipient)])
        let plan = try Vault.prepareRestore(
            from: scratch.root + "/b.age", identities: [.x25519(identity)], to: scratch.root + "/v",
            options: RestoreOptions(replaceExisting: true), credentials: { _ in VaultBackupTests.passphrase })
        _ = try vault.changePassphrase(
            from: SecureBytes(copying: Array("pw".utf8)), to: SecureBytes(copying: Array("new passphrase".utf8)))
        #expect(throws: VaultError.vaultChanged(path: scratch.root + "/v")) { _ = try plan.install() }
        plan.discard()
        _ = try vault.unlock(passphrase: SecureBytes(copying: Array("new passphrase".utf8)))
    }

    /// Expiry is never undone: a restore keeps the earlier of the two times.
    @Test func aRestoreKeepsTheEarlierExpiry() throws {
        let (scratch, vault) = try Self.scratchVault()
        let made = try vault.create(label: "a", expiresAt: Int64(Clock.seconds()) + 30 * 86_400)
        let identity = AgeX25519Identity.generate()
        try vault.backup(
            to: OutputFile(path: scratch.root + "/b.age", overwrite: false), recipients: [.x25519(identity.recipient)])
        let sooner = Int64(Clock.seconds()) + 3_600
        _ = try vault.setExpiry(id: made.info.id, to: sooner)
        let plan = try Vault.restore(
            from: scratch.root + "/b.age", identities: [.x25519(identity)], to: scratch.root + "/v",
            options: RestoreOptions(replaceExisting: true), credential: VaultBackupTests.passphrase)
        #expect(plan.carriedExpiries == 1)
        #expect(try Vault(openingAt: scratch.root + "/v").token(made.info.id).expiresAt == Expiry.format(sooner))
    }
}
