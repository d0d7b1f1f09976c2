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
        let r1 = SecureBytes.random(count: 32), r2 = SecureBytes.random(count: 32)
        #expect(r1.count == 32)
        #expect(!r1.constantTimeEquals(r2))
        #expect(SecureBytes(zeroedCount: 0).count == 0)
    }

    @Test func vaultErrorsNeverCarryTheSecret() {
        // An error about a token names its label, not the token.
        let error = VaultError.labelInUse("ci")
        #expect(error.description == "an active token is already labelled 'ci'")
    }
}
