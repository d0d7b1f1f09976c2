// The vault's history (History/EventLog.swift): every writer records its
// events through `commit` or `record`, which append the lines durably first
// and then write index.json with the new anchor; `history` reads the
// committed part of the log back, checked link by link.
#if canImport(Glibc)
import Glibc
#endif

extension Vault {
    /// Appends `events` to the log, then replaces index.json (which must be
    /// `old` on disk, under the lock) with `changed` anchored at the new last
    /// line: the order that leaves no durable change without its event.
    func commit(_ changed: Index, over old: Index, events: [HistoryEvent]) throws {
        var changed = changed
        if !events.isEmpty {
            let (lines, anchor) = EventLog.append(events, after: old.log, index: old, vaultID: vaultID)
            try directory.appendLog(lines, committed: old.log?.bytes ?? 0, head: old.log?.head)
            changed.anchor(at: anchor)
        }
        try writeIndex(changed)
    }

    /// Records events that change no token (export, backup, passwd,
    /// config) under the lock, before the change they record: a crash
    /// between the two leaves an event for a change that did not happen,
    /// never a change without its event.
    func record(_ events: [HistoryEvent], in index: Index) throws {
        try commit(index, over: index, events: events)
    }

    /// The committed log of `index`, read and checked link by link against
    /// its anchor; empty for a vault made before the log.
    func readLog(for index: Index) throws -> [EventLog.Line] { try committedLog(of: index).lines }

    /// The committed part of log.jsonl (its first `anchor.bytes`), and its
    /// lines, checked link by link against the anchor of `index`.
    func committedLog(of index: Index) throws -> (bytes: [UInt8], lines: [EventLog.Line]) {
        guard let anchor = index.log else { return ([], []) }
        let shown = directory.displayPath(VaultLayout.log)
        guard let bytes = try directory.read(VaultLayout.log, limit: EventLog.maximumBytes) else {
            throw VaultError.corrupt(
                path: shown, reason: "missing, though index.json says it holds \(anchor.lines) lines")
        }
        guard bytes.count >= anchor.bytes else {
            throw VaultError.corrupt(
                path: shown,
                reason:
                    "it holds \(bytes.count) bytes but index.json says \(anchor.bytes): it was truncated or replaced")
        }
        let committed = Array(bytes[..<anchor.bytes])
        return (committed, try EventLog.checked(committed[...], anchor: anchor, vaultID: vaultID, path: shown))
    }

    /// The vault's history, oldest first: every event, or with `reference`
    /// only those of that token (an id or label, as `token(_:)` finds it)
    /// and of the tokens it replaced or was replaced by (`rotate`), and with
    /// `since` (seconds since 1970) only events from then on. The log is
    /// checked against index.json as it is read: a log that was edited,
    /// truncated or reordered throws `.corrupt` naming the first bad line.
    public func history(of reference: String? = nil, since: Int64? = nil) throws -> [HistoryEvent] {
        let index = try readIndex()
        var events = try readLog(for: index).map(\.event)
        if let reference {
            let info = try token(reference)
            var family: Set<String> = [info.id]
            // Follow rotations both ways, through the index's links.
            var pending = [info.id]
            while let id = pending.popLast() {
                guard let entry = index.position(ofID: id).map({ index.tokens[$0] }) else { continue }
                for link in [entry.rotatedFrom, entry.rotatedTo].compactMap({ $0 }) where family.insert(link).inserted {
                    pending.append(link)
                }
            }
            events = events.filter { event in
                [event.tokenID, event.replacedID].contains { $0.map(family.contains) ?? false }
            }
        }
        if let since { events = events.filter { $0.seconds >= since } }
        return events
    }
}
