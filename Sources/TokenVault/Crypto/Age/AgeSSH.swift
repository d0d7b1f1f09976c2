// SSH keys as age recipients and identities, as age's agessh package defines
// the `ssh-ed25519` stanza: the recipient is an OpenSSH `ssh-ed25519` public
// key, its X25519 key the Ed25519 key converted by libsodium; the shared
// secret is tweaked by X25519 with a scalar from HKDF-SHA-256 (no secret,
// salt = the key's SSH wire encoding), and the stanza is tagged with the
// first 4 bytes of SHA-256 of that encoding. Identities are unencrypted
// OpenSSH private keys (`ssh-keygen -t ed25519 -N ''`). Rules: the private
// key file, its decoded bytes and the X25519 scalar live only in
// `SecureBytes`; errors never echo a line of a key file. `ssh-rsa` keys and
// passphrase-protected private keys are refused with what to use instead.

/// A public `ssh-ed25519` key used as an age recipient (`age -r "ssh-ed25519 …"`).
public struct AgeSSHEd25519Recipient: Sendable, Hashable, CustomStringConvertible {
    static let keyType = "ssh-ed25519"

    /// The key in SSH wire encoding: string "ssh-ed25519", string key (32 bytes).
    let wireKey: [UInt8]
    /// The Ed25519 key converted to X25519.
    let x25519PublicKey: [UInt8]

    init?(ed25519PublicKey key: [UInt8]) {
        guard key.count == 32, let converted = Sodium.x25519PublicKey(fromEd25519: key) else { return nil }
        wireKey = SSHWire.string(Array(Self.keyType.utf8)) + SSHWire.string(key)
        x25519PublicKey = converted
    }

    /// Parses an OpenSSH public key line (`ssh-ed25519 AAAA… [comment]`, as in
    /// `id_ed25519.pub` or `authorized_keys` without options). Throws
    /// `VaultError.invalidArgument` for a malformed key, and for another
    /// type (`ssh-rsa` included) with a hint naming what works.
    public init(parsing text: String) throws {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let type = fields.first else { throw VaultError.invalidArgument("empty SSH public key") }
        guard type == Self.keyType else { throw Self.unsupported(type: type) }
        guard fields.count >= 2, let blob = AgeBase64.decodePadded(Array(fields[1].utf8)) else {
            throw VaultError.invalidArgument(
                "malformed ssh-ed25519 public key", hint: "pass the line ssh-keygen wrote to the .pub file")
        }
        let parsed = blob.withUnsafeBytes { bytes -> Self? in
            var reader = SSHWire.Reader(bytes)
            guard let inner = reader.string(), inner.elementsEqual(Self.keyType.utf8), let key = reader.string(),
                reader.isAtEnd
            else { return nil }
            return Self(ed25519PublicKey: Array(key))
        }
        guard let parsed else {
            throw VaultError.invalidArgument(
                "malformed ssh-ed25519 public key: not a valid Ed25519 key",
                hint: "pass the line ssh-keygen wrote to the .pub file")
        }
        self = parsed
    }

    /// The refusal of an SSH key type other than ssh-ed25519.
    static func unsupported(type: String) -> VaultError {
        let what = type == "ssh-rsa" ? "an ssh-rsa key" : "an SSH key of type \(VaultError.quoted(type))"
        return VaultError.invalidArgument(
            "\(what) cannot be an age recipient here: ztoken supports ssh-ed25519 keys only",
            hint: "use an age recipient (age1…, from 'ztoken keygen' or age-keygen) or an ssh-ed25519 key")
    }

    /// The stanza tag: the first 4 bytes of SHA-256 of the wire key, base64.
    var tag: String { AgeBase64.encode(wireKey.withUnsafeBytes { Sodium.sha256($0) }.prefix(4)) }

    /// The `ssh-ed25519 AAAA…` form, without a comment.
    public var description: String {
        "\(Self.keyType) \(AgeBase64.encodePadded(wireKey))"
    }
}

/// An unencrypted OpenSSH ed25519 private key used as an age identity (`age -i ~/.ssh/id_ed25519`).
public struct AgeSSHEd25519Identity: Sendable, CustomStringConvertible {
    /// The X25519 scalar of the Ed25519 key.
    let secretKey: SecureBytes
    /// The X25519 public key of that scalar.
    let x25519PublicKey: [UInt8]

    /// The recipient that files for this identity are encrypted to.
    public let recipient: AgeSSHEd25519Recipient

    init(ed25519SecretKey: SecureBytes, recipient: AgeSSHEd25519Recipient) {
        secretKey = Sodium.x25519SecretKey(fromEd25519: ed25519SecretKey)
        x25519PublicKey = Sodium.publicKey(of: secretKey)
        self.recipient = recipient
    }

    /// The recipient and the words "secret redacted": never the secret key.
    public var description: String { "AgeSSHEd25519Identity(\(recipient), secret redacted)" }
}

enum AgeSSHEd25519Stanza {
    static let type = "ssh-ed25519"
    static let label = "age-encryption.org/v1/ssh-ed25519"

    /// The scalar that tweaks the shared secret: HKDF-SHA-256 with no secret,
    /// the wire key as salt.
    static func tweak(_ wireKey: [UInt8]) -> SecureBytes {
        Sodium.hkdfSHA256(secret: SecureBytes(zeroedCount: 0), salt: wireKey, info: label)
    }

    static func wrap(_ fileKey: SecureBytes, to recipient: AgeSSHEd25519Recipient) throws -> AgeStanza {
        let ephemeral = SecureBytes.random(count: 32)
        let share = Sodium.publicKey(of: ephemeral)
        guard let shared = Sodium.x25519(scalar: ephemeral, point: recipient.x25519PublicKey),
            let tweaked = Sodium.x25519(scalar: tweak(recipient.wireKey), point: shared.withUnsafeBytes { Array($0) })
        else {
            throw VaultError.invalidArgument("the ssh-ed25519 recipient \(recipient) is not a usable public key")
        }
        let key = Sodium.hkdfSHA256(secret: tweaked, salt: share + recipient.x25519PublicKey, info: label)
        return AgeStanza(
            type: type, arguments: [recipient.tag, AgeBase64.encode(share)],
            body: Sodium.chachaSealWithZeroNonce(fileKey, key: key))
    }

    /// As age: a stanza whose tag is another key's is not ours (nil); one
    /// with our tag that does not open is a broken file, not a wrong key.
    static func unwrap(_ stanza: AgeStanza, with identity: AgeSSHEd25519Identity, path: String) throws
        -> SecureBytes?
    {
        guard stanza.type == type else { return nil }
        func fail(_ reason: String) -> VaultError {
            .corrupt(path: path, reason: "invalid ssh-ed25519 stanza: \(reason)")
        }
        guard stanza.arguments.count == 2 else { throw fail("expected two arguments") }
        guard let share = AgeBase64.decode(stanza.arguments[1]), share.count == 32 else {
            throw fail("the share is not 32 bytes of canonical base64")
        }
        guard stanza.arguments[0] == identity.recipient.tag else { return nil }
        guard let shared = Sodium.x25519(scalar: identity.secretKey, point: share) else {
            throw fail("the share is a low-order point")
        }
        guard
            let tweaked = Sodium.x25519(
                scalar: tweak(identity.recipient.wireKey), point: shared.withUnsafeBytes { Array($0) })
        else { throw fail("the tweaked shared secret is zero") }
        let key = Sodium.hkdfSHA256(secret: tweaked, salt: share + identity.x25519PublicKey, info: label)
        guard let fileKey = Sodium.chachaOpenWithZeroNonce(stanza.body, key: key) else {
            throw fail("the file key does not open with the key its tag names")
        }
        return fileKey
    }
}

/// Reading OpenSSH private key files (`-----BEGIN OPENSSH PRIVATE KEY-----`).
enum SSHPrivateKeyFile {
    static let begin = Array("-----BEGIN OPENSSH PRIVATE KEY-----".utf8)
    static let end = Array("-----END OPENSSH PRIVATE KEY-----".utf8)
    static let magic = Array("openssh-key-v1\0".utf8)

    /// True when `contents` starts like a PEM file (as age tells SSH keys
    /// from age identity files).
    static func looksLikePEM(_ contents: UnsafeRawBufferPointer) -> Bool {
        let start = contents.drop(while: AgeArmor.isWhitespace)
        return start.starts(with: "-----BEGIN".utf8)
    }

    /// Parses an unencrypted OpenSSH ed25519 private key. Throws
    /// `.invalidArgument` naming `path` for a passphrase-protected key, an
    /// RSA or other key, or a malformed file; the message never holds its bytes.
    static func parse(_ contents: SecureBytes, path: String) throws -> AgeSSHEd25519Identity {
        let use = "use an age identity file ('ztoken keygen', age-keygen) or an ed25519 key without a passphrase"
        func malformed(_ reason: String) -> VaultError {
            .invalidArgument("\(path): not a usable OpenSSH private key: \(reason)", hint: use)
        }
        // The base64 between the BEGIN and END lines, into a secret.
        let base64 = SecureBytes(zeroedCount: contents.count)
        var filled = 0
        var state = 0  // 0 before BEGIN, 1 inside, 2 after END, 3 not an OpenSSH key
        var firstLine: [UInt8] = []
        contents.withUnsafeBytes { bytes in
            base64.withUnsafeMutableBytes { out in
                AgeKeyFile.forEachLine(bytes) { _, line in
                    switch state {
                    case 0:
                        if line.allSatisfy(AgeArmor.isWhitespace) { return true }
                        // Only a BEGIN line is kept, never a line of key material.
                        if line.starts(with: "-----BEGIN".utf8) { firstLine = Array(line) }
                        state = firstLine == begin ? 1 : 3
                        return state == 1
                    case 1:
                        if line.elementsEqual(end) {
                            state = 2
                            return false
                        }
                        UnsafeMutableRawBufferPointer(rebasing: out[filled..<(filled + line.count)]).copyMemory(
                            from: line)
                        filled += line.count
                        return true
                    default: return false
                    }
                }
            }
        }
        if state == 3 {
            if firstLine.starts(with: "-----BEGIN RSA".utf8) {
                throw VaultError.invalidArgument(
                    "\(path): an RSA private key cannot be used: ztoken supports ssh-ed25519 keys only", hint: use)
            }
            if firstLine.elementsEqual(AgeArmor.header) {
                throw VaultError.invalidArgument(
                    "\(path): a passphrase-protected age identity file cannot be used", hint: use)
            }
            throw malformed("it is not an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)")
        }
        guard state == 2 else { throw malformed("the END line is missing") }
        guard
            let blob = base64.withUnsafeBytes({
                AgeBase64.decodePaddedSecret(UnsafeRawBufferPointer(rebasing: $0[0..<filled]))
            })
        else { throw malformed("the key is not valid base64") }
        return try blob.withUnsafeBytes { bytes in
            var reader = SSHWire.Reader(bytes)
            guard reader.bytes(magic.count)?.elementsEqual(magic) == true, let cipher = reader.string(),
                let kdf = reader.string(), reader.string() != nil, let count = reader.uint32()
            else { throw malformed("the header is not openssh-key-v1") }
            if !cipher.elementsEqual("none".utf8) || !kdf.elementsEqual("none".utf8) {
                throw VaultError.invalidArgument(
                    "\(path): the SSH key is protected by a passphrase, which ztoken cannot ask for", hint: use)
            }
            guard count == 1 else { throw malformed("it holds \(count) keys, not one") }
            guard let publicBlob = reader.string() else { throw malformed("the public key is missing") }
            var publicReader = SSHWire.Reader(publicBlob)
            guard let typeBytes = publicReader.string() else { throw malformed("the public key has no type") }
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard type == AgeSSHEd25519Recipient.keyType else {
                throw VaultError.invalidArgument(
                    "\(path): \(type == "ssh-rsa" ? "an ssh-rsa" : "a \(VaultError.quoted(type))") key cannot be used: "
                        + "ztoken supports ssh-ed25519 keys only", hint: use)
            }
            guard let publicKey = publicReader.string().map(Array.init), publicReader.isAtEnd,
                let recipient = AgeSSHEd25519Recipient(ed25519PublicKey: publicKey)
            else { throw malformed("the public key is not a valid Ed25519 key") }
            guard let section = reader.string(), reader.isAtEnd else {
                throw malformed("the private section is missing")
            }
            var privateReader = SSHWire.Reader(section)
            guard let check1 = privateReader.uint32(), let check2 = privateReader.uint32(), check1 == check2,
                privateReader.string()?.elementsEqual(typeBytes) == true,
                privateReader.string()?.elementsEqual(publicKey) == true,
                let secret = privateReader.string(), secret.count == 64,
                secret[secret.startIndex + 32..<secret.endIndex].elementsEqual(publicKey),
                privateReader.string() != nil, privateReader.hasValidPadding
            else { throw malformed("the private section is malformed") }
            return AgeSSHEd25519Identity(
                ed25519SecretKey: SecureBytes(copying: UnsafeRawBufferPointer(rebasing: secret)), recipient: recipient)
        }
    }
}

/// The SSH wire encoding (RFC 4251 §5): big-endian uint32 and length-prefixed strings.
enum SSHWire {
    static func string(_ bytes: [UInt8]) -> [UInt8] {
        let n = UInt32(bytes.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
    }

    /// Reads from bytes the caller keeps alive; every read is bounds-checked
    /// and returns nil past the end.
    struct Reader {
        private let bytes: UnsafeRawBufferPointer
        private var offset = 0

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        init(_ slice: Slice<UnsafeRawBufferPointer>) { self.init(UnsafeRawBufferPointer(rebasing: slice)) }

        var isAtEnd: Bool { offset == bytes.count }

        mutating func bytes(_ count: Int) -> Slice<UnsafeRawBufferPointer>? {
            guard count >= 0, bytes.count - offset >= count else { return nil }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }

        mutating func uint32() -> UInt32? {
            guard let four = bytes(4) else { return nil }
            return four.reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func string() -> Slice<UnsafeRawBufferPointer>? {
            guard let length = uint32() else { return nil }
            return bytes(Int(length))
        }

        /// The padding that ends a private section: 1, 2, 3… up to the end.
        var hasValidPadding: Bool {
            bytes[offset...].enumerated().allSatisfy { $0.element == UInt8(truncatingIfNeeded: $0.offset + 1) }
        }
    }
}
