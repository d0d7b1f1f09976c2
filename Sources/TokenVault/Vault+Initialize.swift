// Making a new vault. The whole vault is built in a private temp directory
// beside the target and renamed into place in one step, so an interrupted
// `init` never leaves a half-made vault at the location: there is either no
// vault or a complete one. An existing non-empty location is never touched.
#if canImport(Glibc)
import Glibc
#endif

/// What `Vault.initialize` needs to make a vault.
public struct VaultSetup: Sendable {
    /// How the vault secret key is protected.
    public enum KeyProtection: Sendable {
        /// Wrapped with a key derived from this passphrase (Argon2id).
        case passphrase(SecureBytes)
        /// Written to this file as an age identity and kept nowhere in the vault.
        case offline(identityPath: String)
    }

    /// The user the vault is for, recorded in its metadata.
    public var user: String
    /// The default server URL for zBot bundles, or nil to give one each time.
    public var serverURL: String?
    /// The cost of deriving the key from the passphrase; ignored for an offline key.
    public var kdf: KDFLevel
    /// How the vault secret key is kept.
    public var keyProtection: KeyProtection

    /// Describes a vault to make; `kdf` defaults to ``KDFLevel/moderate``.
    public init(user: String, serverURL: String? = nil, kdf: KDFLevel = .moderate, keyProtection: KeyProtection) {
        self.user = user
        self.serverURL = serverURL
        self.kdf = kdf
        self.keyProtection = keyProtection
    }
}

extension Vault {
    /// Makes a new vault at `path` (which must not exist, or be an empty
    /// directory) and opens it. Parent directories are created 0700.
    public static func initialize(at path: String, setup: VaultSetup) throws -> Vault {
        let (parentPath, name) = try Directories.splitParent(of: path)
        try Directories.make(parentPath)
        let parent = try Syscall.openDirectory(parentPath)
        defer { Syscall.closeQuietly(parent) }
        try refuseExistingVault(in: parent, name: name, path: path)
        Leftovers.sweepStaging(in: parent, parentPath: parentPath, vaultName: name)

        let vaultID = TokenID.make() + TokenID.make()
        let (publicKey, secretKey) = Sodium.boxKeyPair()
        var metadata = MetadataFile(
            version: MetadataFile.currentVersion, vaultID: vaultID, createdAt: Clock.now(), user: setup.user,
            serverURL: setup.serverURL, publicKey: Base64.encode(publicKey), keyProtection: "passphrase", kdf: nil)
        var wrappedKey: WrappedKeyFile?
        switch setup.keyProtection {
        case .passphrase(let passphrase):
            wrappedKey = try KeyWrap.wrap(
                secretKey, passphrase: passphrase, level: setup.kdf,
                associatedData: KeyWrap.associatedData(vaultID: vaultID, publicKey: publicKey))
        case .offline(let identityPath):
            metadata.keyProtection = "offline"
            try OfflineKey.writeIdentity(secretKey, to: identityPath)
        }

        // A failure before the vault is in place must not leave behind the
        // secret key of a vault that was never made.
        var installed = false
        defer {
            if !installed, case .offline(let identityPath) = setup.keyProtection { unlink(identityPath) }
        }
        let tempName = Leftovers.stagingName(of: name, "init")
        let tempPath = parentPath + "/" + tempName
        try Syscall.makeDirectoryAt(parent, tempName, displayPath: tempPath)
        do {
            let staging = try VaultDirectory(path: tempPath)
            try staging.replace(VaultLayout.metadata, with: VaultJSON.encode(metadata))
            if let wrappedKey { try staging.replace(VaultLayout.wrappedKey, with: VaultJSON.encode(wrappedKey)) }
            var index = Index()
            let (log, anchor) = EventLog.append(
                [HistoryEvent(.initialize, detail: "vault \(vaultID) of \(VaultError.quoted(setup.user))")],
                after: nil, index: index, vaultID: vaultID)
            try staging.appendLog(log, committed: 0, head: nil)
            index.anchor(at: anchor)
            try staging.replace(VaultLayout.index, with: index.encoded())
            try Syscall.makeDirectoryAt(
                staging.fd, VaultLayout.records, displayPath: staging.displayPath(VaultLayout.records))
            try staging.lock(timeout: 0, onWaiting: { _ in }).unlock()
            try Syscall.sync(staging.fd, displayPath: tempPath)
            try Directories.renameIntoPlace(tempName, as: name, in: parent, path: path)
            installed = true
            try Syscall.sync(parent, displayPath: parentPath)
        } catch {
            if !installed {
                try? Directories.removeTree(parent: parent, name: tempName, path: tempPath, keepingRepository: false)
            }
            throw error
        }
        return try Vault(openingAt: path)
    }

    static func refuseExistingVault(in parent: Int32, name: String, path: String) throws {
        var info = stat()
        guard fstatat(parent, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFLNK { throw VaultError.symlink(path: path) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw VaultError.alreadyExists(path: path) }
        let fd = try Syscall.openDirectory(path)
        defer { Syscall.closeQuietly(fd) }
        if !(try Syscall.directoryEntries(fd, displayPath: path)).isEmpty { throw VaultError.alreadyExists(path: path) }
    }

}

/// Offline-key mode: the vault secret key as an age identity file.
enum OfflineKey {
    /// Writes the identity file (0600), refusing to replace an existing file,
    /// before the vault exists: a crash leaves at worst an unused key file.
    static func writeIdentity(_ secretKey: SecureBytes, to path: String) throws {
        let identity = AgeX25519Identity(secretKey: secretKey)
        try OutputFile.write(AgeKeyFile.render(identity), to: path, overwrite: false)
    }

    /// Reads the vault key from identity files given with -i.
    static func vaultKey(fromIdentityFiles paths: [String], publicKey: [UInt8]) throws -> SecureBytes {
        for path in paths {
            for identity in try AgeKeyFile.parseIdentities(try SecretInput.readFile(path, isSecret: true), path: path) {
                if identity.recipient.publicKey == publicKey { return identity.secretKey }
            }
        }
        throw VaultError.wrongIdentity(path: paths.joined(separator: ", "))
    }
}
