// Wrapping and unwrapping the file key in recipient stanzas: `X25519` and
// `scrypt`, exactly as age-encryption.org/v1 defines them (`ssh-ed25519` is
// in AgeSSH.swift). Unwrapping returns
// nil when a stanza is simply not for this identity (another type, a tag that
// does not open), and throws `.corrupt` when a stanza of our type is malformed
// (wrong argument count, non-canonical or mis-sized values, a low-order share,
// an out-of-range work factor): those files are refused, not skipped.

/// What may receive an age file: an X25519 recipient, an ssh-ed25519 key or a passphrase.
public struct AgeRecipient: Sendable, CustomStringConvertible {
    enum Kind: Sendable {
        case x25519(AgeX25519Recipient)
        case sshEd25519(AgeSSHEd25519Recipient)
        case scrypt(passphrase: SecureBytes, workFactor: Int)
    }
    let kind: Kind

    /// Encrypts to an `age1…` recipient.
    public static func x25519(_ recipient: AgeX25519Recipient) -> AgeRecipient {
        AgeRecipient(kind: .x25519(recipient))
    }

    /// Encrypts to an `ssh-ed25519` public key, as `age -r "ssh-ed25519 …"` does.
    public static func sshEd25519(_ recipient: AgeSSHEd25519Recipient) -> AgeRecipient {
        AgeRecipient(kind: .sshEd25519(recipient))
    }

    /// Parses a recipient as `age -r` takes it: `age1…`, or an OpenSSH
    /// public key line starting with `ssh-`. Throws `VaultError.invalidArgument`
    /// when it is neither, or an SSH key of a type ztoken does not support.
    public init(parsing text: String) throws {
        if text.hasPrefix("ssh-") {
            kind = .sshEd25519(try AgeSSHEd25519Recipient(parsing: text))
        } else {
            kind = .x25519(try AgeX25519Recipient(parsing: text))
        }
    }

    init(kind: Kind) { self.kind = kind }

    /// The recipient as `age -r` takes it (`age1…`, `ssh-ed25519 …`), or "passphrase".
    public var description: String {
        switch kind {
        case .x25519(let recipient): recipient.encoded
        case .sshEd25519(let recipient): recipient.description
        case .scrypt: "passphrase"
        }
    }

    /// Encrypts to a passphrase with scrypt at age's default work factor (2^18).
    /// A file encrypted to a passphrase can have no other recipient.
    public static func passphrase(_ passphrase: SecureBytes) -> AgeRecipient {
        AgeRecipient(kind: .scrypt(passphrase: passphrase, workFactor: AgeScrypt.defaultWorkFactor))
    }

    #if DEBUG
    /// Test-only: a passphrase recipient with a cheaper work factor, so tests
    /// run fast without weakening the product's default. Debug builds only.
    static func testOnlyPassphrase(_ passphrase: SecureBytes, workFactor: Int) -> AgeRecipient {
        AgeRecipient(kind: .scrypt(passphrase: passphrase, workFactor: workFactor))
    }
    #endif

    func wrap(_ fileKey: SecureBytes) throws -> AgeStanza {
        switch kind {
        case .x25519(let recipient): return try AgeX25519Stanza.wrap(fileKey, to: recipient)
        case .sshEd25519(let recipient): return try AgeSSHEd25519Stanza.wrap(fileKey, to: recipient)
        case .scrypt(let passphrase, let workFactor):
            return try AgeScrypt.wrap(fileKey, passphrase: passphrase, workFactor: workFactor)
        }
    }
}

/// What may open an age file: an X25519 identity, an ssh-ed25519 private key or a passphrase.
public struct AgeIdentity: Sendable {
    enum Kind: Sendable {
        case x25519(AgeX25519Identity)
        case sshEd25519(AgeSSHEd25519Identity)
        case scrypt(passphrase: SecureBytes)
    }
    let kind: Kind

    /// Opens files encrypted to this identity's recipient.
    public static func x25519(_ identity: AgeX25519Identity) -> AgeIdentity { AgeIdentity(kind: .x25519(identity)) }

    /// Opens files encrypted to this SSH key's `ssh-ed25519` recipient.
    public static func sshEd25519(_ identity: AgeSSHEd25519Identity) -> AgeIdentity {
        AgeIdentity(kind: .sshEd25519(identity))
    }

    /// Opens files encrypted to this passphrase (work factor at most 2^22, as age).
    public static func passphrase(_ passphrase: SecureBytes) -> AgeIdentity {
        AgeIdentity(kind: .scrypt(passphrase: passphrase))
    }

    var isPassphrase: Bool { if case .scrypt = kind { return true } else { return false } }

    /// The file key from `stanza`, nil when the stanza is not for this identity.
    func unwrap(_ stanza: AgeStanza, path: String) throws -> SecureBytes? {
        switch kind {
        case .x25519(let identity): return try AgeX25519Stanza.unwrap(stanza, with: identity, path: path)
        case .sshEd25519(let identity): return try AgeSSHEd25519Stanza.unwrap(stanza, with: identity, path: path)
        case .scrypt(let passphrase): return try AgeScrypt.unwrap(stanza, passphrase: passphrase, path: path)
        }
    }
}

enum AgeFileKey {
    static let length = 16
    /// A wrapped file key: the key and the ChaCha20-Poly1305 tag.
    static let wrappedLength = length + 16
}

enum AgeX25519Stanza {
    static let type = "X25519"
    static let label = "age-encryption.org/v1/X25519"

    /// Throws `.invalidArgument` for a low-order recipient key, as age does:
    /// every ephemeral key gives it the all-zero shared secret, so trying
    /// another would never end. Parsed recipients are refused earlier.
    static func wrap(_ fileKey: SecureBytes, to recipient: AgeX25519Recipient) throws -> AgeStanza {
        let ephemeral = SecureBytes.random(count: 32)
        let share = Sodium.publicKey(of: ephemeral)
        guard let shared = Sodium.x25519(scalar: ephemeral, point: recipient.publicKey) else {
            throw VaultError.invalidArgument(
                "age recipient \(recipient.encoded) is a low-order point, not a usable public key")
        }
        let key = Sodium.hkdfSHA256(secret: shared, salt: share + recipient.publicKey, info: label)
        return AgeStanza(
            type: type, arguments: [AgeBase64.encode(share)],
            body: Sodium.chachaSealWithZeroNonce(fileKey, key: key))
    }

    static func unwrap(_ stanza: AgeStanza, with identity: AgeX25519Identity, path: String) throws -> SecureBytes? {
        guard stanza.type == type else { return nil }
        func fail(_ reason: String) -> VaultError { .corrupt(path: path, reason: "invalid X25519 stanza: \(reason)") }
        guard stanza.arguments.count == 1 else { throw fail("expected one argument") }
        guard let share = AgeBase64.decode(stanza.arguments[0]), share.count == 32 else {
            throw fail("the share is not 32 bytes of canonical base64")
        }
        guard stanza.body.count == AgeFileKey.wrappedLength else {
            throw fail("the wrapped file key has the wrong size")
        }
        guard let shared = Sodium.x25519(scalar: identity.secretKey, point: share) else {
            throw fail("the share is a low-order point")
        }
        let key = Sodium.hkdfSHA256(secret: shared, salt: share + identity.recipient.publicKey, info: label)
        return Sodium.chachaOpenWithZeroNonce(stanza.body, key: key)
    }
}

enum AgeScrypt {
    static let type = "scrypt"
    static let label = "age-encryption.org/v1/scrypt"
    static let saltLength = 16
    /// age's default for new files: N = 2^18 (256 MiB, about a second).
    static let defaultWorkFactor = 18
    /// The most a file may ask for, as age: N = 2^22, which needs 4 GiB.
    static let maximumWorkFactor = 22

    static func wrap(_ fileKey: SecureBytes, passphrase: SecureBytes, workFactor: Int) throws -> AgeStanza {
        let salt = Sodium.randomBytes(saltLength)
        // With valid parameters scrypt fails only when its memory cannot be had.
        guard let key = Sodium.scrypt(passphrase: passphrase, salt: Array(label.utf8) + salt, logN: workFactor) else {
            throw VaultError.io(path: "scrypt", operation: "allocate", errno: 12)  // ENOMEM
        }
        return AgeStanza(
            type: type, arguments: [AgeBase64.encode(salt), String(workFactor)],
            body: Sodium.chachaSealWithZeroNonce(fileKey, key: key))
    }

    static func unwrap(_ stanza: AgeStanza, passphrase: SecureBytes, path: String) throws -> SecureBytes? {
        guard stanza.type == type else { return nil }
        func fail(_ reason: String) -> VaultError { .corrupt(path: path, reason: "invalid scrypt stanza: \(reason)") }
        guard stanza.arguments.count == 2 else { throw fail("expected two arguments") }
        guard let salt = AgeBase64.decode(stanza.arguments[0]), salt.count == saltLength else {
            throw fail("the salt is not 16 bytes of canonical base64")
        }
        let factor = Array(stanza.arguments[1].utf8)
        // Decimal with no sign and no leading zero, so one value has one spelling.
        guard let first = factor.first, first >= 0x31 && first <= 0x39, factor.count <= 2,
            factor.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let workFactor = Int(stanza.arguments[1])
        else {
            throw fail("the work factor is not a decimal number")
        }
        guard workFactor <= maximumWorkFactor else {
            throw fail("the work factor 2^\(workFactor) is above the limit of 2^\(maximumWorkFactor)")
        }
        guard stanza.body.count == AgeFileKey.wrappedLength else {
            throw fail("the wrapped file key has the wrong size")
        }
        guard let key = Sodium.scrypt(passphrase: passphrase, salt: Array(label.utf8) + salt, logN: workFactor) else {
            throw fail("scrypt could not run with work factor \(workFactor)")
        }
        return Sodium.chachaOpenWithZeroNonce(stanza.body, key: key)
    }
}
