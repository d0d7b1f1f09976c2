// The public value types of TokenVault: what a token is to a caller. None of
// them holds a plaintext token except `CreatedToken.token`, a `SecureBytes`
// handed out exactly once.

/// What a token is for.
public enum TokenKind: String, Sendable, CaseIterable, Codable {
    /// An ordinary API token (the default).
    case api
    /// A token made for an automation agent (a zBot).
    case zbot
}

/// Whether a token still grants access.
public enum TokenState: String, Sendable, Codable {
    case active
    case revoked
}

/// Everything the vault knows about a token except its secret: a read-only
/// view of its index entry.
public struct TokenInfo: Sendable, Equatable {
    let entry: Index.Entry

    init(_ entry: Index.Entry) { self.entry = entry }

    /// Short random id (12 lowercase base32 characters); files are named by it.
    public var id: String { entry.id }
    /// The user's name for the token; unique among active tokens.
    public var label: String { entry.label }
    public var kind: TokenKind { entry.kind }
    /// Creation time, RFC 3339 UTC.
    public var createdAt: String { entry.createdAt }
    /// The token's last four characters, as token pages show them.
    public var last4: String { entry.last4 }
    public var state: TokenState { entry.state }
    /// Revocation time, RFC 3339 UTC, for revoked tokens.
    public var revokedAt: String? { entry.revokedAt }
    /// For zBot tokens: the agent's name.
    public var agentName: String? { entry.agent }
    /// For zBot tokens: the server the agent talks to.
    public var serverURL: String? { entry.serverURL }
    /// For a token made by `rotate`: the id of the token it replaced.
    public var rotatedFrom: String? { entry.rotatedFrom }
    /// For a token revoked by `rotate`: the id of the token that replaced it.
    public var rotatedTo: String? { entry.rotatedTo }
    /// True when `rotate` made this token but stopped before showing it (it
    /// was interrupted between storing it and printing it or writing its
    /// bundle): nobody has it, so rotate it again.
    public var wasNeverDisplayed: Bool { entry.neverDisplayed == true }
}

/// A token just created: its metadata and, this once, its plaintext.
public struct CreatedToken: Sendable {
    public let info: TokenInfo
    /// The plaintext token. It is shown once and can never be read back.
    public let token: SecureBytes
}

/// The answer to "is this presented token valid here?".
public enum Verification: Sendable, Equatable {
    /// The token is active in this vault.
    case valid(TokenInfo)
    /// Not a token ztoken accepts, or a minted token with a bad checksum.
    case malformed(TokenFormat.Problem)
    /// Well-formed, but no token in this vault has that digest.
    case unknown
    /// The token was in this vault and has been revoked.
    case revoked(TokenInfo)

    /// A short reason for a negative answer ("malformed", "revoked", …).
    public var reason: String? {
        switch self {
        case .valid: return nil
        case .malformed(let problem): return problem.rawValue
        case .unknown: return "unknown"
        case .revoked: return "revoked"
        }
    }
}

/// How expensive the passphrase key derivation (Argon2id) is.
public enum KDFLevel: String, Sendable, CaseIterable {
    /// libsodium's INTERACTIVE limits (64 MiB); the minimum accepted from disk.
    case interactive
    /// libsodium's MODERATE limits (256 MiB); the default.
    case moderate
    /// libsodium's SENSITIVE limits (1 GiB).
    case sensitive
}

/// Label rules: 1 to 100 characters after trimming, no control or
/// bidirectional-formatting characters. Labels are never used in paths.
public enum LabelRules {
    public static let maximumLength = 100
    /// A cap on the UTF-8 size too: one "character" (grapheme cluster) can be
    /// any number of combining marks, so 100 characters alone bound nothing.
    public static let maximumBytes = 1024

    /// Returns the trimmed label, or throws `.invalidArgument` saying why not.
    public static func validated(_ raw: String) throws -> String {
        let label = raw.trimmingWhitespace()
        if label.isEmpty {
            throw VaultError.invalidArgument(
                "a label must not be empty", hint: "give the token a name, e.g. 'ztoken create ci-runner'")
        }
        if let bad = label.unicodeScalars.first(where: TerminalSafe.isDangerous) {
            throw VaultError.invalidArgument(
                "label \(VaultError.quoted(String(label.prefix(40)))) contains the control character U+\(String(bad.value, radix: 16, uppercase: true))",
                hint: "use printable characters only")
        }
        if label.utf8.count > maximumBytes {
            throw VaultError.invalidArgument(
                "a label must be at most \(maximumBytes) bytes of UTF-8 (this one has \(label.utf8.count))")
        }
        if label.count > maximumLength {
            throw VaultError.invalidArgument(
                "a label must be at most \(maximumLength) characters (this one has \(label.count))")
        }
        return label
    }
}

extension String {
    /// Trims Unicode whitespace at both ends.
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
