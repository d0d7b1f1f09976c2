// zBot bundles: `zbot` mints a token for an agent and writes its
// configuration at once (the plaintext is still in memory, so no passphrase);
// `export` opens an active token's sealed record to write it again. The
// destination is prepared before anything changes, so an existing output is
// refused first; if writing fails after `zbot` created its token, the token is
// discarded again, so a failed `zbot` leaves the vault as it was. A bundle is
// written under the vault lock that checked its token (docs/SPEC.md §10), so
// no revocation lands between the check and the write: once `revoke` has
// succeeded, no bundle of the token is written any more.

/// Where a bundle goes.
public enum BundleDestination {
    /// Encrypted with age to these recipients, into a prepared output file;
    /// with `armored`, in age's ASCII armor (`age -a`), which may be shown on a terminal.
    case encrypted(recipients: [AgeRecipient], output: OutputFile, armored: Bool = false)
    /// Unencrypted files under a directory (0700 directories, 0600 files).
    case plainDirectory(path: String, overwrite: Bool)

    /// Where the bundle went, in words, for the vault's history.
    var summary: String {
        switch self {
        case .encrypted(let recipients, _, _):
            "encrypted to \(recipients.count) recipient\(recipients.count == 1 ? "" : "s")"
        case .plainDirectory: "unencrypted, to a directory"
        }
    }

    /// Refuses an existing plain configuration before any work is done.
    public func checkWritable() throws {
        if case .plainDirectory(let path, let overwrite) = self, !overwrite {
            try PlainDirectory.refuseExisting([ZBotBundle.propertiesPath, ZBotBundle.manifestPath], under: path)
        }
    }
}

extension Vault {
    /// The server URL a bundle will name: the one given, else the vault's default.
    public func bundleServerURL(_ given: String?) throws -> String {
        guard let url = given ?? defaultServerURL else {
            throw VaultError.invalidArgument(
                "no server URL for the zBot",
                hint: "give the zBot's server URL, or set a default server URL for the vault")
        }
        return try ServerURL.validate(url)
    }

    /// Mints a `zbot` token labelled `name` (with an optional note and
    /// expiry time, as `create` takes them) and writes its bundle before the
    /// vault lock is released, so the token cannot be revoked before its
    /// bundle is written. If the bundle cannot be written, the token is
    /// discarded again under the same lock.
    public func createZBot(
        name: String, serverURL: String?, template: BundleTemplate?,
        destination: BundleDestination, note: String? = nil, expiresAt: Int64? = nil
    ) throws -> TokenInfo {
        let url = try bundleServerURL(serverURL)
        try destination.checkWritable()
        let created = try create(
            label: name, kind: .zbot, importing: nil, agentName: name, serverURL: url, note: note,
            expiresAt: expiresAt
        ) { new in
            try writeBundle(for: new.info, token: new.token, serverURL: url, template: template, to: destination)
        }
        return created.info
    }

    /// Writes the bundle of an existing active token again (not of a
    /// revoked or expired one: see `activeToken`). The token's state is
    /// checked, the `export` event recorded and the bundle written under one
    /// vault lock, so a `revoke` waits for the bundle rather than slip in
    /// before it. With an output on standard output, the lock is held until
    /// the reader has taken the bundle.
    public func exportZBot(
        reference: String, key: VaultKey, serverURL: String?, template: BundleTemplate?,
        destination: BundleDestination
    ) throws -> TokenInfo {
        let checked = try activeToken(reference)
        let url = try bundleServerURL(serverURL ?? checked.serverURL)
        try destination.checkWritable()
        return try withWriteLock { index in
            // Another writer may have revoked it, or it may have expired,
            // since it was resolved.
            guard let position = index.position(ofID: checked.id), index.tokens[position].isActive else {
                throw VaultError.noSuchToken(reference)
            }
            let entry = index.tokens[position]
            let info = TokenInfo(entry)
            if info.state == .expired {
                throw VaultError.tokenExpired(label: info.label, id: info.id, expiresAt: info.expiresAt ?? "")
            }
            let token = try openRecord(of: entry, with: key)
            // Recorded before the bundle is written: the log may name an
            // export a crash cut short, never miss one that happened.
            try record([HistoryEvent(.export, entry, detail: destination.summary)], in: index)
            try writeBundle(for: info, token: token, serverURL: url, template: template, to: destination)
            return info
        }
    }

    /// Opens the vault key of an offline-key vault from age identity files.
    public func unlock(identityFiles: [String]) throws -> VaultKey {
        let secret = try OfflineKey.vaultKey(fromIdentityFiles: identityFiles, publicKey: publicKey)
        return try VaultKey(
            secretKey: secret, expectedPublicKey: publicKey, source: identityFiles.joined(separator: ", "))
    }

    func writeBundle(
        for info: TokenInfo, token: SecureBytes, serverURL: String, template: BundleTemplate?,
        to destination: BundleDestination
    ) throws {
        let createdAt = RFC3339.parse(info.createdAt) ?? 0
        let bundle = try ZBotBundle(
            name: info.agentName ?? info.label, serverURL: serverURL, token: token, template: template,
            vaultID: vaultID, tokenID: info.id, label: info.label, kind: info.kind.rawValue,
            createdAt: createdAt, modificationTime: Int64(Clock.seconds()))
        switch destination {
        case .plainDirectory(let path, let overwrite):
            try PlainDirectory.write(bundle.files(), to: path, overwrite: overwrite)
        case .encrypted(let recipients, let output, let armored):
            let encryptor = try AgeEncryptor(recipients: recipients, armored: armored) { try output.write($0) }
            try bundle.tarPayload().withUnsafeBytes { try encryptor.write($0) }
            try encryptor.finish()
            try output.commit()
        }
    }
}
