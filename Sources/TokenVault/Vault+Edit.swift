// Changing what the vault knows about a token without touching its secret:
// its label, its note, its expiry; and the vault's settings (the default zBot
// server URL). Each writer checks its input before taking the lock, then,
// under the lock, finds the token again in the index as it is on disk and
// replaces the index (or vault.json) whole and atomically (docs/SPEC.md §9):
// a crash leaves the old file or the new one, never a mix.

extension Vault {
    // MARK: Finding one token

    /// The token `reference` names, in any state: an id, the label of a
    /// token not revoked, else the label of a revoked token. Several revoked
    /// tokens with that label (and none not revoked) are refused as ambiguous.
    public func token(_ reference: String) throws -> TokenInfo {
        do {
            return try resolve([reference])[0]
        } catch VaultError.noSuchToken(let name) {
            let label = reference.trimmingWhitespace()
            let matches = try readIndex().tokens.filter { !$0.isActive && $0.label == label }
            guard let first = matches.first else { throw VaultError.noSuchToken(name) }
            guard matches.count == 1 else {
                throw VaultError.invalidArgument(
                    "\(matches.count) revoked tokens are labelled \(VaultError.quoted(label))",
                    hint: "use the id of the one you mean")
            }
            return TokenInfo(first)
        }
    }

    /// The token `reference` names (as `resolve` finds it), which must be
    /// usable: a revoked token is `.noSuchToken`, an expired one `.tokenExpired`.
    public func activeToken(_ reference: String) throws -> TokenInfo {
        let info = try resolve([reference])[0]
        switch info.state {
        case .active: return info
        case .revoked: throw VaultError.noSuchToken(reference)
        case .expired:
            throw VaultError.tokenExpired(label: info.label, id: info.id, expiresAt: info.expiresAt ?? "")
        }
    }

    // MARK: Label, note, expiry

    /// Gives the token with this id (in any state) a new label. The label
    /// follows `LabelRules` and must not be held by another token that is
    /// not revoked. Returns the token as it now is.
    @discardableResult
    public func rename(id: String, to rawLabel: String) throws -> TokenInfo {
        let label = try LabelRules.validated(rawLabel)
        return try changeEntry(id: id) { entry, index in
            if entry.isActive, entry.label != label { try Self.checkLabelIsFree(label, in: index) }
            let old = entry.label
            entry.label = label
            return HistoryEvent(.rename, entry, detail: "was \(VaultError.quoted(old))")
        }
    }

    /// Sets the note of the token with this id (in any state), or removes it
    /// with nil. The note follows `NoteRules`.
    @discardableResult
    public func setNote(id: String, to rawNote: String?) throws -> TokenInfo {
        let note = try rawNote.map(NoteRules.validated)
        return try changeEntry(id: id) { entry, _ in
            entry.note = note
            return HistoryEvent(.note, entry, detail: note == nil ? "note cleared" : "note set")
        }
    }

    /// Sets when the token with this id expires (seconds since 1970, from
    /// `Expiry.deadline`), or with nil makes it never expire. Only an active
    /// token's expiry changes: a revoked one is `.noSuchToken`, and an expired
    /// one `.tokenExpired`, since expiry, like revocation, is never undone.
    @discardableResult
    public func setExpiry(id: String, to expiresAt: Int64?) throws -> TokenInfo {
        let expiry = try expiresAt.map(Self.checkedExpiry)
        return try changeEntry(id: id) { entry, _ in
            let now = Int64(Clock.seconds())
            guard entry.isActive else { throw VaultError.noSuchToken(id) }
            guard !entry.isExpired(at: now) else {
                throw VaultError.tokenExpired(label: entry.label, id: entry.id, expiresAt: entry.expiresAt ?? "")
            }
            try Self.checkStillFuture(expiresAt)
            entry.expiresAt = expiry
            return HistoryEvent(.expire, entry, detail: expiry.map { "expires \($0)" } ?? "never expires")
        }
    }

    /// Runs `change` on the entry with `id` under the write lock and, if the
    /// entry changed, commits the index with the event `change` returns.
    /// Unknown ids are `.noSuchToken`.
    private func changeEntry(
        id: String, _ change: (inout Index.Entry, Index) throws -> HistoryEvent
    ) throws -> TokenInfo {
        try withWriteLock { index in
            guard let position = index.position(ofID: id) else { throw VaultError.noSuchToken(id) }
            var changed = index
            let event = try change(&changed.tokens[position], index)
            if changed != index { try commit(changed, over: index, events: [event]) }
            return TokenInfo(changed.tokens[position])
        }
    }

    /// Throws unless `label` is allowed and free now, as `create` would
    /// check it: a cheap check a command makes before it asks for anything.
    /// `create` checks again under the vault lock.
    public func checkNewLabel(_ label: String) throws {
        try Self.checkLabelIsFree(try LabelRules.validated(label), in: try readIndex())
    }

    /// Throws unless `label` is free: held by no token that is not revoked.
    /// An expired token holds its label until it is revoked or rotated.
    static func checkLabelIsFree(_ label: String, in index: Index) throws {
        guard let position = index.activePosition(ofLabel: label) else { return }
        if index.tokens[position].isExpired(at: Int64(Clock.seconds())) {
            throw VaultError.labelOfExpiredToken(label)
        }
        throw VaultError.labelInUse(label)
    }

    /// Under the lock: a deadline checked before it may have passed while
    /// waiting for it, and a token must not be stored already expired.
    static func checkStillFuture(_ expiresAt: Int64?) throws {
        if let expiresAt, expiresAt <= Int64(Clock.seconds()) {
            throw VaultError.invalidArgument("the expiry time \(Expiry.format(expiresAt)) is no longer in the future")
        }
    }

    /// The stored form of an expiry time, refusing one not in the future.
    static func checkedExpiry(_ seconds: Int64) throws -> String {
        guard seconds > Int64(Clock.seconds()) else {
            throw VaultError.invalidArgument("the expiry time \(Expiry.format(seconds)) is not in the future")
        }
        guard seconds <= Expiry.latest else {
            throw VaultError.invalidArgument("an expiry time must be before the year 10000")
        }
        return Expiry.format(seconds)
    }

    // MARK: Settings

    /// Sets the default server URL for zBots (checked as `ServerURL.validate`
    /// does) by rewriting vault.json under the lock, as read under it.
    public func setDefaultServerURL(_ url: String) throws {
        let checked = try ServerURL.validate(url)
        try withWriteLock { index in
            let path = directory.displayPath(VaultLayout.metadata)
            guard let bytes = try directory.read(VaultLayout.metadata) else {
                throw VaultError.corrupt(path: path, reason: "missing")
            }
            var file = try Self.decodeMetadata(bytes, path: path)
            guard file.serverURL != checked else { return }
            file.serverURL = checked
            try record([HistoryEvent(.config, detail: "default server URL \(checked)")], in: index)
            try directory.replace(VaultLayout.metadata, with: VaultJSON.encode(file))
        }
    }
}
