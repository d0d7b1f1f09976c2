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
    /// Valid: not revoked and not past its expiry; `verify` accepts it, and
    /// its sealed record can be exported.
    case active
    /// Revoked for good: its sealed record is deleted and `verify` refuses it.
    case revoked
    /// Its expiry time has passed. Derived from the time, never written to
    /// the index (where the token stays `active`); permanent too. An expired
    /// token keeps its label until it is revoked or rotated.
    case expired
}

/// Everything the vault knows about a token except its secret: a read-only
/// view of its index entry, with its state as of when it was read.
public struct TokenInfo: Sendable, Equatable {
    let entry: Index.Entry
    /// The effective state at the time the view was made.
    public let state: TokenState

    init(_ entry: Index.Entry, at now: Int64 = Int64(Clock.seconds())) {
        self.entry = entry
        state = entry.effectiveState(at: now)
    }

    /// Short random id (12 lowercase base32 characters); files are named by it.
    public var id: String { entry.id }
    /// The user's name for the token; unique among tokens not revoked.
    public var label: String { entry.label }
    /// What the token is for: an API token or a zBot's.
    public var kind: TokenKind { entry.kind }
    /// Creation time, RFC 3339 UTC.
    public var createdAt: String { entry.createdAt }
    /// The token's last four characters, as token pages show them.
    public var last4: String { entry.last4 }
    /// Revocation time, RFC 3339 UTC, for revoked tokens.
    public var revokedAt: String? { entry.revokedAt }
    /// For zBot tokens: the agent's name.
    public var agentName: String? { entry.agent }
    /// For zBot tokens: the server the agent talks to.
    public var serverURL: String? { entry.serverURL }
    /// The user's note about the token, if any.
    public var note: String? { entry.note }
    /// When the token expires (or expired), RFC 3339 UTC; nil if it never does.
    public var expiresAt: String? { entry.expiresAt }
    /// The id of the token this one replaced when it was rotated, if any.
    public var rotatedFrom: String? { entry.rotatedFrom }
    /// The id of the token that replaced this one when it was rotated, if any.
    public var rotatedTo: String? { entry.rotatedTo }
    /// True when `rotate` made this token but stopped before showing it (it
    /// was interrupted between storing it and printing it or writing its
    /// bundle): nobody has it, so rotate it again.
    public var wasNeverDisplayed: Bool { entry.neverDisplayed == true }
}

/// A token just created: its metadata and, this once, its plaintext.
public struct CreatedToken: Sendable {
    /// The new token's index entry.
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
    /// The token is in this vault but its expiry time has passed.
    case expired(TokenInfo)

    /// A short reason for a negative answer ("malformed", "revoked", …).
    public var reason: String? {
        switch self {
        case .valid: return nil
        case .malformed(let problem): return problem.rawValue
        case .unknown: return "unknown"
        case .revoked: return "revoked"
        case .expired: return "expired"
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
    /// The most characters (grapheme clusters) a label may have after trimming.
    public static let maximumLength = 100
    /// A cap on the UTF-8 size too: one "character" (grapheme cluster) can be
    /// any number of combining marks, so 100 characters alone bound nothing.
    public static let maximumBytes = 1024

    /// Returns the trimmed label, or throws `.invalidArgument` saying why not.
    public static func validated(_ raw: String) throws -> String {
        try TextRules.validated(
            raw, what: "label", maximumLength: maximumLength, maximumBytes: maximumBytes,
            emptyHint: "give the token a name, e.g. 'ztoken create ci-runner'")
    }
}

/// Note rules: the label's character rules, up to 1,000 characters (and
/// 8 KiB of UTF-8, for the same reason as labels).
public enum NoteRules {
    /// The most characters a note may have after trimming.
    public static let maximumLength = 1000
    /// A cap on the UTF-8 size too, since one character can carry any number
    /// of combining marks.
    public static let maximumBytes = 8192

    /// Returns the trimmed note, or throws `.invalidArgument` saying why not.
    public static func validated(_ raw: String) throws -> String {
        try TextRules.validated(
            raw, what: "note", maximumLength: maximumLength, maximumBytes: maximumBytes,
            emptyHint: "to remove a note, give no text")
    }
}

/// The checks labels and notes share: trimmed, not empty, no control or
/// bidirectional-formatting characters, within a length in characters and bytes.
enum TextRules {
    static func validated(
        _ raw: String, what: String, maximumLength: Int, maximumBytes: Int, emptyHint: String
    ) throws -> String {
        let text = raw.trimmingWhitespace()
        if text.isEmpty {
            throw VaultError.invalidArgument("a \(what) must not be empty", hint: emptyHint)
        }
        if let bad = text.unicodeScalars.first(where: TerminalSafe.isDangerous) {
            throw VaultError.invalidArgument(
                "\(what) \(VaultError.quoted(String(text.prefix(40)))) contains the control character U+\(String(bad.value, radix: 16, uppercase: true))",
                hint: "use printable characters only")
        }
        if text.utf8.count > maximumBytes {
            throw VaultError.invalidArgument(
                "a \(what) must be at most \(maximumBytes) bytes of UTF-8 (this one has \(text.utf8.count))")
        }
        if text.count > maximumLength {
            throw VaultError.invalidArgument(
                "a \(what) must be at most \(maximumLength) characters (this one has \(text.count))")
        }
        return text
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
