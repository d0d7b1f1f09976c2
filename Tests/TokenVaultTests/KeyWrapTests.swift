// KeyWrap: the vault secret key sealed under a passphrase. Round trip; a wrong
// passphrase and any tampering look alike to the AEAD (both `.wrongPassphrase`,
// exit 77); the associated data binds the wrapped key to its vault id and
// public key; parameters read from disk are refused below the floor, above the
// ceiling, for another algorithm, or with a malformed salt.
//
// These tests run with the test-only minimal Argon2id cost (as every in-process
// test does: the flag is read once per process), so the floor is libsodium's
// minimum and "below the floor" means below what libsodium accepts at all.
import Testing

@testable import TokenVault

@Suite struct KeyWrapTests {
    init() { TestVault.useMinimalKDF() }

    static let vaultID = "abcdefghijklmnopqrstuvwx"
    static let passphrase = TestVault.secret("correct horse battery staple")

    struct Wrapped {
        let secretKey: SecureBytes
        let publicKey: [UInt8]
        let kdf: KDFParameters
        let file: WrappedKeyFile
        var associatedData: [UInt8] { KeyWrap.associatedData(vaultID: KeyWrapTests.vaultID, publicKey: publicKey) }
    }

    static func wrapped() throws -> Wrapped {
        let (publicKey, secretKey) = Sodium.boxKeyPair()
        let file = try KeyWrap.wrap(
            secretKey, passphrase: passphrase, level: .interactive,
            associatedData: KeyWrap.associatedData(vaultID: vaultID, publicKey: publicKey))
        let kdf = try #require(file.kdf, "a version 2 key file carries its KDF parameters")
        return Wrapped(secretKey: secretKey, publicKey: publicKey, kdf: kdf, file: file)
    }

    static func unwrap(
        _ w: Wrapped, kdf: KDFParameters? = nil, file: WrappedKeyFile? = nil,
        passphrase: SecureBytes = passphrase, associatedData: [UInt8]? = nil
    ) throws -> SecureBytes {
        try KeyWrap.unwrap(
            file ?? w.file, kdf: kdf ?? w.kdf, passphrase: passphrase,
            associatedData: associatedData ?? w.associatedData, metadataPath: "/v/vault.json",
            keyPath: "/v/vault-key.json")
    }

    @Test func wrapThenUnwrapGivesTheSecretKeyBack() throws {
        #expect(KeyWrap.testOnlyMinimalCost, "the tests expect the minimal-cost hook to be on")
        let w = try Self.wrapped()
        #expect(w.kdf.algorithm == "argon2id13")
        #expect(w.file.cipher == "xchacha20poly1305-ietf")
        #expect(Base64.decode(w.kdf.salt)?.count == Sodium.pwhashSaltLength)
        let opened = try Self.unwrap(w)
        #expect(opened.constantTimeEquals(w.secretKey))
        try KeyWrap.checkParameters(w.kdf, path: "/v/vault.json")
    }

    @Test func twoWrapsOfOneKeyDiffer() throws {
        let (publicKey, secretKey) = Sodium.boxKeyPair()
        let ad = KeyWrap.associatedData(vaultID: Self.vaultID, publicKey: publicKey)
        let a = try KeyWrap.wrap(secretKey, passphrase: Self.passphrase, level: .interactive, associatedData: ad)
        let b = try KeyWrap.wrap(secretKey, passphrase: Self.passphrase, level: .interactive, associatedData: ad)
        #expect(a.kdf?.salt != b.kdf?.salt)
        #expect(a.nonce != b.nonce)
        #expect(a.ciphertext != b.ciphertext)
    }

    @Test(arguments: [
        "correct horse battery stapl", "correct horse battery staple ", "", "Correct horse battery staple",
    ])
    func aWrongPassphraseIsWrongPassphrase(passphrase: String) throws {
        let w = try Self.wrapped()
        #expect(throws: VaultError.wrongPassphrase(path: "/v/vault-key.json")) {
            _ = try Self.unwrap(w, passphrase: TestVault.secret(passphrase))
        }
    }

    /// Flipping any one bit of the ciphertext (tag included) or the nonce is
    /// indistinguishable from a wrong passphrase.
    @Test func tamperingWithTheCiphertextOrNonceIsWrongPassphrase() throws {
        let w = try Self.wrapped()
        /// Flips `mask` in byte `position` of the base64 field and expects 77.
        func expectWrongPassphrase(
            flipping field: WritableKeyPath<WrappedKeyFile, String>, at position: Int, mask: UInt8
        ) throws {
            var bytes = try #require(Base64.decode(w.file[keyPath: field]))
            bytes[position] ^= mask
            var file = w.file
            file[keyPath: field] = Base64.encode(bytes)
            #expect(throws: VaultError.wrongPassphrase(path: "/v/vault-key.json"), "\(field) byte \(position)") {
                _ = try Self.unwrap(w, file: file)
            }
        }
        let ciphertextCount = try #require(Base64.decode(w.file.ciphertext)).count
        let nonceCount = try #require(Base64.decode(w.file.nonce)).count
        for position in 0..<ciphertextCount {
            try expectWrongPassphrase(flipping: \.ciphertext, at: position, mask: 0x01)
        }
        for position in [0, nonceCount / 2, nonceCount - 1] {
            try expectWrongPassphrase(flipping: \.nonce, at: position, mask: 0x80)
        }
        // Another salt derives another key: also a wrong passphrase.
        var kdf = w.kdf
        kdf.salt = Base64.encode(Sodium.randomBytes(Sodium.pwhashSaltLength))
        #expect(throws: VaultError.wrongPassphrase(path: "/v/vault-key.json")) { _ = try Self.unwrap(w, kdf: kdf) }
    }

    @Test func aTruncatedOrMisencodedWrappedKeyIsCorrupt() throws {
        let w = try Self.wrapped()
        var short = w.file
        short.ciphertext = Base64.encode(Array(try #require(Base64.decode(w.file.ciphertext)).dropLast()))
        var badNonce = w.file
        badNonce.nonce = "not base64!"
        var cipher = w.file
        cipher.cipher = "aes256gcm"
        for file in [short, badNonce] {
            #expect(throws: VaultError.corrupt(path: "/v/vault-key.json", reason: "malformed wrapped key")) {
                _ = try Self.unwrap(w, file: file)
            }
        }
        #expect(throws: VaultError.corrupt(path: "/v/vault-key.json", reason: "unknown cipher 'aes256gcm'")) {
            _ = try Self.unwrap(w, file: cipher)
        }
    }

    /// The wrapped key opens only with the vault id and public key it was made for.
    @Test func theAssociatedDataBindsVaultIDAndPublicKey() throws {
        let w = try Self.wrapped()
        let otherID = KeyWrap.associatedData(vaultID: "zzzzzzzzzzzzzzzzzzzzzzzz", publicKey: w.publicKey)
        let otherKey = KeyWrap.associatedData(vaultID: Self.vaultID, publicKey: Sodium.boxKeyPair().publicKey)
        for ad in [otherID, otherKey, [], Array(w.associatedData.dropLast())] {
            #expect(throws: VaultError.wrongPassphrase(path: "/v/vault-key.json")) {
                _ = try Self.unwrap(w, associatedData: ad)
            }
        }
        // And the encoding does not let id and key bytes slide into each other.
        #expect(
            KeyWrap.associatedData(vaultID: "a", publicKey: Array("b".utf8))
                != KeyWrap.associatedData(vaultID: "a:", publicKey: []))
    }

    // MARK: checkParameters

    static func expectRefused(
        _ kdf: KDFParameters, _ reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(
            throws: VaultError.weakKeyDerivation(path: "/v/vault.json", reason: reason), sourceLocation: sourceLocation
        ) {
            try KeyWrap.checkParameters(kdf, path: "/v/vault.json")
        }
    }

    @Test(arguments: ["argon2i13", "scrypt", "", "ARGON2ID13"])
    func anUnknownAlgorithmIsRefused(algorithm: String) throws {
        var kdf = try Self.wrapped().kdf
        kdf.algorithm = algorithm
        Self.expectRefused(kdf, "unknown algorithm '\(algorithm)'")
        // Refused before any key derivation, with the metadata path.
        let w = try Self.wrapped()
        #expect(throws: VaultError.weakKeyDerivation(path: "/v/vault.json", reason: "unknown algorithm '\(algorithm)'"))
        {
            _ = try Self.unwrap(w, kdf: kdf)
        }
    }

    @Test func costBelowTheFloorIsRefused() throws {
        let floor = KeyWrap.limits(for: .interactive)
        // libsodium's crypto_pwhash_argon2id OPSLIMIT_MIN and MEMLIMIT_MIN.
        #expect(floor.ops == 1 && floor.mem == 8192)
        var kdf = try Self.wrapped().kdf
        kdf.memLimit = 1024
        Self.expectRefused(kdf, "cost below the interactive minimum")
        kdf.memLimit = floor.mem - 1
        Self.expectRefused(kdf, "cost below the interactive minimum")
        kdf.memLimit = floor.mem
        kdf.opsLimit = floor.ops - 1
        Self.expectRefused(kdf, "cost below the interactive minimum")
        kdf.opsLimit = 0
        Self.expectRefused(kdf, "cost below the interactive minimum")
        kdf.opsLimit = floor.ops
        try KeyWrap.checkParameters(kdf, path: "/v/vault.json")
    }

    @Test func costAboveTheCeilingIsRefused() throws {
        var kdf = try Self.wrapped().kdf
        kdf.opsLimit = KeyWrap.ceiling.ops + 1
        Self.expectRefused(kdf, "cost above the sensitive maximum")
        kdf.opsLimit = KeyWrap.ceiling.ops
        try KeyWrap.checkParameters(kdf, path: "/v/vault.json")
        kdf.memLimit = KeyWrap.ceiling.mem + 1
        Self.expectRefused(kdf, "cost above the sensitive maximum")
        kdf.memLimit = Int.max
        kdf.opsLimit = UInt64.max
        Self.expectRefused(kdf, "cost above the sensitive maximum")
    }

    @Test(arguments: [
        "", "AAAA", "not base64 at all", String(repeating: "A", count: 24), String(repeating: "A", count: 28),
    ])
    func aMalformedSaltIsRefused(salt: String) throws {
        var kdf = try Self.wrapped().kdf
        kdf.salt = salt
        #expect(throws: VaultError.corrupt(path: "/v/vault.json", reason: "malformed key-derivation salt")) {
            try KeyWrap.checkParameters(kdf, path: "/v/vault.json")
        }
    }
}
