// `rotate`: a replacement for an active token under the same label, kind and
// zBot settings. The new record is written and made durable first; then ONE
// index rewrite revokes the old token and adds the new one (linked both ways
// by `rotatedTo` / `rotatedFrom`), so after a crash at any instant exactly
// one token under that label is active, the old or the new; then the old
// record is deleted (the order of docs/SPEC.md §9). The new entry carries
// `neverDisplayed` until the caller has shown the token and calls
// `markDisplayed`: a rotation interrupted in between leaves a token nobody
// has, which `show` can name and a second rotate replaces. A zBot token's
// new bundle is written in `rotate(…showing:)`, before the vault lock that
// made the token is released, so no revocation lands between the two.

/// A rotation: the replacement, shown once, and the token it replaced.
public struct RotatedToken: Sendable {
    /// The new token, with its plaintext this once.
    public let created: CreatedToken
    /// The old token, as revoked.
    public let replaced: TokenInfo
}

extension Vault {
    /// Mints a replacement for the active token `reference` and revokes the
    /// old one in the same atomic index rewrite. The new token is durable
    /// before this returns; show it, then call `markDisplayed`. For a zBot
    /// token, `serverURL` (already checked) replaces the one it had. An
    /// expired token may be rotated (that is what it waits for). The new
    /// token expires at `expiresAt` (seconds since 1970) if given, else
    /// after the old token's lifetime, counted from now.
    public func rotate(reference: String, serverURL: String? = nil, expiresAt: Int64? = nil) throws -> RotatedToken {
        try rotate(reference: reference, serverURL: serverURL, expiresAt: expiresAt, showing: { _ in })
    }

    /// Rotates as ``rotate(reference:serverURL:expiresAt:)`` does, then runs
    /// `show` with the rotation before the vault lock is released, so no
    /// revocation can come between the new token's creation and `show`:
    /// write a zBot token's new bundle there, with
    /// ``writeBundle(of:serverURL:template:to:)``. If `show` throws, the
    /// rotation stands (the new token stays active, marked never displayed)
    /// and the error is rethrown. `show` must not call another writer of
    /// this vault: it would wait for the lock this call holds. Call
    /// `markDisplayed` after this returns.
    public func rotate(
        reference: String, serverURL: String? = nil, expiresAt: Int64? = nil,
        showing show: (RotatedToken) throws -> Void
    ) throws -> RotatedToken {
        guard let old = try resolve([reference]).first, old.state == .active || old.state == .expired else {
            throw VaultError.noSuchToken(reference)
        }
        let expiry = try expiresAt.map(Self.checkedExpiry)
        let token = TokenFormat.mint()
        let digest = TokenFormat.digest(of: token)
        let record = RecordFormat.encode(try Sodium.seal(token, to: publicKey))

        return try withWriteLock { index in
            try Self.checkStillFuture(expiresAt)
            // Another writer may have revoked or rotated it since it was resolved.
            guard let position = index.position(ofID: old.id), index.tokens[position].isActive else {
                throw VaultError.noSuchToken(reference)
            }
            let previous = index.tokens[position]
            let now = Clock.now()
            let id = index.newID()
            var entry = Index.Entry(
                id: id, label: previous.label, kind: previous.kind, createdAt: now,
                last4: TokenFormat.lastFour(of: token), digest: digest, state: .active,
                agent: previous.agent, serverURL: previous.kind == .zbot ? serverURL ?? previous.serverURL : nil)
            entry.note = previous.note
            entry.rotatedFrom = previous.id
            entry.neverDisplayed = true
            entry.expiresAt = expiry ?? Self.carriedLifetime(of: previous, from: now)
            var changed = index
            changed.tokens[position].state = .revoked
            changed.tokens[position].revokedAt = now
            changed.tokens[position].rotatedTo = id
            changed.tokens.append(entry)
            // On failure the old token stays active: the label has one token.
            try addRecord(
                id: id, record, replacing: index, with: changed,
                events: [HistoryEvent(.rotate, entry, replacedID: previous.id)])
            // The rotation is committed: a record left by a failed unlink is
            // garbage `doctor --repair` removes, and must not hide the new
            // token from the caller, who alone can show it.
            try? directory.removeRecords(ids: [previous.id])
            let rotated = RotatedToken(
                created: CreatedToken(info: TokenInfo(entry), token: token),
                replaced: TokenInfo(changed.tokens[position]))
            try show(rotated)
            return rotated
        }
    }

    /// Writes the bundle of a token just made (by `rotate`), whose
    /// plaintext is still in memory. Check the destination and the server
    /// URL (`checkWritable`, `bundleServerURL`) before making the token, and
    /// call this in the `show` closure of
    /// ``rotate(reference:serverURL:expiresAt:showing:)``, so the bundle is
    /// written before the vault lock is released.
    public func writeBundle(
        of created: CreatedToken, serverURL: String, template: BundleTemplate?, to destination: BundleDestination
    ) throws {
        try writeBundle(
            for: created.info, token: created.token, serverURL: serverURL, template: template, to: destination)
    }

    /// Records that a rotated token has been shown: clears its
    /// `neverDisplayed` mark, if the entry is still that token's.
    public func markDisplayed(_ created: CreatedToken) throws {
        let digest = TokenFormat.digest(of: created.token)
        try withWriteLock { index in
            guard let position = index.position(ofID: created.info.id), index.tokens[position].digest == digest,
                index.tokens[position].neverDisplayed == true
            else { return }
            var changed = index
            changed.tokens[position].neverDisplayed = nil
            try writeIndex(changed)
        }
    }

    /// The expiry of a replacement created at `now`: the old token's
    /// lifetime (expires-at minus created-at) counted from `now`, or none
    /// for a token that never expired.
    static func carriedLifetime(of old: Index.Entry, from now: String) -> String? {
        guard let expires = old.expiresAt.flatMap(RFC3339.parse), let created = RFC3339.parse(old.createdAt),
            let start = RFC3339.parse(now)
        else { return nil }
        return RFC3339.format(secondsSince1970: min(start + max(expires - created, 1), Expiry.latest))
    }
}
