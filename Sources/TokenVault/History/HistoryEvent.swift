// One event of a vault's history (log.jsonl, see EventLog.swift), as the
// library hands it out: when, what, and which token. Never a token, a
// passphrase or a key.

/// One event in a vault's history, as `Vault.history` returns it.
public struct HistoryEvent: Sendable, Equatable {
    /// What happened.
    public enum Kind: String, Sendable, CaseIterable {
        /// The vault was made.
        case initialize = "init"
        /// The history of a vault made before ztoken kept one begins here;
        /// what came before is unknown.
        case start
        /// A token was minted.
        case create
        /// A token made elsewhere was stored.
        case `import`
        /// A zBot token was minted and its bundle written.
        case zbot
        /// A token was replaced by a new one (the event's token), and revoked.
        case rotate
        /// A token was revoked.
        case revoke
        /// A token nobody saw (its display or bundle failed) was removed again.
        case discard
        /// A token got a new label (the event's label; the detail names the old one).
        case rename
        /// A token's note was set or cleared.
        case note
        /// A token's expiry was set or cleared.
        case expire
        /// A token's bundle was written again.
        case export
        /// A backup of the vault was written.
        case backup
        /// The vault was replaced by a backup's contents.
        case restore
        /// The vault's passphrase (and perhaps its key pair) changed.
        case passwd
        /// A vault setting changed.
        case config
        /// `doctor --repair` changed the vault.
        case repair
        /// Two histories of the vault were joined.
        case merge
    }

    /// RFC 3339, UTC, to the second.
    public let time: String
    /// What happened.
    public let kind: Kind
    /// The token concerned, if any.
    public let tokenID: String?
    /// The token's label at the time, if any.
    public let label: String?
    /// For `rotate`: the id of the token replaced (and revoked).
    public let replacedID: String?
    /// A short description of the event, in words.
    public let detail: String?
    /// For an event that brings a token into the vault (create, import,
    /// zbot, rotate, and restore of a revoked one): the BLAKE2b-256 of the
    /// token, as index.json holds it, so `doctor` can tell the index's
    /// digest was not swapped. Never the token.
    public let digest: String?

    /// An event at `time` (now by default).
    init(
        _ kind: Kind, time: String = Clock.now(), tokenID: String? = nil, label: String? = nil,
        replacedID: String? = nil, detail: String? = nil, digest: String? = nil
    ) {
        self.time = time
        self.kind = kind
        self.tokenID = tokenID
        self.label = label
        self.replacedID = replacedID
        self.detail = detail
        self.digest = digest
    }

    /// An event about the token `entry`.
    init(_ kind: Kind, _ entry: Index.Entry, replacedID: String? = nil, detail: String? = nil) {
        self.init(
            kind, tokenID: entry.id, label: entry.label, replacedID: replacedID, detail: detail,
            digest: kind.bringsAToken ? entry.digest : nil)
    }

    /// The seconds since 1970 of `time`.
    var seconds: Int64 { RFC3339.parse(time) ?? 0 }
}

extension HistoryEvent.Kind {
    /// Events whose token enters the vault with them (and names its digest).
    var bringsAToken: Bool { [.create, .import, .zbot, .rotate, .restore].contains(self) }
}
