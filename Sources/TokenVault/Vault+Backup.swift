// Backup and restore of a whole vault as one age file. A backup is a tar of
// the vault's files plus `backup.json`, a versioned manifest listing each
// file with its size and BLAKE2b digest, taken under the vault lock so it is a
// consistent snapshot; it needs no passphrase (nothing in it is plaintext).
//
// A restore streams: the age decryptor hands out one chunk at a time, the
// tar reader turns it into members, and each member is held to the limits
// backup.json (the first member) and the vault set for it before it is
// kept: records go straight into a staging directory beside the target,
// invisible until the final rename; only the small files and the index stay
// in memory. Everything is checked before the location is touched: age
// authentication to the last chunk, the manifest, every digest, every
// file's format, every active token's record, and the user's passphrase.
// Over an existing vault the backup must be of the same vault (or the user
// says otherwise), every revocation of the replaced vault is carried into the
// restored one, and the replaced vault is swapped out in one
// renameat2(RENAME_EXCHANGE) and kept aside, never deleted. A crash at any
// point leaves the old vault or the new one in place, never a mix.
import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// `backup.json`: what a backup holds.
struct BackupManifest: Codable, JSONReadable {
    static let currentVersion = 1
    static let path = "backup.json"
    static let vaultPrefix = "vault/"

    var version: Int
    var vaultID: String
    var createdAt: String
    var activeTokens: Int
    var files: [File]

    struct File: Codable, JSONReadable {
        var path: String
        var size: Int
        var blake2b: String
    }

    func encoded() throws -> [UInt8] { try VaultJSON.encode(self) }
}

extension BackupManifest {
    init(json: JSONObject) throws {
        version = try json.integer("version")
        vaultID = try json.string("vaultID")
        createdAt = try json.string("createdAt")
        activeTokens = try json.integer("activeTokens")
        files = try json.array("files", of: File.self)
    }
}

extension BackupManifest.File {
    init(json: JSONObject) throws {
        path = try json.string("path")
        size = try json.integer("size")
        blake2b = try json.string("blake2b")
    }
}

/// What a backup or restore did.
public struct BackupSummary: Sendable {
    /// The id of the vault in the backup.
    public let vaultID: String
    /// How many files the backup holds (metadata, wrapped key, index, records).
    public let files: Int
    /// How many active tokens the backed-up index holds.
    public let activeTokens: Int
}

extension Vault {
    /// Writes the whole vault, encrypted to `recipients`, to `output`, and commits it;
    /// with `armored`, in age's ASCII armor (`age -a`).
    ///
    /// The files are read under the lock; the archive is then streamed into
    /// the age encryptor piece by piece and never exists whole in memory (at
    /// 100,000 tokens it is ~150 MB, mostly tar padding around small records).
    /// Nothing in it is plaintext: the records are sealed boxes and the key
    /// is wrapped, as on disk.
    @discardableResult
    public func backup(to output: OutputFile, recipients: [AgeRecipient], armored: Bool = false) throws
        -> BackupSummary
    {
        // Archive paths ("vault/…") and contents, in archive order.
        var paths: [String] = []
        var contents: [[UInt8]] = []
        var active = 0
        try withWriteLock { index in
            // The backup carries its own event: restoring it shows when it was made.
            let activeCount = index.tokens.count(where: \.isActive)
            try record(
                [
                    HistoryEvent(
                        .backup,
                        detail: "\(activeCount) active token\(activeCount == 1 ? "" : "s"), "
                            + "to \(recipients.count) recipient\(recipients.count == 1 ? "" : "s")")
                ], in: index)
            for (name, limit) in [
                (VaultLayout.metadata, VaultLayout.smallFileLimit),
                (VaultLayout.wrappedKey, VaultLayout.smallFileLimit),
                (VaultLayout.log, EventLog.maximumBytes),
                (VaultLayout.index, VaultLayout.indexLimit),
            ] {
                guard let bytes = try directory.read(name, limit: limit) else { continue }
                paths.append(BackupManifest.vaultPrefix + name)
                contents.append(bytes)
            }
            let recordPrefix = BackupManifest.vaultPrefix + VaultLayout.records + "/"
            for entry in index.tokens where entry.isActive {
                guard let record = try directory.readRecord(id: entry.id) else {
                    throw VaultError.corrupt(
                        path: directory.recordPath(id: entry.id),
                        reason:
                            "the sealed record of active token \(VaultError.quoted(entry.label)) is missing; run 'ztoken doctor'"
                    )
                }
                paths.append(recordPrefix + VaultLayout.recordName(id: entry.id))
                contents.append(record)
                active += 1
            }
        }
        let listed = zip(paths, contents).map { path, bytes in
            BackupManifest.File(path: path, size: bytes.count, blake2b: Hex.encode(Sodium.blake2b256(bytes)))
        }
        let manifest = BackupManifest(
            version: BackupManifest.currentVersion, vaultID: vaultID, createdAt: Clock.now(),
            activeTokens: active, files: listed)
        let encryptor = try AgeEncryptor(recipients: recipients, armored: armored) { try output.write($0) }
        var tar = try TarArchive.StreamWriter(modificationTime: Int64(Clock.seconds()))
        try (try manifest.encoded()).withUnsafeBytes {
            try tar.addFile(BackupManifest.path, mode: 0o600, contents: $0, to: encryptor.write)
        }
        for (path, bytes) in zip(paths, contents) {
            try bytes.withUnsafeBytes { try tar.addFile(path, mode: 0o600, contents: $0, to: encryptor.write) }
        }
        try tar.finish(to: encryptor.write)
        try encryptor.finish()
        try output.commit()
        return BackupSummary(vaultID: vaultID, files: listed.count, activeTokens: active)
    }

    /// The largest backup `restore` reads (decrypted).
    static let backupLimit = 1 << 30
    /// The largest `backup.json`: about 150 bytes a record, so this covers
    /// an index at its own limit.
    static let backupManifestLimit = VaultLayout.indexLimit

    /// Reads, decrypts and checks the backup in `input` ("-" for standard
    /// input) and stages the vault it will install at `path`, without
    /// touching `path`. The returned plan says what installing it changes;
    /// `install()` makes the change, `discard()` (or dropping the plan
    /// without installing) removes the staged copy.
    ///
    /// `credentials` is asked once, after the backup was checked, for the
    /// passphrase (or offline key files, when its argument is true) of the
    /// vault that proves the user's ownership: the existing vault, or the
    /// backup's own when the location is empty or its vault.json unreadable.
    public static func prepareRestore(
        from input: String, identities: [AgeIdentity], to path: String,
        options: RestoreOptions,
        credentials: (_ offlineKey: Bool) throws -> VaultCredential
    ) throws -> RestorePlan {
        try prepareRestore(
            from: input, to: path, options: options, identities: { identities }, credentials: credentials)
    }

    /// Like ``prepareRestore(from:identities:to:options:credentials:)``, but
    /// `identities` is asked for the backup's identities only once the
    /// checks that need none have passed (the location, the vault it would
    /// replace, the backup file opened), so that a missing backup is
    /// reported before a passphrase is asked for it.
    public static func prepareRestore(
        from input: String, to path: String, options: RestoreOptions,
        identities: () throws -> [AgeIdentity],
        credentials: (_ offlineKey: Bool) throws -> VaultCredential
    ) throws -> RestorePlan {
        let (parentPath, name) = try Directories.splitParent(of: path)
        let existing = try locationHoldsSomething(path)
        if existing && !options.replaceExisting { throw VaultError.alreadyExists(path: path) }
        // The vault to replace, opened (and its files checked) before the
        // backup is read: an unsafe vault is refused at once.
        let replaced = existing ? try ReplacedVault(path: path) : nil

        let shown = input == "-" ? "standard input" : input
        let fd: Int32
        if input == "-" {
            fd = STDIN_FILENO
        } else {
            fd = Syscall.retryingInterrupts { open(input, O_RDONLY | O_CLOEXEC) }
            guard fd >= 0 else {
                if errno == ENOENT { throw VaultError.fileNotFound(path: input) }
                throw Syscall.fail(input, "open")
            }
        }
        defer { if input != "-" { Syscall.closeQuietly(fd) } }
        let decryptor = try AgeDecryptor(
            source: { try Syscall.readSome(fd, $0, displayPath: shown) },
            identities: try identities(), path: shown)

        // The staging directory beside the target, records/ opened inside it.
        try Directories.make(parentPath)
        let stage = try Staging(parentPath: parentPath, name: name)
        var handedOver = false
        defer { if !handedOver { stage.remove() } }
        let reader = BackupReader(shown: shown) { id, bytes in try stage.writeRecord(id: id, bytes) }
        try decryptor.decryptAll { try reader.feed($0) }
        let backup = try reader.finish()

        // Which vault's key the user proves, and which key files are installed.
        var notes: [String] = []
        var metadataBytes = backup.metadataBytes
        var keyBytes = backup.keyBytes
        var differentVault = false
        if let replaced, let current = replaced.vault {
            differentVault =
                current.vaultID != backup.metadata.vaultID || current.metadata.publicKey != backup.metadata.publicKey
            if differentVault && !options.replaceDifferentVault {
                // Same id, other key: a backup from before `passwd --rekey`.
                if current.vaultID == backup.metadata.vaultID {
                    throw VaultError.earlierKeyPair(path: shown, vaultID: current.vaultID)
                }
                throw VaultError.differentVault(
                    path: shown, backupID: backup.metadata.vaultID, vaultID: current.vaultID)
            }
            current.onSlowKeyDerivation = options.onSlowKeyDerivation
            _ = try retrying(options.passphraseAttempts) { try unlock(current, credentials(current.isOfflineKey)) }
            if !differentVault {
                // The current passphrase stays: a restore never brings back an old one.
                metadataBytes = try current.directory.read(VaultLayout.metadata) ?? metadataBytes
                keyBytes = try current.directory.read(VaultLayout.wrappedKey)
            }
        } else {
            if let replaced, let problem = replaced.metadataProblem {
                guard options.replaceDifferentVault else {
                    throw VaultError.unverifiableVault(path: path, problem: problem)
                }
                notes.append("could not check that the backup is of this vault: \(problem)")
            }
            _ = try retrying(options.passphraseAttempts) {
                try unlockBackup(
                    backup, credentials(backup.metadata.keyProtection == "offline"), shown: shown,
                    beforeSlowDerivation: options.onSlowKeyDerivation)
            }
        }
        if let replaced, let problem = replaced.indexProblem {
            notes.append("could not carry the replaced vault's revocations: \(problem)")
        }

        // Every revocation of the replaced vault is carried: a token revoked
        // there (same id, or the same token under another id) stays revoked.
        var index = backup.index
        var carried = 0
        var carriedExpiries = 0
        var events = [HistoryEvent(.restore, detail: "from a backup made \(backup.createdAt)")]
        let fromReplaced = "carried over from the vault the restore replaced"
        if let old = replaced?.index {
            var byID: [String: Int] = [:]
            var activeByDigest: [String: Int] = [:]
            for (position, entry) in index.tokens.enumerated() {
                byID[entry.id] = position
                if entry.isActive { activeByDigest[entry.digest] = position }
            }
            for entry in old.tokens where !entry.isActive {
                if let position = byID[entry.id] ?? activeByDigest[entry.digest] {
                    guard index.tokens[position].isActive else { continue }
                    index.tokens[position].state = .revoked
                    index.tokens[position].revokedAt = entry.revokedAt
                    activeByDigest[index.tokens[position].digest] = nil
                    try stage.removeRecord(id: index.tokens[position].id)
                    events.append(HistoryEvent(.revoke, index.tokens[position], detail: fromReplaced))
                } else {
                    byID[entry.id] = index.tokens.count
                    index.tokens.append(entry)
                    // A restore event with a token brings in a revoked one.
                    events.append(HistoryEvent(.restore, entry, detail: "revoked; " + fromReplaced))
                }
                carried += 1
            }
            // Expiry is never undone either: a token of both vaults keeps
            // the earlier of its two expiry times.
            for entry in old.tokens where entry.isActive {
                guard let expires = entry.expiresAt.flatMap(RFC3339.parse),
                    let position = byID[entry.id] ?? activeByDigest[entry.digest], index.tokens[position].isActive
                else { continue }
                let restored = index.tokens[position].expiresAt.flatMap(RFC3339.parse)
                if restored.map({ expires < $0 }) ?? true {
                    index.tokens[position].expiresAt = entry.expiresAt
                    carriedExpiries += 1
                    events.append(
                        HistoryEvent(
                            .expire, index.tokens[position],
                            detail: "expires \(entry.expiresAt ?? ""); " + fromReplaced))
                }
            }
        }
        // The restored vault's history: the backup's, then this restore.
        let (lines, anchor) = EventLog.append(
            events, after: backup.index.log, index: backup.index, vaultID: backup.metadata.vaultID)
        index.anchor(at: anchor)
        try index.validate(path: shown + ":" + VaultLayout.index)

        // What the user gains and loses, by token.
        var lost: [RestoredToken] = []
        var gained: [RestoredToken] = []
        if let old = replaced?.index {
            let finalActiveIDs = Set(index.tokens.filter(\.isActive).map(\.id))
            let finalActiveDigests = Set(index.tokens.filter(\.isActive).map(\.digest))
            let oldIDs = Set(old.tokens.map(\.id))
            lost = old.tokens.filter {
                $0.isActive && !finalActiveIDs.contains($0.id) && !finalActiveDigests.contains($0.digest)
            }
            .map(RestoredToken.init)
            gained = index.tokens.filter { $0.isActive && !oldIDs.contains($0.id) }.map(RestoredToken.init)
        }

        try stage.finish(
            metadata: metadataBytes, wrappedKey: keyBytes, log: backup.logBytes + lines, index: index.encoded())
        handedOver = true
        return RestorePlan(
            stage: stage, replaced: replaced, path: path, vaultID: backup.metadata.vaultID,
            activeTokens: index.tokens.count(where: \.isActive), files: backup.fileCount,
            lost: lost, gained: gained, carriedRevocations: carried, carriedExpiries: carriedExpiries,
            isDifferentVault: differentVault,
            notes: notes, lockTimeout: options.lockTimeout)
    }

    /// Prepares and installs a restore in one call, without showing the plan
    /// to anyone (tests and tools); returns the installed plan.
    @discardableResult
    public static func restore(
        from input: String, identities: [AgeIdentity], to path: String,
        options: RestoreOptions, credential: VaultCredential
    ) throws -> RestorePlan {
        let plan = try prepareRestore(from: input, identities: identities, to: path, options: options) { _ in credential
        }
        try plan.install()
        return plan
    }

    /// Runs `body` again while it fails with a wrong passphrase, `attempts` times in all.
    private static func retrying<T>(_ attempts: Int, _ body: () throws -> T) throws -> T {
        var tries = 0
        while true {
            tries += 1
            do {
                return try body()
            } catch VaultError.wrongPassphrase(_) where tries < attempts {
                continue
            }
        }
    }

    private static func unlock(_ vault: Vault, _ credential: VaultCredential) throws -> VaultKey {
        switch credential {
        case .passphrase(let passphrase): return try vault.unlock(passphrase: passphrase)
        case .identityFiles(let files): return try vault.unlock(identityFiles: files)
        }
    }

    /// Opens the backup's own wrapped key (or matches its offline key).
    private static func unlockBackup(
        _ backup: BackupReader.Checked, _ credential: VaultCredential, shown: String,
        beforeSlowDerivation: () -> Void
    ) throws -> VaultKey {
        let publicKey = Base64.decode(backup.metadata.publicKey) ?? []
        let keyPath = shown + ":" + VaultLayout.wrappedKey
        switch credential {
        case .identityFiles(let files):
            let secret = try OfflineKey.vaultKey(fromIdentityFiles: files, publicKey: publicKey)
            return try VaultKey(secretKey: secret, expectedPublicKey: publicKey, source: files.joined(separator: ", "))
        case .passphrase(let passphrase):
            guard backup.metadata.keyProtection == "passphrase", let bytes = backup.keyBytes else {
                throw VaultError.invalidArgument("the vault in \(shown) keeps its secret key offline")
            }
            let secret = try KeyWrap.unwrap(
                keyFile: bytes, metadata: backup.metadata, passphrase: passphrase,
                metadataPath: shown + ":" + VaultLayout.metadata, keyPath: keyPath,
                beforeSlowDerivation: beforeSlowDerivation)
            return try VaultKey(secretKey: secret, expectedPublicKey: publicKey, source: keyPath)
        }
    }

    private static func locationHoldsSomething(_ path: String) throws -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return false }
        if info.st_mode & S_IFMT == S_IFLNK { throw VaultError.symlink(path: path) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw VaultError.alreadyExists(path: path) }
        let fd = try Syscall.openDirectory(path)
        defer { Syscall.closeQuietly(fd) }
        return !(try Syscall.directoryEntries(fd, displayPath: path)).isEmpty
    }

    /// Checks a decrypted backup archive whole, as `restore` does while it
    /// streams; records are kept in memory. Separate from the decryption so
    /// the fuzzer can reach it.
    static func checkBackupArchive(_ plaintext: [UInt8], shown: String) throws
        -> (vaultID: String, activeTokens: Int, contents: [(String, [UInt8])])
    {
        var records: [(String, [UInt8])] = []
        let reader = BackupReader(shown: shown) { id, bytes in
            records.append((VaultLayout.records + "/" + VaultLayout.recordName(id: id), bytes))
        }
        try plaintext.withUnsafeBytes { try reader.feed($0) }
        let checked = try reader.finish()
        var contents: [(String, [UInt8])] = [(VaultLayout.metadata, checked.metadataBytes)]
        if let key = checked.keyBytes { contents.append((VaultLayout.wrappedKey, key)) }
        if !checked.logBytes.isEmpty { contents.append((VaultLayout.log, checked.logBytes)) }
        contents.append((VaultLayout.index, checked.indexBytes))
        return (checked.metadata.vaultID, checked.activeTokens, contents + records)
    }
}

// MARK: - Restore's public types

/// How `restore` may treat an existing vault.
public struct RestoreOptions: Sendable {
    /// Replace an existing vault (`--force`); without it an existing one is `.alreadyExists`.
    public var replaceExisting: Bool
    /// Replace a vault that is not the backup's, or whose identity cannot be checked.
    public var replaceDifferentVault: Bool
    /// How long to wait for the replaced vault's lock.
    public var lockTimeout: Double
    /// Called before the vault passphrase is turned into a key with costs
    /// that take a while (see ``Vault/onSlowKeyDerivation``).
    public var onSlowKeyDerivation: @Sendable () -> Void = {}
    /// How many times `credentials` is asked when it gives a wrong
    /// passphrase: 1 by default (a passphrase from a file is tried once);
    /// a caller asking a person on a terminal may give more tries.
    public var passphraseAttempts = 1

    /// Options for ``Vault/prepareRestore(from:identities:to:options:credentials:)``; by default
    /// only an empty location is restored into.
    public init(replaceExisting: Bool = false, replaceDifferentVault: Bool = false, lockTimeout: Double = 10) {
        self.replaceExisting = replaceExisting
        self.replaceDifferentVault = replaceDifferentVault
        self.lockTimeout = lockTimeout
    }
}

/// What proves the user owns a vault: its passphrase, or its offline key files.
public enum VaultCredential: Sendable {
    /// The vault passphrase (Argon2id unwraps the secret key with it).
    case passphrase(SecureBytes)
    /// The age identity files of an offline-key vault (`init --offline-key`).
    case identityFiles([String])
}

/// A token named in a restore plan.
public struct RestoredToken: Sendable, Equatable {
    /// The token's id.
    public let id: String
    /// The token's label.
    public let label: String

    init(_ entry: Index.Entry) {
        id = entry.id
        label = entry.label
    }
}

/// A checked backup staged beside its target, and what installing it changes.
public final class RestorePlan {
    /// The id of the vault that will be installed.
    public let vaultID: String
    /// Active tokens in the vault as installed (after carried revocations).
    public let activeTokens: Int
    /// Files the backup held.
    public let files: Int
    /// Active tokens of the replaced vault that will not be active after the
    /// restore (created after the backup was taken): they stay only in the
    /// kept-aside vault.
    public let lost: [RestoredToken]
    /// Active tokens of the backup that the replaced vault never had.
    public let gained: [RestoredToken]
    /// Revocations of the replaced vault carried into the restored one.
    public let carriedRevocations: Int
    /// Expiry times of the replaced vault, earlier than the backup's, carried
    /// into the restored one (expiry is never undone).
    public let carriedExpiries: Int
    /// True when the backup is of another vault than the one it replaces.
    public let isDifferentVault: Bool
    /// What could not be checked or carried, one line each.
    public let notes: [String]

    /// True when an existing vault will be replaced (and kept aside).
    public var replacesVault: Bool { replaced != nil }

    private let stage: Staging
    private let replaced: ReplacedVault?
    private let path: String
    private let lockTimeout: Double
    private var done = false

    fileprivate init(
        stage: Staging, replaced: ReplacedVault?, path: String, vaultID: String, activeTokens: Int, files: Int,
        lost: [RestoredToken], gained: [RestoredToken], carriedRevocations: Int, carriedExpiries: Int,
        isDifferentVault: Bool,
        notes: [String], lockTimeout: Double
    ) {
        self.stage = stage
        self.replaced = replaced
        self.path = path
        self.vaultID = vaultID
        self.activeTokens = activeTokens
        self.files = files
        self.lost = lost
        self.gained = gained
        self.carriedRevocations = carriedRevocations
        self.carriedExpiries = carriedExpiries
        self.isDifferentVault = isDifferentVault
        self.notes = notes
        self.lockTimeout = lockTimeout
    }

    deinit { if !done { stage.remove() } }

    /// Removes the staged copy; the location is left as it was.
    public func discard() {
        guard !done else { return }
        done = true
        stage.remove()
    }

    /// Installs the staged vault: one rename into an empty location, or,
    /// under the replaced vault's lock, one atomic exchange with it. Returns
    /// the path the replaced vault was kept aside at, if there was one.
    /// A failure after the rename or exchange (the parent's fsync) throws
    /// `.restoredDespiteFailure`: the restored vault is in place all the same.
    @discardableResult
    public func install() throws -> String? {
        precondition(!done, "a restore plan is installed or discarded once")
        guard let replaced else {
            try stage.install(as: stage.name)
            done = true
            try stage.finishInstalling { .restoredDespiteFailure(path: path, cause: $0, kept: nil) }
            return nil
        }
        let lock = try replaced.directory.lock(timeout: lockTimeout, onWaiting: { _ in })
        defer { lock.unlock() }
        // The plan was shown for the vault read then; a writer since then
        // would make it wrong: a token created meanwhile would be lost unseen,
        // and a passwd or config meanwhile undone (the kept key and settings
        // are the ones read then).
        guard try replaced.readStateDigest() == replaced.stateDigest else {
            throw VaultError.vaultChanged(path: path)
        }
        let keptName = stage.keptAsideName()
        try stage.adoptRepository()
        do {
            try stage.exchange(keptName: keptName)
        } catch {
            stage.returnRepository()
            throw error
        }
        done = true
        let kept = stage.parentPath + "/" + keptName
        try stage.finishInstalling { .restoredDespiteFailure(path: path, cause: $0, kept: kept) }
        return kept
    }
}

/// The existing vault a restore replaces, as far as it can be read.
private final class ReplacedVault {
    let directory: VaultDirectory
    /// Nil when vault.json cannot be read; `metadataProblem` says why.
    let vault: Vault?
    let metadataProblem: String?
    let index: Index?
    let indexProblem: String?
    /// vault.json, vault-key.json and index.json as read when the plan was made.
    let stateDigest: [UInt8]

    init(path: String) throws {
        directory = try VaultDirectory(path: path)
        do {
            vault = try Vault(openingAt: path)
            metadataProblem = nil
        } catch let error as VaultError where error.exitCode == 65 {
            vault = nil
            metadataProblem = error.message
        }
        var index: Index?
        var problem: String?
        stateDigest = try Self.stateDigest(of: directory)
        do {
            let indexPath = directory.displayPath(VaultLayout.index)
            guard let bytes = try directory.read(VaultLayout.index, limit: VaultLayout.indexLimit) else {
                throw VaultError.corrupt(path: indexPath, reason: "missing")
            }
            index = try Index.decode(bytes, path: indexPath)
        } catch let error as VaultError where error.exitCode == 65 {
            problem = error.message
        }
        self.index = index
        indexProblem = problem
    }

    func readStateDigest() throws -> [UInt8] { try Self.stateDigest(of: directory) }

    /// One digest of the files a writer may change, each with its length
    /// (a missing file counts as its own state).
    private static func stateDigest(of directory: VaultDirectory) throws -> [UInt8] {
        var all: [UInt8] = []
        for name in [VaultLayout.metadata, VaultLayout.wrappedKey, VaultLayout.index] {
            let bytes = try directory.read(name, limit: VaultLayout.indexLimit)
            all += Sodium.blake2b256(Array(String(bytes?.count ?? -1).utf8)) + Sodium.blake2b256(bytes ?? [])
        }
        return Sodium.blake2b256(all)
    }
}

/// The staging directory a restore (or `passwd --rekey`) builds its vault
/// in, beside the target.
final class Staging {
    let parentPath: String
    let name: String
    private let parent: Int32
    private var stagingName: String
    private let directory: VaultDirectory
    private let records: Int32
    private var present = true
    /// Set by `exchangeReplacingVault`: the vault it replaced is at the
    /// staging name, for `finishInstalling` to delete.
    private var holdsReplacedVault = false

    init(parentPath: String, name: String, purpose: String = "restore") throws {
        self.parentPath = parentPath
        self.name = name
        parent = try Syscall.openDirectory(parentPath)
        Leftovers.sweepStaging(in: parent, parentPath: parentPath, vaultName: name)
        stagingName = Leftovers.stagingName(of: name, purpose)
        let path = parentPath + "/" + stagingName
        do {
            try Syscall.makeDirectoryAt(parent, stagingName, displayPath: path)
        } catch {
            Syscall.closeQuietly(parent)
            throw error
        }
        do {
            directory = try VaultDirectory(path: path)
            try Syscall.makeDirectoryAt(
                directory.fd, VaultLayout.records, displayPath: directory.displayPath(VaultLayout.records))
            guard
                let fd = try Syscall.openAt(
                    directory.fd, VaultLayout.records, flags: O_RDONLY | O_DIRECTORY,
                    displayPath: directory.displayPath(VaultLayout.records))
            else {
                throw VaultError.io(path: directory.displayPath(VaultLayout.records), operation: "open", errno: ENOENT)
            }
            records = fd
        } catch {
            try? Directories.removeTree(parent: parent, name: stagingName, path: path, keepingRepository: true)
            Syscall.closeQuietly(parent)
            throw error
        }
    }

    deinit {
        Syscall.closeQuietly(records)
        Syscall.closeQuietly(parent)
    }

    var path: String { parentPath + "/" + stagingName }

    /// Writes one record as it arrives; it is made durable by `finish`'s one
    /// syncfs, as the directory is invisible until installed.
    func writeRecord(id: String, _ bytes: [UInt8]) throws {
        let name = VaultLayout.recordName(id: id)
        let shown = directory.displayPath(VaultLayout.records) + "/" + name
        guard
            let fd = try Syscall.openAt(
                records, name, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600, displayPath: shown)
        else {
            throw VaultError.io(path: shown, operation: "open", errno: ENOENT)
        }
        do {
            if fchmod(fd, 0o600) != 0 { throw Syscall.fail(shown, "chmod") }
            try bytes.withUnsafeBytes { try Syscall.writeAll(fd, $0, displayPath: shown) }
        } catch {
            Syscall.closeQuietly(fd)
            throw error
        }
        try Syscall.closeChecked(fd, displayPath: shown)
    }

    func removeRecord(id: String) throws {
        try Syscall.unlinkAt(records, VaultLayout.recordName(id: id), displayPath: directory.recordPath(id: id))
    }

    /// Writes the top files (the log before the index that anchors it) and
    /// the lock, then makes everything durable.
    func finish(metadata: [UInt8], wrappedKey: [UInt8]?, log: [UInt8], index: [UInt8]) throws {
        try directory.replace(VaultLayout.metadata, with: metadata)
        if let wrappedKey { try directory.replace(VaultLayout.wrappedKey, with: wrappedKey) }
        try directory.appendLog(log, committed: 0, head: nil)
        try directory.replace(VaultLayout.index, with: index)
        try directory.lock(timeout: 0, onWaiting: { _ in }).unlock()
        // One syncfs for all records rather than an fsync each.
        try Syscall.syncFileSystem(directory.fd, displayPath: path)
        try Syscall.sync(directory.fd, displayPath: path)
    }

    /// Renames the staged vault into the empty location `target`; throws
    /// only when nothing was renamed. `finishInstalling` makes it durable.
    func install(as target: String) throws {
        try Directories.renameIntoPlace(stagingName, as: target, in: parent, path: parentPath + "/" + target)
        present = false
    }

    /// `<vault>.replaced-<UTC time>` (with a counter if taken): not a staging
    /// name, so no sweep ever removes it.
    func keptAsideName() -> String {
        let stamp = String(Clock.now().filter { $0 != "-" && $0 != ":" })
        var candidate = name + ".replaced-" + stamp
        var info = stat()
        var counter = 1
        while fstatat(parent, candidate, &info, AT_SYMLINK_NOFOLLOW) == 0 {
            counter += 1
            candidate = name + ".replaced-" + stamp + "-\(counter)"
        }
        return candidate
    }

    /// Moves the git repository of the vault at `name` (its `.git` and
    /// `.gitignore`) into the staged vault, so that the vault that replaces
    /// it keeps its history and remote (`sync`); the replaced vault is kept
    /// without them. Call under the replaced vault's lock, before the exchange.
    /// If the move fails partway (the second rename, an fsync), what moved
    /// is given back first, so the repository stays with the vault.
    func adoptRepository() throws {
        do {
            try moveRepository(toStaging: true)
        } catch {
            returnRepository()
            throw error
        }
    }

    /// Gives the repository back to the vault at `name` (an exchange failed).
    func returnRepository() { try? moveRepository(toStaging: false) }

    private func moveRepository(toStaging: Bool) throws {
        let vaultPath = parentPath + "/" + name
        guard let vault = try Syscall.openAt(parent, name, flags: O_RDONLY | O_DIRECTORY, displayPath: vaultPath)
        else { return }
        defer { Syscall.closeQuietly(vault) }
        let (from, to) = toStaging ? (vault, directory.fd) : (directory.fd, vault)
        for entry in [".git", ".gitignore"] {
            var info = stat()
            guard fstatat(from, entry, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            try Syscall.renameAt(from, entry, to, entry, displayPath: vaultPath + "/" + entry)
        }
        try Syscall.sync(directory.fd, displayPath: path)
        try Syscall.sync(vault, displayPath: vaultPath)
    }

    /// Swaps the staged vault with the one at `name`, leaving the replaced
    /// vault at `keptName`. The staged copy is first renamed to `keptName`
    /// and then exchanged, so the old vault never sits at a staging name
    /// that a sweep would remove: a crash between the two leaves the backup's
    /// copy kept aside and the old vault in place. Throws only when nothing
    /// was exchanged; `finishInstalling` makes the exchange durable.
    func exchange(keptName: String) throws {
        let keptPath = parentPath + "/" + keptName
        try Syscall.renameAt(parent, stagingName, parent, keptName, displayPath: keptPath)
        stagingName = keptName
        do {
            try Syscall.exchange(parent, keptName, name, displayPath: parentPath + "/" + name)
        } catch {
            let back = Leftovers.stagingName(of: name, "restore")
            if renameat(parent, keptName, parent, back) == 0 { stagingName = back }
            throw error
        }
        present = false
    }

    /// Swaps the staged vault with the one at `name` in one
    /// renameat2(RENAME_EXCHANGE), leaving the replaced vault at the staging
    /// name; throws only when nothing was exchanged. For `passwd --rekey`,
    /// whose replaced vault holds only the retired key: `finishInstalling`
    /// makes the exchange durable and deletes that vault.
    func exchangeReplacingVault() throws {
        try Syscall.exchange(parent, stagingName, name, displayPath: parentPath + "/" + name)
        // The staging name holds the replaced vault now: only
        // `finishInstalling` (or, after a crash, a sweep) deletes it.
        present = false
        holdsReplacedVault = true
    }

    /// After `install`, `exchange` or `exchangeReplacingVault` took effect:
    /// fsyncs the parent, then deletes the vault `exchangeReplacingVault`
    /// left at the staging name. The staged vault is at the vault's name
    /// already, so a failure here must not read as a change that did not
    /// happen: it is thrown as `despite(cause)`, the caller's error saying
    /// the change took effect all the same, `cause` the failure's message.
    /// Whatever is left at the staging name names this process, so a sweep
    /// (doctor --repair) removes it once it is gone.
    func finishInstalling(despite: (_ cause: String) -> VaultError) throws {
        do {
            // Until a rekey's exchange is durable, what sits at the staging
            // name may be the old vault, or (after a crash) the new one again:
            // a failed fsync leaves it for the sweep rather than deleting it.
            try Syscall.sync(parent, displayPath: parentPath)
            guard holdsReplacedVault else { return }
            try Directories.removeTree(parent: parent, name: stagingName, path: path, keepingRepository: true)
            try? Syscall.sync(parent, displayPath: parentPath)
        } catch {
            throw despite(VaultError.cause(error))
        }
    }

    func remove() {
        guard present else { return }
        present = false
        try? Directories.removeTree(parent: parent, name: stagingName, path: path, keepingRepository: true)
        try? Syscall.sync(parent, displayPath: parentPath)
    }
}

/// Checks a decrypted backup as it arrives: the tar, then backup.json (the
/// first member), then every later member against it — listed, its size,
/// within the vault's limit for its kind before any byte is kept, then its
/// digest — and at the end the vault inside as a whole. Records are handed
/// to `storeRecord` once checked and not kept; the small files and the index
/// are. Every string from the backup reaches a message escaped.
final class BackupReader {
    /// What a fully checked backup holds, besides the records already stored.
    struct Checked {
        var metadata: MetadataFile
        var metadataBytes: [UInt8]
        var keyBytes: [UInt8]?
        var index: Index
        var indexBytes: [UInt8]
        /// The backup's log.jsonl; empty for a vault made before the log.
        var logBytes: [UInt8]
        /// When the backup was made (RFC 3339).
        var createdAt: String
        var activeTokens: Int
        var fileCount: Int
    }

    let shown: String
    private let storeRecord: (String, [UInt8]) throws -> Void
    private var tar: TarArchive.StreamReader
    private var manifest: BackupManifest?
    private var listed: [String: BackupManifest.File] = [:]
    private var arrived = Set<String>()
    /// The member being read: its header, its manifest entry (nil for
    /// backup.json), and its bytes so far.
    private var member: (header: TarArchive.MemberHeader, file: BackupManifest.File?, bytes: [UInt8])?
    private var files: [String: [UInt8]] = [:]
    private var records = Set<String>()
    private var total = 0

    init(shown: String, storeRecord: @escaping (String, [UInt8]) throws -> Void) {
        self.shown = shown
        self.storeRecord = storeRecord
        tar = TarArchive.StreamReader(displayPath: shown, maxEntryCount: 10_000_000)
    }

    private func corrupt(_ reason: String) -> VaultError { .corrupt(path: shown, reason: reason) }
    private func inside(_ name: String) -> String { shown + ":" + TerminalSafe.escape(name) }

    /// Takes the next piece of the decrypted backup.
    func feed(_ piece: UnsafeRawBufferPointer) throws {
        total += piece.count
        guard total <= Vault.backupLimit else { throw corrupt("backup is larger than \(Vault.backupLimit >> 20) MiB") }
        try tar.feed(piece) { event in try self.handle(event) }
    }

    private func handle(_ event: TarArchive.StreamReader.Event) throws {
        switch event {
        case .begin(let header):
            guard !header.isDirectory else { return }
            guard manifest != nil else {
                guard header.path == BackupManifest.path else {
                    throw corrupt("not a ztoken backup (no \(BackupManifest.path) at its start)")
                }
                guard header.size <= Vault.backupManifestLimit else {
                    throw corrupt("\(BackupManifest.path) is larger than \(Vault.backupManifestLimit >> 20) MiB")
                }
                member = (header, nil, [])
                member?.bytes.reserveCapacity(header.size)
                return
            }
            guard let file = listed[header.path] else {
                throw corrupt("unlisted file \(VaultError.quoted(header.path))")
            }
            // The size was held to the vault's limit when the manifest was read.
            guard header.size == file.size else {
                throw corrupt("\(VaultError.quoted(file.path)) does not match its digest")
            }
            member = (header, file, [])
            member?.bytes.reserveCapacity(header.size)
        case .contents(let piece):
            member?.bytes.append(contentsOf: piece)
        case .end:
            guard let (header, file, bytes) = member else { return }
            member = nil
            guard let file else {
                try readManifest(bytes)
                return
            }
            guard Hex.encode(Sodium.blake2b256(bytes)) == file.blake2b else {
                throw corrupt("\(VaultError.quoted(file.path)) does not match its digest")
            }
            arrived.insert(header.path)
            let relative = String(file.path.dropFirst(BackupManifest.vaultPrefix.count))
            if relative.hasPrefix(VaultLayout.records + "/") {
                let name = String(relative.dropFirst(VaultLayout.records.count + 1))
                _ = try RecordFormat.decode(bytes, path: inside(relative))
                try storeRecord(String(name.dropLast(VaultLayout.recordSuffix.count)), bytes)
                records.insert(relative)
            } else {
                files[relative] = bytes
            }
        }
    }

    /// Reads backup.json and holds every file it lists to the path rules and
    /// to the vault's size limit for its kind.
    private func readManifest(_ bytes: [UInt8]) throws {
        let read = try VaultJSON.decode(
            BackupManifest.self, from: bytes, path: shown + ":" + BackupManifest.path,
            knownVersions: 1...BackupManifest.currentVersion)
        for file in read.files {
            guard file.path.hasPrefix(BackupManifest.vaultPrefix), TarArchive.pathProblem(file.path) == nil else {
                throw corrupt("\(VaultError.quoted(file.path)) is not a path inside a vault")
            }
            let relative = String(file.path.dropFirst(BackupManifest.vaultPrefix.count))
            let limit: Int
            switch relative {
            case VaultLayout.metadata, VaultLayout.wrappedKey: limit = VaultLayout.smallFileLimit
            case VaultLayout.index: limit = VaultLayout.indexLimit
            case VaultLayout.log: limit = EventLog.maximumBytes
            default:
                guard relative.hasPrefix(VaultLayout.records + "/"),
                    VaultLayout.recordID(fromName: String(relative.dropFirst(VaultLayout.records.count + 1))) != nil
                else {
                    throw corrupt("unexpected file \(VaultError.quoted(relative))")
                }
                limit = VaultLayout.recordLimit
            }
            guard file.size >= 0, file.size <= limit else {
                throw corrupt(
                    "\(VaultError.quoted(file.path)) is \(file.size) bytes; the vault's limit for it is \(limit)")
            }
            guard listed.updateValue(file, forKey: file.path) == nil else {
                throw corrupt("\(VaultError.quoted(file.path)) is listed twice")
            }
        }
        manifest = read
    }

    /// Checks that the archive ended well and that the vault inside is one
    /// this ztoken would open.
    func finish() throws -> Checked {
        if total == 0 { throw corrupt("empty backup") }
        try tar.finish()
        guard let manifest else { throw corrupt("not a ztoken backup (no \(BackupManifest.path))") }
        if let missing = manifest.files.first(where: { !arrived.contains($0.path) }) {
            throw corrupt("\(VaultError.quoted(missing.path)) is listed but missing")
        }
        guard let metadataBytes = files[VaultLayout.metadata] else { throw corrupt("no vault.json") }
        let metadata = try Vault.decodeMetadata(metadataBytes, path: inside(VaultLayout.metadata))
        let keyBytes = files[VaultLayout.wrappedKey]
        if metadata.keyProtection == "passphrase" {
            guard let keyBytes else { throw corrupt("no vault-key.json") }
            _ = try KeyWrap.decodeKeyFile(
                keyBytes, metadata: metadata, metadataPath: inside(VaultLayout.metadata),
                keyPath: inside(VaultLayout.wrappedKey))
        }
        guard let indexBytes = files[VaultLayout.index] else { throw corrupt("no index.json") }
        let index = try Index.decode(indexBytes, path: inside(VaultLayout.index))
        // The history travels with the vault, checked as `doctor` checks it.
        let logBytes = files[VaultLayout.log] ?? []
        if let anchor = index.log {
            _ = try EventLog.checked(
                logBytes[...], anchor: anchor, vaultID: metadata.vaultID, path: inside(VaultLayout.log),
                replayingAgainst: index)
        } else if !logBytes.isEmpty {
            throw corrupt("it holds a log but its index.json has no anchor for it")
        }
        var unclaimed = records
        for entry in index.tokens where entry.isActive {
            guard unclaimed.remove(VaultLayout.records + "/" + VaultLayout.recordName(id: entry.id)) != nil else {
                throw corrupt("no sealed record for active token \(VaultError.quoted(entry.label))")
            }
        }
        if let stray = unclaimed.sorted().first {
            throw corrupt("\(VaultError.quoted(stray)) belongs to no active token")
        }
        return Checked(
            metadata: metadata, metadataBytes: metadataBytes, keyBytes: keyBytes, index: index,
            indexBytes: indexBytes, logBytes: logBytes, createdAt: manifest.createdAt,
            activeTokens: manifest.activeTokens, fileCount: manifest.files.count)
    }
}
