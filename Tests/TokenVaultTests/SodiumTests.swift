// The libsodium wrappers report what libsodium refuses instead of returning
// output it never wrote.
import Testing

@testable import TokenVault

@Suite struct SodiumTests {
    @Test func sealingToALowOrderOrMisSizedKeyThrows() throws {
        let message = SecureBytes(copying: Array("ztk_secret".utf8))
        for key in [
            [UInt8](repeating: 0, count: 32), [1] + [UInt8](repeating: 0, count: 31), [UInt8](repeating: 0, count: 31),
        ] {
            #expect(throws: VaultError.self) { try Sodium.seal(message, to: key) }
        }
        let (publicKey, secretKey) = Sodium.boxKeyPair()
        let sealed = try Sodium.seal(message, to: publicKey)
        #expect(
            Sodium.openSealed(sealed, publicKey: publicKey, secretKey: secretKey)?.constantTimeEquals(message) == true)
    }
}
