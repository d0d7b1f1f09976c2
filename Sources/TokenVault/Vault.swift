// The public API of TokenVault. A `Vault` is an open vault directory; every
// write takes the vault lock, re-reads the index under it, and follows the
// order of docs/SPEC.md §9: adding writes the record first and the index
// last; removing writes the index first and deletes records after. So a crash
// at any instant leaves every reported token present and no revoked token
// active, and what is left over is provably garbage for `doctor --repair`.
#if canImport(Glibc)
import Glibc
#endif

/// An open token vault.
///
/// Open one with ``init(openingAt:)`` (no passphrase needed) or make one with
/// ``initialize(at:setup:)``. Every method reads the vault's files anew, so a
/// `Vault` always sees what other writers did; every write takes the vault
/// lock and is durable on disk before the method returns.
///
/// A `Vault` is not `Sendable`: it holds open descriptors and mutable
/// settings, so use it from one task or thread at a time. To use a vault from
/// several tasks, open a `Vault` in each; they exclude each other's writes
/// through the vault lock as separate processes do (see <doc:Concurrency>).
public final class Vault {
    /// The vault directory, as the caller named it.
    public let path: String
    /// How many seconds a writer waits for another writer's lock before it
    /// throws ``VaultError/busy(path:holder:seconds:)``; 10 by default.
    public var lockTimeout: Double = 10
    /// Called once when a writer has to wait for the lock, with a description
    /// of who holds it (a process id) when known.
    public var onLockWait: (String?) -> Void = { _ in }
    /// Told, during `revoke`, how many of the revoked tokens' records are
    /// deleted so far (every few hundred, and once at the end), so that a
    /// caller can show progress when a large revocation takes a while.
    public var onRecordRemoval: ((_ done: Int, _ total: Int) -> Void)?
    /// Called before a passphrase is turned into a key with Argon2id costs
    /// above the interactive preset (the moderate and sensitive levels), which
    /// take about half a second or more, so that a caller can say so first.
    public var onSlowKeyDerivation: () -> Void = {}

    let directory: VaultDirectory
    let metadata: MetadataFile
    let publicKey: [UInt8]
    /// The index `resolve` read, and its bytes: `revoke` resolves what it
    /// asks about, then reads the index again under the lock, and parses it
    /// once when the file has not changed in between.
    private var resolvedIndex: (bytes: [UInt8], index: Index)?

    /// Opens the vault at `path`, checking its permissions and metadata.
    /// Needs no passphrase.
    public init(openingAt path: String) throws {
        self.path = path
        directory = try VaultDirectory(path: path)
        try VaultPermissions.checkFiles(in: directory.fd, path: path)
        guard let bytes = try directory.read(VaultLayout.metadata) else {
            if try Syscall.directoryEntries(directory.fd, displayPath: path).isEmpty {
                throw VaultError.vaultNotFound(path: path)
            }
            throw VaultError.corrupt(path: directory.displayPath(VaultLayout.metadata), reason: "missing")
        }
        metadata = try Self.decodeMetadata(bytes, path: directory.displayPath(VaultLayout.metadata))
        publicKey = Base64.decode(metadata.publicKey) ?? []
    }

    static func decodeMetadata(_ bytes: [UInt8], path: String) throws -> MetadataFile {
        let file = try VaultJSON.decode(
            MetadataFile.self, from: bytes, path: path,
            knownVersions: 1...MetadataFile.currentVersion)
        guard let key = Base64.decode(file.publicKey), key.count == Sodium.publicKeyLength else {
            throw VaultError.corrupt(path: path, reason: "malformed public key")
        }
        // An all-zero or other low-order key would seal records nobody can open.
        guard Sodium.isUsableX25519PublicKey(key) else {
            throw VaultError.corrupt(path: path, reason: "the public key is a low-order point, not a usable key")
        }
        switch file.keyProtection {
        case "passphrase":
            // Version 1 keeps the parameters here; version 2 in vault-key.json.
            if file.version == 1 {
                guard let kdf = file.kdf else {
                    throw VaultError.corrupt(path: path, reason: "missing key-derivation parameters")
                }
                try KeyWrap.checkParameters(kdf, path: path)
            }
        case "offline":
            break
        default:
            throw VaultError.corrupt(
                path: path, reason: "unknown key protection \(VaultError.quoted(file.keyProtection))")
        }
        return file
    }

    // MARK: Facts about the vault

    /// The vault's random id.
    public var vaultID: String { metadata.vaultID }
    /// The user named at `init`.
    public var user: String { metadata.user }
    /// The default server URL for zBots, set at `init` or by `setDefaultServerURL`.
    public var defaultServerURL: String? { metadata.serverURL }
    /// True when the secret key is kept off the machine (`init --offline-key`).
    public var isOfflineKey: Bool { metadata.keyProtection == "offline" }

    // MARK: Reading

    /// The index, read and checked; kept for the next read with `keep`.
    func readIndex(keep: Bool = false) throws -> Index {
        let path = directory.displayPath(VaultLayout.index)
        guard let bytes = try directory.read(VaultLayout.index, limit: VaultLayout.indexLimit) else {
            throw VaultError.corrupt(path: path, reason: "missing")
        }
        if let kept = resolvedIndex.take(), JSONParser.equal(kept.bytes, bytes) { return kept.index }
        let index = try Index.decode(bytes, path: path)
        if keep { resolvedIndex = (bytes, index) }
        return index
    }

    /// The tokens in creation order: those not revoked (active or expired),
    /// or all with `includeRevoked`.
    public func tokens(includeRevoked: Bool = false) throws -> [TokenInfo] {
        let now = Int64(Clock.seconds())
        let entries = try readIndex().tokens
        var tokens: [TokenInfo] = []
        tokens.reserveCapacity(entries.count)
        for entry in entries where includeRevoked || entry.isActive { tokens.append(TokenInfo(entry, at: now)) }
        return tokens
    }

    /// Finds the tokens that `references` name: each is an id (of any token)
    /// or the label of a token not revoked (active or expired). A reference that is both one token's
    /// id and another's label is refused as ambiguous.
    public func resolve(_ references: [String]) throws -> [TokenInfo] {
        let index = try readIndex(keep: true)
        var found: [TokenInfo] = []
        var seen = Set<Int>()
        for reference in references {
            let byID = index.position(ofID: reference)
            let byLabel = index.activePosition(ofLabel: reference.trimmingWhitespace())
            switch (byID, byLabel) {
            case (let id?, let label?) where id != label:
                throw VaultError.invalidArgument(
                    "\(VaultError.quoted(reference)) is both the id of one token and the label of another",
                    hint: "use the id of the one you mean")
            case (let position?, _), (nil, let position?):
                if seen.insert(position).inserted { found.append(TokenInfo(index.tokens[position])) }
            case (nil, nil):
                throw VaultError.noSuchToken(reference)
            }
        }
        return found
    }

    /// Checks a presented token against the index, comparing its digest with
    /// every entry's in constant time. Needs no passphrase.
    public func verify(_ presented: SecureBytes) throws -> Verification {
        if let problem = TokenFormat.problem(with: presented) { return .malformed(problem) }
        let index = try readIndex()
        guard let position = index.constantTimePosition(ofDigest: TokenFormat.digest(of: presented)) else {
            return .unknown
        }
        let info = TokenInfo(index.tokens[position])
        switch info.state {
        case .active: return .valid(info)
        case .revoked: return .revoked(info)
        case .expired: return .expired(info)
        }
    }

    // MARK: Writing

    /// Runs `body` holding the vault lock, with the index as it is now on disk.
    /// Leftover temp files of interrupted writers are swept first. Not
    /// re-entrant: flock locks belong to the open file description, so a
    /// writer called inside `body` (`create`, `discard`) would wait for this
    /// very lock and throw `.busy`. Work that must stay under one lock (a
    /// bundle written after its token's check) runs inside `body`, as in
    /// `create(…showing:)` and `rotate(…showing:)`.
    func withWriteLock<T>(_ body: (Index) throws -> T) throws -> T {
        let lock = try directory.lock(timeout: lockTimeout, onWaiting: onLockWait)
        defer { lock.unlock() }
        _ = try directory.removeLeftoverTemporaries()
        return try body(try readIndex())
    }

    /// Adds a new token's sealed record, then `changed` (the index that names
    /// it, with `events` in the log) in place of `index`, the order of SPEC §9. If either write fails,
    /// the vault is left as it was: a failed directory fsync comes after a
    /// rename, so the new index may be in place, and the old one is put back;
    /// the record goes only once the index no longer names it, otherwise it
    /// stays, consistent with the index. No token nobody has seen stays active.
    func addRecord(
        id: String, _ record: [UInt8], replacing index: Index, with changed: Index, events: [HistoryEvent]
    ) throws {
        do {
            try directory.writeRecord(id: id, bytes: record)
        } catch {
            // The rename may have happened before a failed directory fsync.
            try? directory.removeRecords(ids: [id])
            throw error
        }
        do {
            try commit(changed, over: index, events: events)
        } catch {
            // The old index's anchor makes any line appended a tail that
            // never became history.
            if (try? writeIndex(index)) != nil { try? directory.removeRecords(ids: [id]) }
            throw error
        }
    }

    /// Atomically replaces index.json with `index`, whose log anchor must
    /// be the one on disk (use `commit` for a change the log records).
    func writeIndex(_ index: Index) throws {
        // No writer may store an index the reader would refuse: that would
        // leave every command, doctor --repair included, unable to open it.
        try index.validate(path: directory.displayPath(VaultLayout.index))
        try directory.replace(VaultLayout.index, with: index.encoded())
    }

    /// Creates a token labelled `label`: mints one, or stores `importing` (a
    /// token made elsewhere), with an optional note and expiry time (seconds
    /// since 1970, from `Expiry.deadline`). The sealed record and then the
    /// index are durable on disk before this returns, so the caller may show
    /// the token.
    public func create(
        label rawLabel: String, kind: TokenKind = .api, importing: SecureBytes? = nil,
        agentName: String? = nil, serverURL: String? = nil, note rawNote: String? = nil, expiresAt: Int64? = nil
    ) throws -> CreatedToken {
        try create(
            label: rawLabel, kind: kind, importing: importing, agentName: agentName, serverURL: serverURL,
            note: rawNote, expiresAt: expiresAt, showing: { _ in })
    }

    /// Creates a token as `create(label:…)` does, then runs `show` with it
    /// before the vault lock is released, so no revocation can come between
    /// the token's creation and `show` (zbot writes its bundle there). If
    /// `show` throws, the token is discarded under the same lock and the
    /// error rethrown (`rollBack`).
    func create(
        label rawLabel: String, kind: TokenKind, importing: SecureBytes?, agentName: String?, serverURL: String?,
        note rawNote: String?, expiresAt: Int64?, showing show: (CreatedToken) throws -> Void
    ) throws -> CreatedToken {
        let label = try LabelRules.validated(rawLabel)
        let note = try rawNote.map(NoteRules.validated)
        let expiry = try expiresAt.map(Self.checkedExpiry)
        let token: SecureBytes
        if let importing {
            if let problem = TokenFormat.problem(with: importing) {
                throw VaultError.corrupt(
                    path: "standard input",
                    reason: problem == .badChecksum
                        ? "the token looks like a ztoken token but its checksum is wrong"
                        : "a token must be \(TokenFormat.importedLengthRange.lowerBound) to \(TokenFormat.importedLengthRange.upperBound) printable ASCII characters without spaces"
                )
            }
            token = importing
        } else {
            token = TokenFormat.mint()
        }
        let digest = TokenFormat.digest(of: token)
        // `scan` finds minted-form tokens by their prefix and checksum; any
        // other imported token by its length, last four and digest.
        let importedLength = importing != nil && !TokenFormat.isMintedForm(token) ? token.count : nil
        let record = RecordFormat.encode(try Sodium.seal(token, to: publicKey))

        return try withWriteLock { index in
            try Self.checkStillFuture(expiresAt)
            try Self.checkLabelIsFree(label, in: index)
            // Any entry, revoked ones too: a revoked token imported again
            // would be active under a new id while verify found the old one.
            if let twin = index.tokens.firstIndex(where: { $0.digest == digest }) {
                let twinEntry = index.tokens[twin]
                throw VaultError.invalidArgument(
                    "this token is already in the vault as \(VaultError.quoted(twinEntry.label)) (id \(twinEntry.id)"
                        + (twinEntry.isActive ? ")" : ", revoked)"))
            }
            let id = index.newID()
            let entry = Index.Entry(
                id: id, label: label, kind: kind, createdAt: Clock.now(), last4: TokenFormat.lastFour(of: token),
                digest: digest, state: .active, agent: agentName, serverURL: serverURL, note: note, expiresAt: expiry,
                length: importedLength)
            var changed = index
            changed.tokens.append(entry)
            let event: HistoryEvent.Kind = kind == .zbot ? .zbot : importing != nil ? .import : .create
            try addRecord(
                id: id, record, replacing: index, with: changed,
                events: [HistoryEvent(event, entry, detail: serverURL.map { "server \($0)" })])
            let created = CreatedToken(info: TokenInfo(entry), token: token)
            do {
                try show(created)
            } catch {
                // Still under the lock, so the token is the one just added;
                // the index on disk now names it (and the log's new anchor).
                throw rollBack(created, after: error) { try discard($0, from: try readIndex()) }
            }
            return created
        }
    }

    /// The error to throw when showing `created` failed with `failure`:
    /// the token is discarded (`discard`), and if that fails too, the error
    /// says which token is left active with nobody having it.
    public func rollBack(_ created: CreatedToken, after failure: Error) -> Error {
        rollBack(created, after: failure) { try discard($0) }
    }

    /// `rollBack` with the discarding step given: `discard(_:from:)` where
    /// the caller already holds the vault lock.
    func rollBack(
        _ created: CreatedToken, after failure: Error, discarding: (CreatedToken) throws -> Void
    ) -> Error {
        do {
            try discarding(created)
            return failure
        } catch {
            let cause = VaultError.cause(failure)
            return VaultError.unseenTokenLeft(label: created.info.label, id: created.info.id, cause: cause)
        }
    }

    /// Undoes a `create` whose token was never shown (printing it or writing
    /// its bundle failed): removes the index entry first, then the record, as
    /// if the token had never been made. Only a still-active entry with the
    /// same digest is removed, so a token someone may have seen is never touched.
    public func discard(_ created: CreatedToken) throws {
        try withWriteLock { try discard(created, from: $0) }
    }

    /// `discard` under the vault lock the caller holds, `index` read under it.
    func discard(_ created: CreatedToken, from index: Index) throws {
        let digest = TokenFormat.digest(of: created.token)
        guard let position = index.position(ofID: created.info.id), index.tokens[position].isActive,
            index.tokens[position].digest == digest
        else { return }
        var changed = index
        let removed = changed.tokens.remove(at: position)
        try commit(
            changed, over: index,
            events: [HistoryEvent(.discard, removed, detail: "never shown: its display or bundle failed")])
        // The token is gone from the index; a record a failed unlink leaves
        // is garbage `doctor --repair` removes, not a reason to report the
        // token as left behind.
        try? directory.removeRecords(ids: [created.info.id])
    }

    /// Revokes the active tokens with these ids in one atomic index rewrite,
    /// then deletes their sealed records. Throws `.noSuchToken` if any id is
    /// unknown or already revoked, changing nothing.
    @discardableResult
    public func revoke(ids: [String]) throws -> [TokenInfo] {
        try withWriteLock { index in
            // Check records/ before the index changes: a planted link or a
            // loose mode there must refuse the revoke, not fail it halfway.
            _ = try directory.recordsDirectory()
            let now = Clock.now()
            var changed = index
            var positions: [String: Int] = [:]
            for (position, entry) in index.tokens.enumerated() where entry.isActive { positions[entry.id] = position }
            var revoked: [TokenInfo] = []
            for id in ids {
                guard let position = positions.removeValue(forKey: id) else { throw VaultError.noSuchToken(id) }
                changed.tokens[position].state = .revoked
                changed.tokens[position].revokedAt = now
                revoked.append(TokenInfo(changed.tokens[position]))
            }
            try commit(
                changed, over: index,
                events: revoked.map {
                    HistoryEvent(.revoke, time: now, tokenID: $0.id, label: $0.label)
                })
            try directory.removeRecords(ids: revoked.map(\.id), onProgress: onRecordRemoval)
            return revoked
        }
    }

    /// Revokes every active token in one atomic index rewrite.
    @discardableResult
    public func revokeAll() throws -> [TokenInfo] {
        try revoke(ids: tokens().map(\.id))
    }

    // MARK: Secrets

    /// Opens the vault secret key with the passphrase (Argon2id, deliberately
    /// slow). Throws `.wrongPassphrase` (exit 77) without changing anything.
    public func unlock(passphrase: SecureBytes) throws -> VaultKey {
        guard !isOfflineKey else {
            throw VaultError.invalidArgument(
                "this vault keeps its secret key offline",
                hint: "unlock it with the key file written when the vault was made")
        }
        let keyPath = directory.displayPath(VaultLayout.wrappedKey)
        guard let bytes = try directory.read(VaultLayout.wrappedKey) else {
            throw VaultError.corrupt(path: keyPath, reason: "missing")
        }
        let secret = try KeyWrap.unwrap(
            keyFile: bytes, metadata: metadata, passphrase: passphrase,
            metadataPath: directory.displayPath(VaultLayout.metadata), keyPath: keyPath,
            beforeSlowDerivation: onSlowKeyDerivation)
        return try VaultKey(secretKey: secret, expectedPublicKey: publicKey, source: keyPath)
    }

    /// Opens the sealed record of an active token and checks it against the
    /// index digest, so records swapped between entries are caught.
    public func revealToken(id: String, with key: VaultKey) throws -> SecureBytes {
        let index = try readIndex()
        guard let position = index.position(ofID: id), index.tokens[position].isActive else {
            throw VaultError.noSuchToken(id)
        }
        return try openRecord(of: index.tokens[position], with: key)
    }

    /// Opens the sealed record of `entry` and checks it against its digest.
    func openRecord(of entry: Index.Entry, with key: VaultKey) throws -> SecureBytes {
        let id = entry.id
        let path = directory.recordPath(id: id)
        guard let bytes = try directory.readRecord(id: id) else {
            throw VaultError.corrupt(
                path: path, reason: "the sealed record of active token \(VaultError.quoted(entry.label)) is missing")
        }
        let sealed = try RecordFormat.decode(bytes, path: path)
        guard let token = Sodium.openSealed(sealed, publicKey: publicKey, secretKey: key.secretKey) else {
            throw VaultError.corrupt(path: path, reason: "the sealed record does not open with the vault key")
        }
        guard let expected = Hex.decode(entry.digest),
            Sodium.constantTimeEquals(token.withUnsafeBytes { Sodium.blake2b256($0) }, expected)
        else {
            throw VaultError.corrupt(
                path: path,
                reason: "the sealed record does not match the index entry of \(VaultError.quoted(entry.label))")
        }
        return token
    }
}

/// The unlocked vault secret key. Held only as long as needed.
public final class VaultKey: Sendable {
    let secretKey: SecureBytes

    init(secretKey: SecureBytes, expectedPublicKey: [UInt8], source: String) throws {
        guard secretKey.count == Sodium.secretKeyLength,
            Sodium.constantTimeEquals(Sodium.publicKey(of: secretKey), expectedPublicKey)
        else {
            throw VaultError.wrongIdentity(path: source)
        }
        self.secretKey = secretKey
    }
}

/// A sealed record on disk: a magic line, then `crypto_box_seal(token, vaultPublicKey)`.
enum RecordFormat {
    static let magic = Array("ztoken-record-v1\n".utf8)

    static func encode(_ sealed: [UInt8]) -> [UInt8] { magic + sealed }

    static func decode(_ bytes: [UInt8], path: String) throws -> [UInt8] {
        guard bytes.starts(with: magic) else {
            if bytes.starts(with: Array("ztoken-record-v".utf8)) {
                throw VaultError.corrupt(path: path, reason: "unknown record version")
            }
            throw VaultError.corrupt(path: path, reason: "not a ztoken sealed record")
        }
        let sealed = Array(bytes[magic.count...])
        guard sealed.count > Sodium.sealOverhead else {
            throw VaultError.corrupt(path: path, reason: "truncated sealed record")
        }
        return sealed
    }
}
