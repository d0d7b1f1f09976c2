// Protects the vault secret key with the user's passphrase: Argon2id
// (`crypto_pwhash`) derives a key, XChaCha20-Poly1305 seals the secret key
// with the vault id and public key as associated data, so a wrapped key moved
// to another vault does not open. Parameters read from disk below the
// `interactive` preset, or of an unknown algorithm, are refused: a tampered
// vault must not be able to make the next unlock cheap to brute-force.
internal import CSodium

#if canImport(Glibc)
import Glibc
#endif

enum KeyWrap {
    static let algorithm = "argon2id13"
    static let cipher = "xchacha20poly1305-ietf"

    /// Test-only: when true, every level uses libsodium's minimum Argon2id
    /// cost and the floor drops with it, so tests run fast. Set only from
    /// `ZTOKEN_TESTONLY_MINIMAL_KDF=1` in debug builds; release builds ignore it.
    static let testOnlyMinimalCost: Bool = {
        #if DEBUG
        return getenv("ZTOKEN_TESTONLY_MINIMAL_KDF") != nil
        #else
        return false
        #endif
    }()

    static func limits(for level: KDFLevel) -> (ops: UInt64, mem: Int) {
        if testOnlyMinimalCost {
            return (UInt64(crypto_pwhash_opslimit_min()), Int(crypto_pwhash_memlimit_min()))
        }
        switch level {
        case .interactive:
            return (UInt64(crypto_pwhash_opslimit_interactive()), Int(crypto_pwhash_memlimit_interactive()))
        case .moderate: return (UInt64(crypto_pwhash_opslimit_moderate()), Int(crypto_pwhash_memlimit_moderate()))
        case .sensitive: return (UInt64(crypto_pwhash_opslimit_sensitive()), Int(crypto_pwhash_memlimit_sensitive()))
        }
    }

    /// The most a file may ask for: libsodium's SENSITIVE preset, 4×. Beyond
    /// that a hostile file could make an unlock eat the machine.
    static let ceiling: (ops: UInt64, mem: Int) = (
        UInt64(crypto_pwhash_opslimit_sensitive()) * 4,
        Int(crypto_pwhash_memlimit_sensitive())
    )

    static func associatedData(vaultID: String, publicKey: [UInt8]) -> [UInt8] {
        Array("ztoken-vault-key-v1:\(vaultID):".utf8) + publicKey
    }

    /// Wraps `secretKey` under `passphrase`; returns the KDF parameters for
    /// the metadata file and the wrapped-key file.
    static func wrap(
        _ secretKey: SecureBytes, passphrase: SecureBytes, level: KDFLevel,
        associatedData: [UInt8]
    ) throws -> (KDFParameters, WrappedKeyFile) {
        let (ops, mem) = limits(for: level)
        let salt = Sodium.randomBytes(Sodium.pwhashSaltLength)
        guard let key = Sodium.argon2id(passphrase: passphrase, salt: salt, opsLimit: ops, memLimit: mem) else {
            throw VaultError.io(path: "argon2id", operation: "allocate \(mem >> 20) MiB for", errno: ENOMEM)
        }
        let nonce = Sodium.randomBytes(Sodium.aeadNonceLength)
        let sealed = Sodium.xchachaSeal(secretKey, key: key, nonce: nonce, additionalData: associatedData)
        return (
            .init(algorithm: algorithm, opsLimit: ops, memLimit: mem, salt: Base64.encode(salt)),
            .init(
                version: WrappedKeyFile.currentVersion, cipher: cipher,
                nonce: Base64.encode(nonce), ciphertext: Base64.encode(sealed))
        )
    }

    /// Refuses parameters weaker than `interactive`, stronger than the
    /// ceiling, or of an unknown algorithm.
    static func checkParameters(_ kdf: KDFParameters, path: String) throws {
        guard kdf.algorithm == algorithm else {
            throw VaultError.weakKeyDerivation(
                path: path, reason: "unknown algorithm \(VaultError.quoted(kdf.algorithm))")
        }
        let floor = limits(for: .interactive)
        guard kdf.opsLimit >= floor.ops, kdf.memLimit >= floor.mem else {
            throw VaultError.weakKeyDerivation(path: path, reason: "cost below the interactive minimum")
        }
        guard kdf.opsLimit <= ceiling.ops, kdf.memLimit <= ceiling.mem else {
            throw VaultError.weakKeyDerivation(path: path, reason: "cost above the sensitive maximum")
        }
        guard let salt = Base64.decode(kdf.salt), salt.count == Sodium.pwhashSaltLength else {
            throw VaultError.corrupt(path: path, reason: "malformed key-derivation salt")
        }
    }

    /// Opens the wrapped key. A wrong passphrase and a tampered file look the
    /// same to an AEAD, so both are reported as a wrong passphrase (exit 77).
    static func unwrap(
        _ file: WrappedKeyFile, kdf: KDFParameters, passphrase: SecureBytes,
        associatedData: [UInt8], metadataPath: String, keyPath: String
    ) throws -> SecureBytes {
        try checkParameters(kdf, path: metadataPath)
        guard file.cipher == cipher else {
            throw VaultError.corrupt(path: keyPath, reason: "unknown cipher \(VaultError.quoted(file.cipher))")
        }
        guard let salt = Base64.decode(kdf.salt),
            let nonce = Base64.decode(file.nonce), nonce.count == Sodium.aeadNonceLength,
            let sealed = Base64.decode(file.ciphertext), sealed.count == Sodium.secretKeyLength + Sodium.aeadTagLength
        else {
            throw VaultError.corrupt(path: keyPath, reason: "malformed wrapped key")
        }
        guard
            let key = Sodium.argon2id(
                passphrase: passphrase, salt: salt, opsLimit: kdf.opsLimit, memLimit: kdf.memLimit)
        else {
            throw VaultError.io(
                path: metadataPath, operation: "allocate \(kdf.memLimit >> 20) MiB for argon2id", errno: ENOMEM)
        }
        guard let secretKey = Sodium.xchachaOpen(sealed, key: key, nonce: nonce, additionalData: associatedData) else {
            throw VaultError.wrongPassphrase(path: keyPath)
        }
        return secretKey
    }
}

/// Argon2id parameters, as vault.json keeps them.
struct KDFParameters: Codable, Equatable {
    var algorithm: String
    var opsLimit: UInt64
    var memLimit: Int
    /// Base64.
    var salt: String
}

/// `vault-key.json`: the vault secret key sealed by a passphrase-derived key.
struct WrappedKeyFile: Codable, Equatable {
    static let currentVersion = 1
    var version: Int
    var cipher: String
    var nonce: String
    var ciphertext: String
}
