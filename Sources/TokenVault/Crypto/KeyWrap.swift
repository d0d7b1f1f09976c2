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

    /// Wraps `secretKey` under `passphrase` at the cost of `level`, with a
    /// fresh salt; the key file carries its own KDF parameters (version 2).
    static func wrap(
        _ secretKey: SecureBytes, passphrase: SecureBytes, level: KDFLevel,
        associatedData: [UInt8]
    ) throws -> WrappedKeyFile {
        let (ops, mem) = limits(for: level)
        return try wrap(secretKey, passphrase: passphrase, ops: ops, mem: mem, associatedData: associatedData)
    }

    /// Wraps `secretKey` at an explicit Argon2id cost (`passwd` without a
    /// new level keeps the vault's), with a fresh salt and nonce.
    static func wrap(
        _ secretKey: SecureBytes, passphrase: SecureBytes, ops: UInt64, mem: Int,
        associatedData: [UInt8]
    ) throws -> WrappedKeyFile {
        let salt = Sodium.randomBytes(Sodium.pwhashSaltLength)
        guard let key = Sodium.argon2id(passphrase: passphrase, salt: salt, opsLimit: ops, memLimit: mem) else {
            throw VaultError.io(path: "argon2id", operation: "allocate \(mem >> 20) MiB for", errno: ENOMEM)
        }
        let nonce = Sodium.randomBytes(Sodium.aeadNonceLength)
        let sealed = Sodium.xchachaSeal(secretKey, key: key, nonce: nonce, additionalData: associatedData)
        return WrappedKeyFile(
            version: WrappedKeyFile.currentVersion, cipher: cipher,
            nonce: Base64.encode(nonce), ciphertext: Base64.encode(sealed),
            kdf: KDFParameters(algorithm: algorithm, opsLimit: ops, memLimit: mem, salt: Base64.encode(salt)))
    }

    /// True for a cost above libsodium's interactive preset (its moderate
    /// and sensitive presets): Argon2id then takes about half a second or
    /// more (moderate about 0.7 s, sensitive some 3 s on a current laptop).
    static func takesAWhile(ops: UInt64, mem: Int) -> Bool {
        let interactive = (UInt64(crypto_pwhash_opslimit_interactive()), Int(crypto_pwhash_memlimit_interactive()))
        return Double(ops) * Double(mem) > Double(interactive.0) * Double(interactive.1)
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
    /// `beforeSlowDerivation` is called first when Argon2id will take a
    /// while (see `takesAWhile`), so a person can be told before it starts.
    static func unwrap(
        _ file: WrappedKeyFile, kdf: KDFParameters, passphrase: SecureBytes,
        associatedData: [UInt8], metadataPath: String, keyPath: String,
        beforeSlowDerivation: () -> Void = {}
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
        if takesAWhile(ops: kdf.opsLimit, mem: kdf.memLimit) { beforeSlowDerivation() }
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

extension KeyWrap {
    /// Reads a vault-key.json of either version against its vault.json: the
    /// file, and the KDF parameters that derive its key (checked against the
    /// floor and ceiling), with the path they were read from for messages.
    static func decodeKeyFile(
        _ bytes: [UInt8], metadata: MetadataFile, metadataPath: String, keyPath: String
    ) throws -> (file: WrappedKeyFile, kdf: KDFParameters, kdfPath: String) {
        let file = try VaultJSON.decode(
            WrappedKeyFile.self, from: bytes, path: keyPath, knownVersions: 1...WrappedKeyFile.currentVersion)
        let kdfPath = file.kdf == nil ? metadataPath : keyPath
        guard let kdf = file.parameters(metadata: metadata) else {
            throw VaultError.corrupt(path: kdfPath, reason: "missing key-derivation parameters")
        }
        try checkParameters(kdf, path: kdfPath)
        return (file, kdf, kdfPath)
    }

    /// Opens the vault secret key in a vault-key.json of either version.
    static func unwrap(
        keyFile bytes: [UInt8], metadata: MetadataFile, passphrase: SecureBytes,
        metadataPath: String, keyPath: String, beforeSlowDerivation: () -> Void = {}
    ) throws -> SecureBytes {
        let (file, kdf, kdfPath) = try decodeKeyFile(
            bytes, metadata: metadata, metadataPath: metadataPath, keyPath: keyPath)
        let publicKey = Base64.decode(metadata.publicKey) ?? []
        return try unwrap(
            file, kdf: kdf, passphrase: passphrase,
            associatedData: associatedData(vaultID: metadata.vaultID, publicKey: publicKey),
            metadataPath: kdfPath, keyPath: keyPath, beforeSlowDerivation: beforeSlowDerivation)
    }
}

/// Argon2id parameters: in vault-key.json (version 2), or in vault.json
/// (version 1, the layout of ztoken 0.1).
struct KDFParameters: Codable, Equatable {
    var algorithm: String
    var opsLimit: UInt64
    var memLimit: Int
    /// Base64.
    var salt: String
}

/// `vault-key.json`: the vault secret key sealed by a passphrase-derived key.
/// Version 2 also holds the KDF parameters (salt included), so that a new
/// passphrase replaces everything it changes in one atomic rename; version 1
/// (ztoken 0.1) left them in vault.json and is still read.
struct WrappedKeyFile: Codable, Equatable {
    static let currentVersion = 2
    var version: Int
    var cipher: String
    var nonce: String
    var ciphertext: String
    /// Version 2 only; nil in a version 1 file (never written then).
    var kdf: KDFParameters?

    /// The parameters that derive the wrapping key: this file's own, or for
    /// a version 1 file those in vault.json. Nil when neither has them.
    func parameters(metadata: MetadataFile) -> KDFParameters? { kdf ?? metadata.kdf }
}
