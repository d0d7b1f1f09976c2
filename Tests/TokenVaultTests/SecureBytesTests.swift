// SecureBytes: the one owner of secrets never shows them in text.
import Testing

@testable import TokenVault

@Suite struct SecureBytesTests {
    @Test func descriptionIsRedacted() {
        let secret = SecureBytes(copying: Array("ztk_supersecretvalue".utf8))
        #expect(secret.description == "SecureBytes(20 bytes, redacted)")
        #expect(secret.debugDescription == secret.description)
        #expect(!"\(secret)".contains("supersecret"))
        #expect(!String(reflecting: secret).contains("supersecret"))
        #expect(!String(describing: [secret]).contains("supersecret"))
    }

    @Test func comparesByContentAndLength() {
        let a = SecureBytes(copying: [1, 2, 3])
        #expect(a.constantTimeEquals(SecureBytes(copying: [1, 2, 3])))
        #expect(!a.constantTimeEquals(SecureBytes(copying: [1, 2, 4])))
        #expect(!a.constantTimeEquals(SecureBytes(copying: [1, 2])))
    }

    @Test func sliceAndRandom() {
        let a = SecureBytes(copying: Array("abcdef".utf8))
        #expect(a.slice(1..<3).unsafeRevealedString() == "bc")
        let r1 = SecureBytes.random(count: 32)
        let r2 = SecureBytes.random(count: 32)
        #expect(r1.count == 32)
        #expect(!r1.constantTimeEquals(r2))
        #expect(SecureBytes(zeroedCount: 0).count == 0)
    }

    @Test func errorsAboutSecretsNeverCarryThem() throws {
        let scratch = try VaultBackupTests.Scratch()
        let vault = try VaultBackupTests.makeVault(at: scratch.root + "/v")
        // A malformed import, a wrong passphrase: neither message may echo the secret.
        let badToken = "not a token but a SECRET-7f3a9c"
        do {
            _ = try vault.create(label: "x", importing: SecureBytes(copying: Array(badToken.utf8)))
            Issue.record("a malformed import was accepted")
        } catch let error as VaultError {
            #expect(!"\(error.message) \(error.hint ?? "")".contains("SECRET-7f3a9c"), "\(error)")
        }
        let wrong = "wrong-passphrase-SECRET-91b2"
        do {
            _ = try vault.unlock(passphrase: SecureBytes(copying: Array(wrong.utf8)))
            Issue.record("a wrong passphrase unlocked the vault")
        } catch let error as VaultError {
            #expect(error.exitCode == 77)
            #expect(!"\(error.message) \(error.hint ?? "")".contains("SECRET-91b2"), "\(error)")
        }
        let created = try vault.create(label: "ok")
        #expect(!"\(created.token)".contains("ztk_"), "SecureBytes must not describe its contents")
    }
}
