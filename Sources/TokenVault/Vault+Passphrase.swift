// `passwd`: a new passphrase (and Argon2id cost) for the vault secret key,
// and with `rekey` a new key pair. Everything a new passphrase changes (salt,
// KDF parameters, wrapped key) is in vault-key.json (version 2), so the change
// is one atomic rename: a crash leaves the old passphrase or the new one
// working, never neither. A vault of the version 1 layout (parameters in
// vault.json) is upgraded by its first passwd: the new key file first (the
// switch), then vault.json without parameters; between the two, the key
// file's parameters are the ones read. A rekey changes vault.json, the key
// file and every record together, so it builds a whole new vault beside the
// old one and swaps the two in one renameat2(RENAME_EXCHANGE), as restore does.
#if canImport(Glibc)
import Glibc
#endif

/// What `Vault.changePassphrase` did.
public struct PassphraseChange: Sendable {
    /// True when the vault got a new key pair and every record was sealed to it.
    public let rekeyed: Bool
    /// How many sealed records were sealed again (rekey only).
    public let resealedRecords: Int
    /// Set when the new passphrase took effect but rewriting vault.json in
    /// the version 2 layout failed afterwards. The vault opens with the new
    /// passphrase; the next `passwd` retries the rewrite.
    public let unfinishedUpgrade: VaultError?
}

extension Vault {
    /// Replaces the passphrase `old` with `new`; with `level`, the Argon2id
    /// cost too (up or down: the user holds the passphrase), else the cost
    /// stays. With `rekey`, also a new key pair: every record is opened with
    /// the old secret key and sealed to the new public key. Throws
    /// `.wrongPassphrase` (77) for a wrong `old`, changing nothing. A failure
    /// after the new key file (with `rekey`, the new vault) took the old
    /// one's place throws `.newPassphraseInEffect` or `.rekeyedDespiteFailure`
    /// (the new passphrase is in effect) or `.keyFileNotPutBack` (it may be).
    ///
    /// After a rekey this `Vault` is of the replaced directory: open the
    /// vault again to use it.
    public func changePassphrase(
        from old: SecureBytes, to new: SecureBytes, kdf level: KDFLevel? = nil, rekey: Bool = false
    ) throws -> PassphraseChange {
        guard !isOfflineKey else {
            throw VaultError.invalidArgument(
                "this vault keeps its secret key offline, so it has no passphrase to change")
        }
        return try withWriteLock { index in
            // Both files as they are now, under the lock: another passwd may
            // have changed them since this vault was opened.
            let metadataPath = directory.displayPath(VaultLayout.metadata)
            let keyPath = directory.displayPath(VaultLayout.wrappedKey)
            guard let metadataBytes = try directory.read(VaultLayout.metadata) else {
                throw VaultError.corrupt(path: metadataPath, reason: "missing")
            }
            let metadata = try Self.decodeMetadata(metadataBytes, path: metadataPath)
            guard let keyBytes = try directory.read(VaultLayout.wrappedKey) else {
                throw VaultError.corrupt(path: keyPath, reason: "missing")
            }
            let (file, kdf, kdfPath) = try KeyWrap.decodeKeyFile(
                keyBytes, metadata: metadata, metadataPath: metadataPath, keyPath: keyPath)
            let vaultPublicKey = Base64.decode(metadata.publicKey) ?? []
            let secret = try KeyWrap.unwrap(
                file, kdf: kdf, passphrase: old,
                associatedData: KeyWrap.associatedData(vaultID: metadata.vaultID, publicKey: vaultPublicKey),
                metadataPath: kdfPath, keyPath: keyPath, beforeSlowDerivation: onSlowKeyDerivation)
            let key = try VaultKey(secretKey: secret, expectedPublicKey: vaultPublicKey, source: keyPath)
            let cost = level.map(KeyWrap.limits(for:)) ?? (kdf.opsLimit, kdf.memLimit)
            if rekey {
                let count = try replaceKeyPair(
                    index: index, metadata: metadata, oldKey: key, passphrase: new, cost: cost, level: level)
                return PassphraseChange(rekeyed: true, resealedRecords: count, unfinishedUpgrade: nil)
            }

            let wrapped = try KeyWrap.wrap(
                secret, passphrase: new, ops: cost.0, mem: cost.1,
                associatedData: KeyWrap.associatedData(vaultID: metadata.vaultID, publicKey: vaultPublicKey))
            let newKeyBytes = try VaultJSON.encode(wrapped)
            try record([HistoryEvent(.passwd, detail: Self.passwdDetail(level, rekeyed: nil))], in: index)
            do {
                // The one step that switches passphrases.
                try directory.replace(VaultLayout.wrappedKey, with: newKeyBytes)
            } catch {
                try putBackKeyFile(keyBytes, over: newKeyBytes, after: error)
            }
            var unfinished: VaultError?
            if metadata.version < MetadataFile.currentVersion {
                var upgraded = metadata
                upgraded.version = MetadataFile.currentVersion
                upgraded.kdf = nil
                do {
                    try directory.replace(VaultLayout.metadata, with: VaultJSON.encode(upgraded))
                } catch let error as VaultError {
                    unfinished = error
                }
            }
            return PassphraseChange(rekeyed: false, resealedRecords: 0, unfinishedUpgrade: unfinished)
        }
    }

    /// After replacing the key file failed with `failure`: a failed directory
    /// fsync comes after the rename, so the new file (`newBytes`) may be in
    /// place. Puts the old one (`oldBytes`) back, so that a failed passwd
    /// leaves the old passphrase, and throws `failure`. When that fails too,
    /// the file read back tells which passphrase is in effect: the old one
    /// (`failure`), the new one (`.newPassphraseInEffect`), or, unreadable,
    /// either (`.keyFileNotPutBack`).
    private func putBackKeyFile(_ oldBytes: [UInt8], over newBytes: [UInt8], after failure: Error) throws -> Never {
        do {
            try directory.replace(VaultLayout.wrappedKey, with: oldBytes)
        } catch {
            let current = try? directory.read(VaultLayout.wrappedKey)
            if current == oldBytes { throw failure }
            let path = directory.displayPath(VaultLayout.wrappedKey)
            let cause = VaultError.cause(failure)
            if current == newBytes { throw VaultError.newPassphraseInEffect(path: path, cause: cause) }
            throw VaultError.keyFileNotPutBack(path: path, cause: cause)
        }
        throw failure
    }

    /// The log's words for a passwd.
    static func passwdDetail(_ level: KDFLevel?, rekeyed: Int?) -> String {
        var detail = "passphrase changed"
        if let level { detail += "; key derivation \(level.rawValue)" }
        if let rekeyed { detail += "; new key pair, \(rekeyed) record\(rekeyed == 1 ? "" : "s") sealed again" }
        return detail
    }

    /// Builds the rekeyed vault in a staging directory beside this one (every
    /// active record sealed to a new key pair, the index as it is, vault.json
    /// with the new public key, the new key file), makes it durable, then
    /// swaps it in with one exchange and deletes the old vault, which now
    /// sits at the staging name. A crash before the exchange leaves the old
    /// vault and a staging directory; after it, the new vault and the old one
    /// at the staging name. Either leftover carries this process's pid, so
    /// `doctor --repair` (and the next init, restore or rekey) removes it.
    /// A failure after the exchange (the parent's fsync, deleting the old
    /// vault) throws `.rekeyedDespiteFailure`: the new key pair is live.
    /// Writers that waited for the old vault's lock stop with "run again".
    private func replaceKeyPair(
        index: Index, metadata: MetadataFile, oldKey: VaultKey, passphrase: SecureBytes,
        cost: (UInt64, Int), level: KDFLevel?
    ) throws -> Int {
        let (parentPath, name) = try Directories.splitParent(of: path)
        let stage = try Staging(parentPath: parentPath, name: name, purpose: "rekey")
        defer { stage.remove() }
        let (newPublicKey, newSecretKey) = Sodium.boxKeyPair()
        var resealed = 0
        for entry in index.tokens where entry.isActive {
            let token = try openRecord(of: entry, with: oldKey)
            try stage.writeRecord(id: entry.id, RecordFormat.encode(try Sodium.seal(token, to: newPublicKey)))
            resealed += 1
        }
        var rekeyed = metadata
        rekeyed.version = MetadataFile.currentVersion
        rekeyed.kdf = nil
        rekeyed.publicKey = Base64.encode(newPublicKey)
        let wrapped = try KeyWrap.wrap(
            newSecretKey, passphrase: passphrase, ops: cost.0, mem: cost.1,
            associatedData: KeyWrap.associatedData(vaultID: metadata.vaultID, publicKey: newPublicKey))
        // The new vault's history is the old one's and this event.
        var log = try committedLog(of: index).bytes
        let (lines, anchor) = EventLog.append(
            [HistoryEvent(.passwd, detail: Self.passwdDetail(level, rekeyed: resealed))], after: index.log,
            index: index, vaultID: vaultID)
        log += lines
        var changed = index
        changed.anchor(at: anchor)
        try stage.finish(
            metadata: VaultJSON.encode(rekeyed), wrappedKey: VaultJSON.encode(wrapped), log: log,
            index: changed.encoded())
        try stage.adoptRepository()
        do {
            try stage.exchangeReplacingVault()
        } catch {
            stage.returnRepository()
            throw error
        }
        // From here the new vault is in place: a failure must not read as a
        // passwd that changed nothing.
        try stage.finishInstalling { .rekeyedDespiteFailure(path: path, cause: $0, leftover: stage.path) }
        return resealed
    }
}
