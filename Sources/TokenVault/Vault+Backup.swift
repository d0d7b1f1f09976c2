// Backup and restore of a whole vault as one age file. A backup is a tar of
// the vault's files plus `backup.json`, a versioned manifest listing each
// file with its size and BLAKE2b digest, taken under the vault lock so it is a
// consistent snapshot; it needs no passphrase (nothing in it is plaintext).
// A restore checks everything before it touches the location — age
// authentication to the last chunk, the manifest, every digest, every file's
// format, every active token's record — then builds the vault in a staging
// directory beside the target and installs it with one rename, or with
// --force swaps it with the old vault in one renameat2(RENAME_EXCHANGE). A
// crash at any point leaves the old vault or the new one, never a mix.
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif
internal import CProcessShims

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
    public let vaultID: String
    public let files: Int
    public let activeTokens: Int
}

extension Vault {
    /// Writes the whole vault, encrypted to `recipients`, to `output`, and commits it.
    ///
    /// The files are read under the lock; the archive is then streamed into
    /// the age encryptor piece by piece and never exists whole in memory (at
    /// 100,000 tokens it is ~150 MB, mostly tar padding around small records).
    /// Nothing in it is plaintext: the records are sealed boxes and the key
    /// is wrapped, as on disk.
    @discardableResult
    public func backup(to output: OutputFile, recipients: [AgeRecipient]) throws -> BackupSummary {
        // Archive paths ("vault/…") and contents, in archive order.
        var paths: [String] = []
        var contents: [[UInt8]] = []
        var active = 0
        try withWriteLock { index in
            for (name, limit) in [(VaultLayout.metadata, VaultLayout.smallFileLimit), (VaultLayout.wrappedKey, VaultLayout.smallFileLimit),
                                  (VaultLayout.index, VaultLayout.indexLimit)] {
                guard let bytes = try directory.read(name, limit: limit) else { continue }
                paths.append(BackupManifest.vaultPrefix + name)
                contents.append(bytes)
            }
            let recordPrefix = BackupManifest.vaultPrefix + VaultLayout.records + "/"
            for entry in index.tokens where entry.isActive {
                guard let record = try directory.readRecord(id: entry.id) else {
                    throw VaultError.corrupt(path: directory.recordPath(id: entry.id),
                                             reason: "the sealed record of active token \(VaultError.quoted(entry.label)) is missing; run 'ztoken doctor'")
                }
                paths.append(recordPrefix + VaultLayout.recordName(id: entry.id))
                contents.append(record)
                active += 1
            }
        }
        let listed = zip(paths, contents).map { path, bytes in
            BackupManifest.File(path: path, size: bytes.count, blake2b: Hex.encode(Sodium.blake2b256(bytes)))
        }
        let manifest = BackupManifest(version: BackupManifest.currentVersion, vaultID: vaultID, createdAt: Clock.now(),
                                      activeTokens: active, files: listed)
        let encryptor = try AgeEncryptor(recipients: recipients) { try output.write($0) }
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

    /// Restores the backup read from `input` ("-" for standard input) into
    /// `path`. Without `force` the location must be absent or empty (else
    /// `.alreadyExists`); with it an existing vault is replaced atomically.
    @discardableResult
    public static func restore(from input: String, identities: [AgeIdentity], to path: String, force: Bool) throws -> BackupSummary {
        let (parentPath, name) = try Directories.splitParent(of: path)
        let existing = try locationHoldsSomething(path)
        if existing && !force { throw VaultError.alreadyExists(path: path) }

        // 1. Decrypt and check everything, before the location is touched.
        let files = try readBackup(from: input, identities: identities)

        // 2. Build the new vault in a staging directory beside the target.
        try Directories.make(parentPath)
        let parent = try Syscall.openDirectory(parentPath)
        defer { Syscall.closeQuietly(parent) }
        Leftovers.sweepStaging(in: parent, parentPath: parentPath, vaultName: name)
        let stagingName = Leftovers.stagingName(of: name, "restore")
        let stagingPath = parentPath + "/" + stagingName
        try Syscall.makeDirectoryAt(parent, stagingName, displayPath: stagingPath)
        var installed = false
        defer { if !installed { removeVaultTree(parent: parent, name: stagingName, path: stagingPath) } }
        let staging = try VaultDirectory(path: stagingPath)
        try Syscall.makeDirectoryAt(staging.fd, VaultLayout.records, displayPath: staging.displayPath(VaultLayout.records))
        var records: [(id: String, bytes: [UInt8])] = []
        for (relative, bytes) in files.contents {
            if relative.hasPrefix(VaultLayout.records + "/") {
                records.append((String(relative.dropFirst(VaultLayout.records.count + 1).dropLast(VaultLayout.recordSuffix.count)), bytes))
            } else {
                try staging.replace(relative, with: bytes)
            }
        }
        // One syncfs for all records rather than three fsyncs each: the
        // staging directory is invisible until the final rename anyway.
        try staging.writeRecords(records)
        try staging.lock(timeout: 0, onWaiting: { _ in }).unlock()
        try Syscall.sync(staging.fd, displayPath: stagingPath)

        // 3. Install: one rename into an absent or empty location, or one
        //    atomic exchange with the old vault, held locked meanwhile.
        if !existing {
            if renameat(parent, stagingName, parent, name) != 0 {
                if errno == ENOTEMPTY || errno == EEXIST { throw VaultError.alreadyExists(path: path) }
                throw Syscall.fail(path, "rename")
            }
            installed = true
            try Syscall.sync(parent, displayPath: parentPath)
        } else {
            let old = try Vault(openingAt: path)
            let lock = try old.directory.lock(timeout: old.lockTimeout, onWaiting: { _ in })
            defer { lock.unlock() }
            if ztoken_rename_exchange(parent, stagingName, parent, name) != 0 { throw Syscall.fail(path, "exchange") }
            installed = true
            try Syscall.sync(parent, displayPath: parentPath)
            // The old vault now sits at the staging name; the swap is durable,
            // so it can go. Removed where it is: if this process dies half
            // way, the name still says whose it was, and the next init,
            // restore or doctor --repair finishes the job.
            removeVaultTree(parent: parent, name: stagingName, path: stagingPath)
            try? Syscall.sync(parent, displayPath: parentPath)
        }
        return BackupSummary(vaultID: files.vaultID, files: files.contents.count, activeTokens: files.activeTokens)
    }

    private static func locationHoldsSomething(_ path: String) throws -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return false }
        if info.st_mode & S_IFMT == S_IFLNK { throw VaultError.symlink(path: path) }
        guard info.st_mode & S_IFMT == S_IFDIR else { return true }
        let fd = try Syscall.openDirectory(path)
        defer { Syscall.closeQuietly(fd) }
        return !(try Syscall.directoryEntries(fd, displayPath: path)).isEmpty
    }

    /// Reads, decrypts and fully checks a backup; returns the vault's files.
    static func readBackup(from input: String, identities: [AgeIdentity]) throws
        -> (vaultID: String, activeTokens: Int, contents: [(String, [UInt8])]) {
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
        var plaintext: [UInt8] = []
        let decryptor = try AgeDecryptor(source: { try Syscall.readSome(fd, $0, displayPath: shown) }, identities: identities, path: shown)
        try decryptor.decryptAll { chunk in
            guard plaintext.count + chunk.count <= backupLimit else {
                throw VaultError.corrupt(path: shown, reason: "backup is larger than \(backupLimit >> 20) MiB")
            }
            plaintext.append(contentsOf: chunk)
        }
        return try checkBackupArchive(plaintext, shown: shown)
    }

    /// Checks a decrypted backup archive whole: the tar, the manifest, every
    /// digest, every vault file's format and every active token's record.
    /// Separate from the decryption so the fuzzer can reach it.
    static func checkBackupArchive(_ plaintext: [UInt8], shown: String) throws
        -> (vaultID: String, activeTokens: Int, contents: [(String, [UInt8])]) {
        if plaintext.isEmpty { throw VaultError.corrupt(path: shown, reason: "empty backup") }
        let entries = try TarArchive.read(SecureBytes(copying: plaintext), displayPath: shown,
                                          limits: .init(maxTotalSize: backupLimit, maxEntryCount: 10_000_000))
        var byPath: [String: [UInt8]] = [:]
        for entry in entries where !entry.isDirectory {
            byPath[entry.path] = entry.contents.withUnsafeBytes { Array($0) }
        }
        guard let manifestBytes = byPath.removeValue(forKey: BackupManifest.path) else {
            throw VaultError.corrupt(path: shown, reason: "not a ztoken backup (no \(BackupManifest.path))")
        }
        let manifest = try VaultJSON.decode(BackupManifest.self, from: manifestBytes, path: shown + ":" + BackupManifest.path,
                                            knownVersions: 1...BackupManifest.currentVersion)
        var contents: [(String, [UInt8])] = []
        for file in manifest.files {
            guard file.path.hasPrefix(BackupManifest.vaultPrefix), let bytes = byPath.removeValue(forKey: file.path) else {
                throw VaultError.corrupt(path: shown, reason: "\(file.path) is listed but missing")
            }
            guard bytes.count == file.size, Hex.encode(Sodium.blake2b256(bytes)) == file.blake2b else {
                throw VaultError.corrupt(path: shown, reason: "\(file.path) does not match its digest")
            }
            contents.append((String(file.path.dropFirst(BackupManifest.vaultPrefix.count)), bytes))
        }
        if let extra = byPath.keys.sorted().first { throw VaultError.corrupt(path: shown, reason: "unlisted file \(extra)") }

        // The vault inside must be one this ztoken would open.
        let files = Dictionary(contents, uniquingKeysWith: { a, _ in a })
        func inside(_ name: String) -> String { shown + ":" + name }
        guard let metadataBytes = files[VaultLayout.metadata] else { throw VaultError.corrupt(path: shown, reason: "no vault.json") }
        let metadata = try decodeMetadata(metadataBytes, path: inside(VaultLayout.metadata))
        if metadata.keyProtection == "passphrase" {
            guard let key = files[VaultLayout.wrappedKey] else { throw VaultError.corrupt(path: shown, reason: "no vault-key.json") }
            _ = try VaultJSON.decode(WrappedKeyFile.self, from: key, path: inside(VaultLayout.wrappedKey), knownVersions: 1...WrappedKeyFile.currentVersion)
        }
        guard let indexBytes = files[VaultLayout.index] else { throw VaultError.corrupt(path: shown, reason: "no index.json") }
        let index = try Index.decode(indexBytes, path: inside(VaultLayout.index))
        var records = Set(files.keys.filter { $0.hasPrefix(VaultLayout.records + "/") })
        for entry in index.tokens where entry.isActive {
            let name = VaultLayout.records + "/" + VaultLayout.recordName(id: entry.id)
            guard let record = files[name], records.remove(name) != nil else {
                throw VaultError.corrupt(path: shown, reason: "no sealed record for active token \(VaultError.quoted(entry.label))")
            }
            _ = try RecordFormat.decode(record, path: inside(name))
        }
        if let stray = records.first { throw VaultError.corrupt(path: shown, reason: "\(stray) belongs to no active token") }
        if let unknown = files.keys.first(where: { ![VaultLayout.metadata, VaultLayout.wrappedKey, VaultLayout.index].contains($0) && !$0.hasPrefix(VaultLayout.records + "/") }) {
            throw VaultError.corrupt(path: shown, reason: "unexpected file \(unknown)")
        }
        return (metadata.vaultID, manifest.activeTokens, contents)
    }

    /// Removes a vault-shaped tree this process owns (top files, records/*).
    static func removeVaultTree(parent: Int32, name: String, path: String) {
        // Records an older ztoken moved aside for its background remover go with the vault.
        if let vault = try? Syscall.openDirectory(path) {
            for entry in (try? Syscall.directoryEntries(vault, displayPath: path)) ?? []
            where entry.hasPrefix(VaultDirectory.legacyRevokedPrefix) {
                VaultDirectory.removeLegacyRevokedRecords(named: entry, in: vault, displayPath: path + "/" + entry)
            }
            Syscall.closeQuietly(vault)
        }
        if let records = try? Syscall.openDirectory(path + "/" + VaultLayout.records) {
            for entry in (try? Syscall.directoryEntries(records, displayPath: path)) ?? [] {
                try? Syscall.unlinkAt(records, entry, displayPath: path)
            }
            Syscall.closeQuietly(records)
        }
        Directories.removeStaging(parent: parent, name: name, path: path)
    }
}
