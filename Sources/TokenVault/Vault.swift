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
public final class Vault {
    /// The vault directory, as the caller named it.
    public let path: String
    /// How long a writer waits for another ztoken's lock before giving up.
    public var lockTimeout: Double = 10
    /// Called once when a writer has to wait for the lock, with who holds it.
    public var onLockWait: (String?) -> Void = { _ in }
    /// Told, during `revoke`, how many of the revoked tokens' records are
    /// deleted so far (every few hundred, and once at the end), so that a
    /// caller can show progress when a large revocation takes a while.
    public var onRecordRemoval: ((_ done: Int, _ total: Int) -> Void)?

    let directory: VaultDirectory
    let metadata: MetadataFile
    let publicKey: [UInt8]

    /// Opens the vault at `path`, checking its permissions and metadata.
    /// Needs no passphrase.
    public init(openingAt path: String) throws {
        self.path = path
        directory = try VaultDirectory(path: path)
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
        let file = try bytes.withUnsafeBufferPointer { try IndexReader.decodeMetadata($0, path: path) }
        guard let key = Base64.decode(file.publicKey), key.count == Sodium.publicKeyLength else {
            throw VaultError.corrupt(path: path, reason: "malformed public key")
        }
        switch file.keyProtection {
        case "passphrase":
            guard let kdf = file.kdf else { throw VaultError.corrupt(path: path, reason: "missing key-derivation parameters") }
            try KeyWrap.checkParameters(kdf, path: path)
        case "offline":
            break
        default:
            throw VaultError.corrupt(path: path, reason: "unknown key protection \(VaultError.quoted(file.keyProtection))")
        }
        return file
    }

    // MARK: Facts about the vault

    /// The vault's random id.
    public var vaultID: String { metadata.vaultID }
    /// The user named at `init`.
    public var user: String { metadata.user }
    /// The default server URL for zBots, set at `init`.
    public var defaultServerURL: String? { metadata.serverURL }
    /// True when the secret key is kept off the machine (`init --offline-key`).
    public var isOfflineKey: Bool { metadata.keyProtection == "offline" }

    // MARK: Reading

    /// The index, read and checked; strings are made only for what is asked.
    func readIndex() throws -> IndexTable {
        let path = directory.displayPath(VaultLayout.index)
        guard let bytes = try directory.readIndexBytes(VaultLayout.index, limit: VaultLayout.indexLimit) else {
            throw VaultError.corrupt(path: path, reason: "missing")
        }
        return try IndexTable(bytes: bytes, path: path)
    }

    /// The whole index as the model (every entry's strings made).
    func loadIndex() throws -> IndexFile {
        try readIndex().indexFile
    }

    /// Finds the tokens that `references` name: each is an id (of any token)
    /// or the label of an active token. A reference that is both one token's
    /// id and another's label is refused as ambiguous.
    public func resolve(_ references: [String]) throws -> [TokenInfo] {
        let index = try readIndex()
        var found: [TokenInfo] = []
        var seen = Set<Int>()
        for reference in references {
            let byID = index.position(ofID: reference)
            let byLabel = index.activePosition(ofLabel: reference.trimmingWhitespace())
            switch (byID, byLabel) {
            case let (id?, label?) where id != label:
                throw VaultError.invalidArgument("\(VaultError.quoted(reference)) is both the id of one token and the label of another",
                                                 hint: "use the id of the one you mean (see 'ztoken list --all')")
            case let (position?, _), let (nil, position?):
                if seen.insert(position).inserted { found.append(index.info(position)) }
            case (nil, nil):
                throw VaultError.noSuchToken(reference)
            }
        }
        return found
    }

    /// Checks a presented token against the index, in constant time per
    /// entry. Needs no passphrase: the index keeps a BLAKE2b digest.
    public func verify(_ presented: SecureBytes) throws -> Verification {
        if let problem = TokenFormat.problem(with: presented) { return .malformed(problem) }
        // The index keeps digests as 64 lowercase hex digits (checked by
        // `validate`), so comparing the hex text is comparing the digests,
        // without decoding every entry.
        // Every entry is compared, so timing does not reveal where a match is;
        // strings are made only for the match.
        let digest = Array(TokenFormat.digest(of: presented).utf8)
        let index = try readIndex()
        guard let position = index.constantTimePosition(ofDigest: digest) else { return .unknown }
        return index.isActive(position) ? .valid(index.info(position)) : .revoked(index.info(position))
    }

    // MARK: Writing

    /// Runs `body` holding the vault lock, with the index as it is now on disk.
    /// Leftover temp files of interrupted writers are swept first.
    func withWriteLock<T>(_ body: (IndexTable) throws -> T) throws -> T {
        let lock = try directory.lock(timeout: lockTimeout, onWaiting: onLockWait)
        defer { lock.unlock() }
        _ = try directory.removeLeftoverTemporaries()
        return try body(try readIndex())
    }

    /// Replaces index.json with `bytes` (from `IndexTable.encoded` or `IndexWriter`).
    func writeIndex(_ bytes: [UInt8]) throws {
        try directory.replace(VaultLayout.index, with: bytes)
    }

    /// Writes `index` changed as `IndexTable.withEncoded` changes it: the
    /// unchanged runs go to the file straight from the index read.
    func writeIndex(_ index: IndexTable, removing removed: Set<Int> = [], appending appended: [IndexFile.Entry] = [],
                    revoking revoked: Set<Int> = [], revokedAt: String = "") throws {
        try index.withEncoded(removing: removed, appending: appended, revoking: revoked, revokedAt: revokedAt) {
            try directory.replace(VaultLayout.index, withPieces: $0)
        }
    }

    func writeIndex(_ index: IndexFile) throws {
        try writeIndex(IndexCodec.encode(index))
    }

    /// Creates a token labelled `label`: mints one, or stores `importing` (a
    /// token made elsewhere). The sealed record and then the index are
    /// durable on disk before this returns, so the caller may show the token.
    public func create(label rawLabel: String, kind: TokenKind = .api, importing: SecureBytes? = nil,
                       agentName: String? = nil, serverURL: String? = nil) throws -> CreatedToken {
        let label = try LabelRules.validated(rawLabel)
        let token: SecureBytes
        if let importing {
            if let problem = TokenFormat.problem(with: importing) {
                throw VaultError.corrupt(path: "standard input", reason: problem == .badChecksum
                    ? "the token looks like a ztoken token but its checksum is wrong"
                    : "a token must be \(TokenFormat.importedLengthRange.lowerBound) to \(TokenFormat.importedLengthRange.upperBound) printable ASCII characters without spaces")
            }
            token = importing
        } else {
            token = TokenFormat.mint()
        }
        let digest = TokenFormat.digest(of: token)
        let record = RecordFormat.encode(Sodium.seal(token, to: publicKey))

        return try withWriteLock { index in
            if index.activePosition(ofLabel: label) != nil {
                throw VaultError.labelInUse(label)
            }
            if let twin = index.activePosition(ofDigest: digest) {
                throw VaultError.invalidArgument("this token is already in the vault as \(VaultError.quoted(index.label(twin)))")
            }
            var id = TokenID.make()
            while index.position(ofID: id) != nil { id = TokenID.make() }
            let entry = IndexFile.Entry(
                id: id, label: label, kind: kind.rawValue, createdAt: Clock.now(),
                last4: TokenFormat.lastFour(of: token), digest: digest, state: TokenState.active.rawValue,
                revokedAt: nil, agent: agentName, serverURL: serverURL)
            do {
                try directory.writeRecord(id: id, bytes: record)
            } catch {
                // The rename may have happened before a failed directory fsync.
                try? directory.removeRecords(ids: [id])
                throw error
            }
            do {
                // Only the new entry is encoded; the others' bytes are copied.
                try writeIndex(index, appending: [entry])
            } catch {
                // A failed directory fsync comes after the rename, so the new
                // index may be in place: put the old one back so a failed
                // create leaves no active token nobody has seen (its label
                // stays free). Drop the record only once the index no longer
                // names it; otherwise it stays, consistent with the index.
                if (try? writeIndex(index.bytes)) != nil { try? directory.removeRecords(ids: [id]) }
                throw error
            }
            return CreatedToken(info: TokenInfo(entry), token: token)
        }
    }

    /// Undoes a `create` whose token was never shown (printing it or writing
    /// its bundle failed): removes the index entry first, then the record, as
    /// if the token had never been made. Only a still-active entry with the
    /// same digest is removed, so a token someone may have seen is never touched.
    public func discard(_ created: CreatedToken) throws {
        let digest = TokenFormat.digest(of: created.token)
        try withWriteLock { index in
            guard let position = index.position(ofID: created.info.id), index.isActive(position),
                  index.string(position, .digest) == digest else { return }
            try writeIndex(index, removing: [position])
            try directory.removeRecords(ids: [created.info.id])
        }
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
            var revoked: [TokenInfo] = []
            revoked.reserveCapacity(ids.count)
            // One pass to find positions: `revoke --all` names every token,
            // and a search per id would be quadratic.
            var activePositions: [UInt64: Int] = [:]
            if ids.count > 1 { activePositions = index.activePositionsByID() }
            var positions = Set<Int>(minimumCapacity: ids.count)
            for id in ids {
                let found = ids.count > 1
                    ? TokenID.packed(id).flatMap { activePositions.removeValue(forKey: $0) }
                    : index.position(ofID: id).flatMap { index.isActive($0) ? $0 : nil }
                guard let position = found else {
                    throw VaultError.noSuchToken(id)
                }
                positions.insert(position)
                revoked.append(index.info(position, revokedAt: now))
            }
            try writeIndex(index, revoking: positions, revokedAt: now)
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
            throw VaultError.invalidArgument("this vault keeps its secret key offline",
                                             hint: "pass the key file given at init with -i/--identity")
        }
        guard let kdf = metadata.kdf else {
            throw VaultError.corrupt(path: directory.displayPath(VaultLayout.metadata), reason: "missing key-derivation parameters")
        }
        let keyPath = directory.displayPath(VaultLayout.wrappedKey)
        guard let bytes = try directory.read(VaultLayout.wrappedKey) else {
            throw VaultError.corrupt(path: keyPath, reason: "missing")
        }
        let file = try VaultJSON.decode(WrappedKeyFile.self, from: bytes, path: keyPath, knownVersions: 1...WrappedKeyFile.currentVersion)
        let secret = try KeyWrap.unwrap(file, kdf: kdf, passphrase: passphrase,
                                        associatedData: KeyWrap.associatedData(vaultID: metadata.vaultID, publicKey: publicKey),
                                        metadataPath: directory.displayPath(VaultLayout.metadata), keyPath: keyPath)
        return try VaultKey(secretKey: secret, expectedPublicKey: publicKey, source: keyPath)
    }

    /// Opens the sealed record of an active token and checks it against the
    /// index digest, so records swapped between entries are caught.
    public func revealToken(id: String, with key: VaultKey) throws -> SecureBytes {
        let index = try readIndex()
        guard let position = index.position(ofID: id), index.isActive(position) else { throw VaultError.noSuchToken(id) }
        let entry = index.entry(position)
        let path = directory.recordPath(id: id)
        guard let bytes = try directory.readRecord(id: id) else {
            throw VaultError.corrupt(path: path, reason: "the sealed record of active token \(VaultError.quoted(entry.label)) is missing")
        }
        let sealed = try RecordFormat.decode(bytes, path: path)
        guard let token = Sodium.openSealed(sealed, publicKey: publicKey, secretKey: key.secretKey) else {
            throw VaultError.corrupt(path: path, reason: "the sealed record does not open with the vault key")
        }
        guard let expected = Hex.decode(entry.digest),
              Sodium.constantTimeEquals(token.withUnsafeBytes { Sodium.blake2b256($0) }, expected) else {
            throw VaultError.corrupt(path: path, reason: "the sealed record does not match the index entry of \(VaultError.quoted(entry.label))")
        }
        return token
    }
}

/// The unlocked vault secret key. Held only as long as needed.
public final class VaultKey: Sendable {
    let secretKey: SecureBytes

    init(secretKey: SecureBytes, expectedPublicKey: [UInt8], source: String) throws {
        guard secretKey.count == Sodium.secretKeyLength,
              Sodium.constantTimeEquals(Sodium.publicKey(of: secretKey), expectedPublicKey) else {
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
        guard sealed.count > Sodium.sealOverhead else { throw VaultError.corrupt(path: path, reason: "truncated sealed record") }
        return sealed
    }
}
