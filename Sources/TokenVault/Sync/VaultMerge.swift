// ztoken's own merge of two states of one vault (this machine's and a
// remote's), the rules of docs/SPEC.md §10 "Merging two machines' vaults":
// tokens made on either side are kept; a revocation on either side wins; a
// label, note or expiry changed differently on both sides takes the later
// change by the log's event time; two tokens not revoked under one label
// are both kept, the later renamed `LABEL~2`; vault settings changed on both
// sides take the later change; another vault id or public key is refused.
// The logs join into one history (EventLog.swift): this side's lines, then
// the other side's lines this side does not have, then a `merge` line
// naming both heads, then an event for each decision the merge took.
// Pure: it reads and writes no file, so it can be checked on its own.

/// One side of a merge, as read and checked.
struct VaultState {
    var metadataBytes: [UInt8]
    var metadata: MetadataFile
    var keyBytes: [UInt8]?
    var index: Index
    var logBytes: [UInt8]
    var lines: [EventLog.Line]
    /// Sealed records by token id (only those the merge may need).
    var records: [String: [UInt8]]

    /// Reads a vault's files (path → bytes, as in a git tree) with the
    /// strict readers of every command: schema and limits, the log's links
    /// and anchor, and its replay against the index. `shown` names the
    /// source in errors.
    init(files: [String: [UInt8]], shown: String) throws {
        func path(_ name: String) -> String { shown + ":" + name }
        guard let metadataBytes = files[VaultLayout.metadata] else {
            throw VaultError.corrupt(path: shown, reason: "no \(VaultLayout.metadata)")
        }
        self.metadataBytes = metadataBytes
        metadata = try Vault.decodeMetadata(metadataBytes, path: path(VaultLayout.metadata))
        keyBytes = files[VaultLayout.wrappedKey]
        if metadata.keyProtection == "passphrase" {
            guard let keyBytes else { throw VaultError.corrupt(path: shown, reason: "no \(VaultLayout.wrappedKey)") }
            _ = try KeyWrap.decodeKeyFile(
                keyBytes, metadata: metadata, metadataPath: path(VaultLayout.metadata),
                keyPath: path(VaultLayout.wrappedKey))
        }
        guard let indexBytes = files[VaultLayout.index] else {
            throw VaultError.corrupt(path: shown, reason: "no \(VaultLayout.index)")
        }
        index = try Index.decode(indexBytes, path: path(VaultLayout.index))
        guard let anchor = index.log else {
            throw VaultError.corrupt(path: path(VaultLayout.index), reason: "it has no log; sync needs one")
        }
        logBytes = files[VaultLayout.log] ?? []
        lines = try EventLog.checked(
            logBytes[...], anchor: anchor, vaultID: metadata.vaultID, path: path(VaultLayout.log),
            replayingAgainst: index)
        var records: [String: [UInt8]] = [:]
        for (name, bytes) in files where name.hasPrefix(VaultLayout.records + "/") {
            guard let id = VaultLayout.recordID(fromName: String(name.dropFirst(VaultLayout.records.count + 1))) else {
                continue
            }
            _ = try RecordFormat.decode(bytes, path: path(name))
            records[id] = bytes
        }
        for entry in index.tokens where entry.isActive && records[entry.id] == nil {
            throw VaultError.corrupt(
                path: shown, reason: "no sealed record for active token \(VaultError.quoted(entry.label))")
        }
        self.records = records
    }
}

/// What a merge decided.
struct MergeResult {
    var index: Index
    var metadataBytes: [UInt8]
    var keyBytes: [UInt8]?
    /// The lines to append to this side's log (with their newlines).
    var appendedLog: [UInt8]
    /// Records to add: active tokens only the other side had.
    var newRecords: [(id: String, bytes: [UInt8])]
    /// Records to delete: tokens the other side revoked.
    var revokedIDs: [String]
    /// What the merge decided that a user should hear, one line each.
    var notes: [String]
    /// Events of the other side this side did not have.
    var receivedEvents: Int
}

enum VaultMerge {
    /// Merges `remote` into `local` (see the top of this file). Throws
    /// `.corrupt` (65) for another vault, another key pair, or two entries
    /// of one id that differ where no event can change them.
    static func merge(local: VaultState, remote: VaultState, remoteName: String) throws -> MergeResult {
        let shown = remoteName
        guard local.metadata.vaultID == remote.metadata.vaultID else {
            throw VaultError.corrupt(
                path: shown,
                reason: "it holds another vault (id \(remote.metadata.vaultID), not \(local.metadata.vaultID))")
        }
        guard local.metadata.publicKey == remote.metadata.publicKey else {
            throw VaultError.corrupt(
                path: shown,
                reason: "its vault has another key pair (a passwd --rekey on one machine); clone it again instead")
        }
        let localHashes = Set(local.lines.map(\.hash))
        let remoteHashes = Set(remote.lines.map(\.hash))
        let localOnly = local.lines.filter { !remoteHashes.contains($0.hash) }
        let remoteOnly = remote.lines.filter { !localHashes.contains($0.hash) }
        var notes: [String] = []
        // The other side only added to this side's history: take its state whole.
        if localOnly.isEmpty {
            return try fastForward(local: local, remote: remote, remoteOnly: remoteOnly, shown: shown)
        }

        // Which side changed something last, by the event time of the lines
        // the other side does not have (ties broken by the line's hash, so
        // both machines decide alike).
        // The last change of each kind (to each token, or to the vault) on
        // each side, found in one pass: (event time, line hash).
        func lastChanges(_ lines: [EventLog.Line]) -> [String: (String, String)] {
            var last: [String: (String, String)] = [:]
            for line in lines {
                let key = line.event.kind.rawValue + " " + (line.event.tokenID ?? "")
                let change = (line.event.time, line.hash)
                if last[key].map({ $0 < change }) ?? true { last[key] = change }
            }
            return last
        }
        let localChanges = lastChanges(localOnly)
        let remoteChanges = lastChanges(remoteOnly)
        func lastChange(_ side: [String: (String, String)], _ kind: HistoryEvent.Kind, id: String?) -> (String, String)?
        {
            side[kind.rawValue + " " + (id ?? "")]
        }
        func remoteWins(_ kind: HistoryEvent.Kind, id: String?) -> Bool {
            switch (lastChange(localChanges, kind, id: id), lastChange(remoteChanges, kind, id: id)) {
            case (nil, nil): return false
            case (nil, _?): return true
            case (_?, nil): return false
            case (let mine?, let theirs?): return theirs > mine
            }
        }

        // Tokens, by id.
        var tokens = local.index.tokens
        var position: [String: Int] = [:]
        for (offset, entry) in tokens.enumerated() { position[entry.id] = offset }
        for theirs in remote.index.tokens {
            guard let at = position[theirs.id] else {
                position[theirs.id] = tokens.count
                tokens.append(theirs)
                continue
            }
            let mine = tokens[at]
            try checkSameToken(mine, theirs, shown: shown)
            var merged = mine
            if !theirs.isActive {
                merged.state = .revoked
                merged.revokedAt = [mine.revokedAt, theirs.revokedAt].compactMap { $0 }.min()
            }
            merged.rotatedTo = [mine.rotatedTo, theirs.rotatedTo].compactMap { $0 }.min()
            if mine.neverDisplayed == nil || theirs.neverDisplayed == nil { merged.neverDisplayed = nil }
            if mine.label != theirs.label, remoteWins(.rename, id: mine.id) { merged.label = theirs.label }
            if mine.note != theirs.note, remoteWins(.note, id: mine.id) { merged.note = theirs.note }
            if mine.expiresAt != theirs.expiresAt {
                // Expiry is never undone: a token expired on either side stays
                // expired (the earlier passed time); otherwise the later change.
                let now = Int64(Clock.seconds())
                let passed = [mine, theirs].filter { $0.isExpired(at: now) }.compactMap(\.expiresAt).min()
                merged.expiresAt = passed ?? (remoteWins(.expire, id: mine.id) ? theirs.expiresAt : mine.expiresAt)
            }
            let changedOnBoth = [HistoryEvent.Kind.rename, .note, .expire].contains { kind in
                lastChange(localChanges, kind, id: mine.id) != nil
                    && lastChange(remoteChanges, kind, id: mine.id) != nil
            }
            if changedOnBoth,
                mine.label != theirs.label || mine.note != theirs.note || mine.expiresAt != theirs.expiresAt
            {
                notes.append(
                    "token \(mine.id) (\(VaultError.quoted(merged.label))) was changed on both machines; "
                        + "the later change is kept")
            }
            tokens[at] = merged
        }

        // The history: this side's, the other side's lines it lacks, a merge.
        var appended: [UInt8] = []
        var lines = local.lines
        var head = local.lines.last?.hash ?? ""
        var count = local.lines.count
        func append(_ raw: [UInt8]) {
            appended += raw
            appended.append(UInt8(ascii: "\n"))
            head = EventLog.hash(raw)
            count += 1
        }
        for line in remoteOnly { append(line.raw) }
        lines += remoteOnly
        let joins = !localOnly.isEmpty && !remoteOnly.isEmpty
        if joins {
            let merge = HistoryEvent(
                .merge, detail: "joined \(remoteOnly.count) event\(remoteOnly.count == 1 ? "" : "s") of \(remoteName)")
            append(EventLog.encode(merge, prev: local.lines.last?.hash ?? "", merged: remote.lines.last?.hash))
        }
        var resolutions: [HistoryEvent] = []

        // Two tokens not revoked under one label: both stay, the later renamed.
        var byLabel: [String: [Int]] = [:]
        for (offset, entry) in tokens.enumerated() where entry.isActive {
            byLabel[entry.label, default: []].append(offset)
        }
        for (label, offsets) in byLabel.sorted(by: { $0.key < $1.key }) where offsets.count > 1 {
            let ordered = offsets.sorted {
                (tokens[$0].createdAt, tokens[$0].id) < (tokens[$1].createdAt, tokens[$1].id)
            }
            for (rank, offset) in ordered.enumerated().dropFirst() {
                var suffix = rank + 1
                var renamed = Self.suffixed(label, suffix)
                while tokens.contains(where: { $0.isActive && $0.label == renamed }) {
                    suffix += 1
                    renamed = Self.suffixed(label, suffix)
                }
                tokens[offset].label = renamed
                notes.append(
                    "both machines made a token labelled \(VaultError.quoted(label)); "
                        + "the later (id \(tokens[offset].id)) is now \(VaultError.quoted(renamed))")
                resolutions.append(
                    HistoryEvent(.rename, tokens[offset], detail: "sync: two machines made \(VaultError.quoted(label))")
                )
            }
        }
        // Where the merged label is not the one the joined log ends with
        // (both machines renamed a token), a rename says which was kept.
        let renamed = Set(resolutions.compactMap(\.tokenID))
        var logLabel: [String: String] = [:]
        for line in lines {
            guard let id = line.event.tokenID, let label = line.event.label else { continue }
            switch line.event.kind {
            case .create, .import, .zbot, .rotate, .rename, .restore: logLabel[id] = label
            default: break
            }
        }
        for entry in tokens where !renamed.contains(entry.id) {
            if let label = logLabel[entry.id], label != entry.label {
                resolutions.append(HistoryEvent(.rename, entry, detail: "sync: the later of two renames"))
            }
        }
        for event in resolutions {
            append(EventLog.encode(event, prev: head))
        }

        // Settings: the later change wins.
        var metadataBytes = local.metadataBytes
        if local.metadata.serverURL != remote.metadata.serverURL, remoteWins(.config, id: nil) {
            metadataBytes = remote.metadataBytes
            notes.append("the default server URL was changed on both machines; the later change is kept")
        }
        var keyBytes = local.keyBytes
        if local.keyBytes != remote.keyBytes, remoteWins(.passwd, id: nil) {
            keyBytes = remote.keyBytes
            notes.append("the vault passphrase was changed on the other machine: it is the passphrase from now on")
        }

        var index = local.index
        index.tokens = tokens
        if count != local.lines.count {
            index.anchor(at: LogAnchor(lines: count, bytes: local.logBytes.count + appended.count, head: head))
        }
        let newRecords = tokens.filter { $0.isActive && local.records[$0.id] == nil }.map { entry in
            (id: entry.id, bytes: remote.records[entry.id] ?? [])
        }
        if let missing = newRecords.first(where: { $0.bytes.isEmpty }) {
            throw VaultError.corrupt(path: shown, reason: "no sealed record for active token \(missing.id)")
        }
        let revokedIDs = local.index.tokens.filter { entry in
            entry.isActive && !(tokens[position[entry.id] ?? 0].isActive)
        }.map(\.id)
        try checkKeeps(local.index, in: index, shown: shown)
        return MergeResult(
            index: index, metadataBytes: metadataBytes, keyBytes: keyBytes, appendedLog: appended,
            newRecords: newRecords, revokedIDs: revokedIDs, notes: notes, receivedEvents: remoteOnly.count)
    }

    /// A merge keeps every token of `local` and every one of its revocations.
    static func checkKeeps(_ local: Index, in merged: Index, shown: String) throws {
        let after = Dictionary(uniqueKeysWithValues: merged.tokens.map { ($0.id, $0.isActive) })
        for entry in local.tokens {
            guard let active = after[entry.id] else {
                throw VaultError.corrupt(path: shown, reason: "the merge would drop token \(entry.id) of this vault")
            }
            if !entry.isActive && active {
                throw VaultError.corrupt(path: shown, reason: "the merge would bring revoked token \(entry.id) back")
            }
        }
    }

    /// Two entries of one id must agree in what no event changes.
    static func checkSameToken(_ mine: Index.Entry, _ theirs: Index.Entry, shown: String) throws {
        guard
            mine.kind == theirs.kind, mine.createdAt == theirs.createdAt, mine.digest == theirs.digest,
            mine.last4 == theirs.last4, mine.agent == theirs.agent, mine.length == theirs.length,
            mine.rotatedFrom == theirs.rotatedFrom, mine.serverURL == theirs.serverURL
        else {
            throw VaultError.corrupt(path: shown, reason: "token \(mine.id) differs in what no event changes")
        }
    }

    /// The merge when this side has no event the other lacks: the other
    /// side's state as it is (it was checked whole), so both sides end with
    /// the same files and git can fast-forward.
    private static func fastForward(
        local: VaultState, remote: VaultState, remoteOnly: [EventLog.Line], shown: String
    ) throws -> MergeResult {
        let theirs = Dictionary(uniqueKeysWithValues: remote.index.tokens.map { ($0.id, $0) })
        for mine in local.index.tokens {
            if let other = theirs[mine.id] { try checkSameToken(mine, other, shown: shown) }
        }
        try checkKeeps(local.index, in: remote.index, shown: shown)
        var appended: [UInt8] = []
        for line in remoteOnly { appended += line.raw + [UInt8(ascii: "\n")] }
        return MergeResult(
            index: remote.index, metadataBytes: remote.metadataBytes, keyBytes: remote.keyBytes,
            appendedLog: appended,
            newRecords: remote.index.tokens.filter { $0.isActive && local.records[$0.id] == nil }.map {
                (id: $0.id, bytes: remote.records[$0.id] ?? [])
            },
            revokedIDs: local.index.tokens.filter { $0.isActive && theirs[$0.id]?.isActive != true }.map(\.id),
            notes: remote.keyBytes != local.keyBytes
                ? ["the vault passphrase was changed on the other machine: it is the passphrase from now on"] : [],
            receivedEvents: remoteOnly.count)
    }

    /// `label~N`, the label shortened to keep within the label limits.
    static func suffixed(_ label: String, _ number: Int) -> String {
        let suffix = "~\(number)"
        var base = label
        while base.count + suffix.count > LabelRules.maximumLength
            || base.utf8.count + suffix.utf8.count > LabelRules.maximumBytes
        {
            base.removeLast()
        }
        return base + suffix
    }
}
