// X25519 recipients (`age1…`) and identities (`AGE-SECRET-KEY-1…`), and the
// identity and recipients files age and age-keygen use. Rules: a secret scalar
// lives only in `SecureBytes`; parsing works on the bytes of a `SecureBytes`
// and never makes a `String` of a secret line; errors name the file and line
// number but never echo a line, since a misplaced secret key could be in it.
#if canImport(Glibc)
import Glibc
#endif

/// A public X25519 age recipient, written `age1…`.
public struct AgeX25519Recipient: Sendable, Hashable, CustomStringConvertible {
    static let hrp = "age"

    /// The 32-byte Curve25519 public key.
    public let publicKey: [UInt8]

    init(publicKey: [UInt8]) {
        precondition(publicKey.count == 32)
        self.publicKey = publicKey
    }

    /// Parses an `age1…` recipient string.
    /// Throws `VaultError.invalidArgument` when it is not one, or when its
    /// key is a low-order point (see `Sodium.isUsableX25519PublicKey`).
    public init(parsing text: String) throws {
        guard let (prefix, data) = Bech32.decode(text), prefix == Self.hrp, data.count == 32 else {
            let looksSecret = text.uppercased().hasPrefix("AGE-SECRET-KEY-")
            throw VaultError.invalidArgument(
                looksSecret ? "a secret key was given where a recipient was expected" : "malformed age recipient",
                hint: looksSecret
                    ? "pass the public key (age1…) that 'age-keygen -y' prints for it"
                    : "an X25519 recipient looks like age1 followed by 58 characters")
        }
        let key = data.withUnsafeBytes { Array($0) }
        guard Sodium.isUsableX25519PublicKey(key) else {
            throw VaultError.invalidArgument(
                "age recipient \(text) is a low-order point, not a usable public key",
                hint: "pass the recipient that 'age-keygen -y' prints for the key")
        }
        self.publicKey = key
    }

    /// The `age1…` form.
    public var encoded: String {
        Bech32.encode(hrp: Self.hrp, data: SecureBytes(copying: publicKey), uppercase: false).unsafeRevealedString()
    }

    /// The `age1…` form, the same as ``encoded``.
    public var description: String { encoded }
}

/// A secret X25519 age identity, written `AGE-SECRET-KEY-1…`.
public struct AgeX25519Identity: Sendable, CustomStringConvertible {
    static let hrp = "AGE-SECRET-KEY-"

    let secretKey: SecureBytes

    /// The recipient that files for this identity are encrypted to.
    public let recipient: AgeX25519Recipient

    init(secretKey: SecureBytes) {
        precondition(secretKey.count == 32)
        self.secretKey = secretKey
        self.recipient = AgeX25519Recipient(publicKey: Sodium.publicKey(of: secretKey))
    }

    /// Makes a new identity from libsodium's CSPRNG.
    public static func generate() -> AgeX25519Identity {
        AgeX25519Identity(secretKey: SecureBytes.random(count: 32))
    }

    /// Parses one `AGE-SECRET-KEY-1…` line (without its newline).
    /// Throws `VaultError.invalidArgument` when it is not one; the message
    /// never contains the text.
    public init(parsing text: SecureBytes) throws {
        guard let key = text.withUnsafeBytes({ Self.decode($0) }) else {
            throw VaultError.invalidArgument("malformed age secret key")
        }
        self.init(secretKey: key)
    }

    static func decode(_ text: UnsafeRawBufferPointer) -> SecureBytes? {
        guard let (prefix, data) = Bech32.decode(text), prefix == Self.hrp, data.count == 32 else { return nil }
        return data
    }

    /// The `AGE-SECRET-KEY-1…` form, as a secret.
    public func encoded() -> SecureBytes {
        Bech32.encode(hrp: Self.hrp, data: secretKey, uppercase: true)
    }

    /// The recipient and the words "secret redacted": never the secret key.
    public var description: String { "AgeX25519Identity(\(recipient.encoded), secret redacted)" }
}

/// Reading and writing age's identity and recipients files.
public enum AgeKeyFile {
    /// Parses an identity file the way age does: one `AGE-SECRET-KEY-1…` per
    /// line, blank lines and lines starting with `#` ignored, CRLF accepted.
    /// Throws `VaultError.invalidArgument` naming `path` and the line number
    /// for anything else, or when the file holds no identity.
    public static func parseIdentities(_ contents: SecureBytes, path: String) throws -> [AgeX25519Identity] {
        var identities: [AgeX25519Identity] = []
        var failedLine: Int?
        contents.withUnsafeBytes { bytes in
            forEachLine(bytes) { number, line in
                if line.isEmpty || line.first == UInt8(ascii: "#") { return true }
                guard let key = AgeX25519Identity.decode(line) else {
                    failedLine = number
                    return false
                }
                identities.append(AgeX25519Identity(secretKey: key))
                return true
            }
        }
        if let failedLine {
            throw VaultError.invalidArgument(
                "\(path): line \(failedLine) is not an age identity (AGE-SECRET-KEY-1…)",
                hint: "an identity file holds the lines age-keygen writes; the line is not shown as it may be secret")
        }
        guard !identities.isEmpty else {
            throw VaultError.invalidArgument(
                "\(path): no age identity found", hint: "pass the file age-keygen or 'ztoken keygen' wrote")
        }
        return identities
    }

    /// Parses a recipients file as `age -R` does: one `age1…` or OpenSSH
    /// `ssh-ed25519` public key (a `.pub` file) per line, blank lines and `#`
    /// comments ignored. Throws `VaultError.invalidArgument` naming `path`
    /// and the line number for anything else (without echoing the line), an
    /// SSH key of another type included, or when the file holds no
    /// recipient; `.corrupt` for a key that is a low-order point (see
    /// `Sodium.isUsableX25519PublicKey`).
    public static func parseRecipients(_ contents: [UInt8], path: String) throws -> [AgeRecipient] {
        var recipients: [AgeRecipient] = []
        var failure: (line: Int, secret: Bool)?
        var lowOrderLine: Int?
        var sshFailure: (line: Int, error: VaultError)?
        contents.withUnsafeBytes { bytes in
            forEachLine(bytes) { number, line in
                if line.isEmpty || line.first == UInt8(ascii: "#") { return true }
                if let (prefix, data) = Bech32.decode(line), prefix == AgeX25519Recipient.hrp, data.count == 32 {
                    let key = data.withUnsafeBytes { Array($0) }
                    guard Sodium.isUsableX25519PublicKey(key) else {
                        lowOrderLine = number
                        return false
                    }
                    recipients.append(.x25519(AgeX25519Recipient(publicKey: key)))
                    return true
                }
                if line.starts(with: "ssh-".utf8) {
                    do {
                        recipients.append(
                            .sshEd25519(try AgeSSHEd25519Recipient(parsing: String(decoding: line, as: UTF8.self))))
                        return true
                    } catch let error as VaultError {
                        sshFailure = (number, error)
                    } catch {}
                    return false
                }
                let secret = line.count >= 15 && line[0..<15].elementsEqual("AGE-SECRET-KEY-".utf8)
                failure = (number, secret)
                return false
            }
        }
        if let lowOrderLine {
            throw VaultError.corrupt(
                path: path,
                reason: "line \(lowOrderLine) is a low-order point, not a usable public key")
        }
        if let sshFailure {
            throw VaultError.invalidArgument(
                "\(path): line \(sshFailure.line): \(sshFailure.error.message)", hint: sshFailure.error.hint)
        }
        if let failure {
            if failure.secret {
                throw VaultError.invalidArgument(
                    "\(path): line \(failure.line) is a secret key, not a recipient",
                    hint: "put the public key (age1…) in a recipients file; 'age-keygen -y' prints it")
            }
            throw VaultError.invalidArgument(
                "\(path): line \(failure.line) is not an age recipient (age1… or ssh-ed25519 …)")
        }
        guard !recipients.isEmpty else {
            throw VaultError.invalidArgument("\(path): no age recipient found")
        }
        return recipients
    }

    /// Parses an identity file as `age -i` reads it for decryption: an
    /// unencrypted OpenSSH ed25519 private key (`ssh-keygen -t ed25519`), or
    /// else age identities (see ``parseIdentities(_:path:)``). Throws
    /// `VaultError.invalidArgument` naming `path`, with a hint, for a
    /// passphrase-protected or RSA key and for anything malformed.
    public static func parseIdentityFile(_ contents: SecureBytes, path: String) throws -> [AgeIdentity] {
        if contents.withUnsafeBytes({ SSHPrivateKeyFile.looksLikePEM($0) }) {
            return [.sshEd25519(try SSHPrivateKeyFile.parse(contents, path: path))]
        }
        return try parseIdentities(contents, path: path).map(AgeIdentity.x25519)
    }

    /// Renders an identity file the way age-keygen does:
    /// `# created: <RFC 3339>`, `# public key: age1…`, then the secret key.
    /// `created` is seconds since 1970 and is written in UTC.
    public static func render(_ identity: AgeX25519Identity, created: Int64 = Int64(time(nil))) -> SecureBytes {
        let head = Array(
            "# created: \(RFC3339.format(secondsSince1970: created))\n# public key: \(identity.recipient.encoded)\n"
                .utf8)
        let secret = identity.encoded()
        let out = SecureBytes(zeroedCount: head.count + secret.count + 1)
        out.withUnsafeMutableBytes { o in
            secret.withUnsafeBytes { s in
                o.copyBytes(from: head)
                UnsafeMutableRawBufferPointer(rebasing: o[head.count..<(head.count + s.count)]).copyMemory(from: s)
                o[o.count - 1] = 0x0A
            }
        }
        return out
    }

    /// Calls `body` with each line (1-based number, bytes without LF or a
    /// trailing CR) until it returns false.
    static func forEachLine(_ bytes: UnsafeRawBufferPointer, _ body: (Int, UnsafeRawBufferPointer) -> Bool) {
        var start = 0
        var number = 0
        while start < bytes.count {
            number += 1
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            var lineEnd = end
            if lineEnd > start && bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            if !body(number, UnsafeRawBufferPointer(rebasing: bytes[start..<lineEnd])) { return }
            start = end + 1
        }
    }
}
