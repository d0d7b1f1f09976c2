// log.jsonl: the vault's history, one JSON object per line, appended and
// never rewritten. Each line names the BLAKE2b-256 of a line before it
// ("prev"; the first line names the hash of the vault id instead), and
// index.json records the count, length and hash of the last line (its "log"
// anchor) in the same atomic rewrite as the change the line records. So an
// edited, deleted, inserted or reordered line breaks a link, a truncated or
// replaced tail no longer matches the anchor, and `replay` checks that the
// states the events imply are the index's states. Someone who rewrites the
// log and the index consistently is not caught: the chain is not signed.
//
// The lines form a chain, or after a merge of two histories (git sync) a
// graph: a `merge` line names the head of the other history ("merged") as
// well as its own ("prev"), and the first line of a merged-in history names
// the line it branched from. The rules that hold either way: every link
// names an earlier line, and every line but the last is named by a later
// one, so nothing can be added or dropped without breaking a link.
//
// Durability order (docs/SPEC.md §9): a writer appends its lines and makes
// them durable first, then writes the index with the new anchor. Bytes past
// the anchor never became history; the next writer cuts them off before it
// appends, and `doctor --repair` does too.

enum EventLog {
    /// One line at most: a label of 1,024 bytes escaped six times over,
    /// twice (label and detail), and the fixed fields fit well within it.
    static let maximumLineBytes = 16 << 10
    /// The whole log, as `log` and `doctor` read it: about a million events.
    static let maximumBytes = 256 << 20

    /// A line as read: its event, its links and its own hash.
    struct Line {
        let event: HistoryEvent
        let prev: String
        let merged: String?
        /// On a `start` line: the digest of the tokens that existed before it.
        let prior: String?
        let hash: String
        /// 1-based.
        let number: Int
        /// The line's bytes, without its newline.
        let raw: [UInt8]
    }

    // MARK: Writing

    /// What the first line's "prev" names: no line, but this vault.
    static func genesis(vaultID: String) -> String {
        Hex.encode(Sodium.blake2b256(Array("ztoken-log-v1\n\(vaultID)".utf8)))
    }

    static func hash(_ line: some Collection<UInt8>) -> String { Hex.encode(Sodium.blake2b256(Array(line))) }

    /// One line's bytes, without its newline, keys in a fixed order.
    static func encode(_ event: HistoryEvent, prev: String, prior: String? = nil, merged: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        func member(_ key: String, _ value: String?) {
            guard let value else { return }
            out += (out.isEmpty ? "{\"" : ",\"").utf8
            out += key.utf8
            out += "\":".utf8
            JSONString.append(value, to: &out)
        }
        member("time", event.time)
        member("event", event.kind.rawValue)
        member("id", event.tokenID)
        member("label", event.label)
        member("from", event.replacedID)
        member("detail", event.detail)
        member("digest", event.digest)
        member("prior", prior)
        member("merged", merged)
        member("prev", prev)
        out += "}".utf8
        return out
    }

    /// The lines that record `events` after `anchor` (nil: an empty log),
    /// and the anchor that then names the last of them. A log that does not
    /// begin with `init` begins with a `start` line recording the tokens of
    /// `index` (the index before the change), whose history is unknown.
    static func append(
        _ events: [HistoryEvent], after anchor: LogAnchor?, index: Index, vaultID: String
    ) -> (bytes: [UInt8], anchor: LogAnchor) {
        var lines = events
        var prior: String?
        if anchor == nil, lines.first?.kind != .initialize {
            let active = index.tokens.filter(\.isActive).count
            let count = index.tokens.count
            lines.insert(
                HistoryEvent(
                    .start,
                    detail: "history before this event is unknown; the vault held \(count) "
                        + "token\(count == 1 ? "" : "s") (\(active) active, \(count - active) revoked)"),
                at: 0)
            prior = priorDigest(index.tokens.map { ($0.id, $0.state) })
        }
        var out: [UInt8] = []
        var head = anchor?.head ?? genesis(vaultID: vaultID)
        for (position, event) in lines.enumerated() {
            let line = encode(event, prev: head, prior: position == 0 ? prior : nil)
            head = hash(line)
            out += line
            out.append(UInt8(ascii: "\n"))
        }
        let next = LogAnchor(
            lines: (anchor?.lines ?? 0) + lines.count, bytes: (anchor?.bytes ?? 0) + out.count, head: head)
        return (out, next)
    }

    /// The digest a `start` line records of the tokens before it: BLAKE2b-256
    /// of "id state\n" for each, sorted by id.
    static func priorDigest(_ tokens: [(id: String, state: TokenState)]) -> String {
        let text = tokens.sorted { $0.id < $1.id }.map { "\($0.id) \($0.state.rawValue)\n" }.joined()
        return hash(Array(text.utf8))
    }

    // MARK: Reading

    private static let keys: Set<String> = [
        "time", "event", "id", "label", "from", "detail", "digest", "prior", "merged", "prev",
    ]

    /// Parses the first `anchor.bytes` of a log (the committed part) into
    /// lines, each checked on its own: a JSON object of known string fields,
    /// an RFC 3339 time, a known event, well-formed ids and hashes, at most
    /// `maximumLineBytes`. Linear in the input. Errors name the line.
    static func parse(_ bytes: ArraySlice<UInt8>, path: String, firstNumber: Int = 1) throws -> [Line] {
        var lines: [Line] = []
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let limit = min(bytes.endIndex, start + maximumLineBytes + 1)
            guard let end = bytes[start..<limit].firstIndex(of: UInt8(ascii: "\n")) else {
                throw VaultError.corrupt(
                    path: path,
                    reason: "line \(firstNumber + lines.count): "
                        + (limit == bytes.endIndex
                            ? "the last line has no newline" : "longer than \(maximumLineBytes) bytes"))
            }
            lines.append(try line(Array(bytes[start..<end]), number: firstNumber + lines.count, path: path))
            start = end + 1
        }
        return lines
    }

    /// One line, without its newline.
    private static func line(_ raw: [UInt8], number: Int, path: String) throws -> Line {
        func bad(_ reason: String) -> VaultError { .corrupt(path: path, reason: "line \(number): \(reason)") }
        let value: JSONValue
        do {
            value = try JSONParser.parse(raw)
        } catch {
            throw bad("malformed JSON at byte \(error.offset + 1)")
        }
        guard case .object(let members) = value else { throw bad("not a JSON object") }
        var fields: [String: String] = [:]
        for member in members {
            guard keys.contains(member.key) else { throw bad("unknown field \(VaultError.quoted(member.key))") }
            guard case .string(let text) = member.value else { throw bad("field \"\(member.key)\" is not a string") }
            fields[member.key] = text
        }
        func link(_ key: String) throws -> String? {
            guard let value = fields[key] else { return nil }
            guard value.utf8.count == 64, value.allUTF8(Hex.isDigit) else { throw bad("malformed \"\(key)\"") }
            return value
        }
        func tokenID(_ key: String) throws -> String? {
            guard let value = fields[key] else { return nil }
            guard TokenID.isValid(value) else { throw bad("malformed \"\(key)\"") }
            return value
        }
        guard let time = fields["time"], RFC3339.parse(time) != nil else { throw bad("missing or malformed time") }
        guard let name = fields["event"] else { throw bad("missing event") }
        guard let kind = HistoryEvent.Kind(rawValue: name) else {
            throw bad("unknown event \(VaultError.quoted(name))")
        }
        guard let prev = try link("prev") else { throw bad("missing \"prev\"") }
        let label = fields["label"]
        if let label, label.isEmpty || label.utf8.count > LabelRules.maximumBytes { throw bad("malformed label") }
        let merged = try link("merged")
        guard (merged != nil) == (kind == .merge) else { throw bad("only a merge names a merged history") }
        let event = HistoryEvent(
            kind, time: time, tokenID: try tokenID("id"), label: label, replacedID: try tokenID("from"),
            detail: fields["detail"], digest: try link("digest"))
        return Line(
            event: event, prev: prev, merged: merged, prior: try link("prior"), hash: hash(raw), number: number,
            raw: raw)
    }

    /// Checks the links: the first line starts at this vault's genesis,
    /// every link names an earlier line, every line but the last is named by
    /// a later one, and the last line, the count and the length are the
    /// anchor's. Throws naming the first line that breaks a rule.
    static func verify(_ lines: [Line], byteCount: Int, anchor: LogAnchor, vaultID: String, path: String) throws {
        func bad(_ number: Int, _ reason: String) -> VaultError {
            .corrupt(path: path, reason: "line \(number): \(reason)")
        }
        var earlier: [String: Int] = [:]
        earlier.reserveCapacity(lines.count)
        var named = Set<Int>()
        for line in lines {
            if line.number == 1 {
                guard line.prev == genesis(vaultID: vaultID) else {
                    throw bad(1, "the first line does not begin this vault's history")
                }
                guard [.initialize, .start].contains(line.event.kind) else {
                    throw bad(1, "the history must begin with init or start")
                }
            } else {
                for target in [line.prev, line.merged].compactMap({ $0 }) {
                    guard let position = earlier[target] else {
                        throw bad(
                            line.number,
                            "names a line that is not before it: line \(line.number - 1) or one before it "
                                + "was edited, removed or moved")
                    }
                    named.insert(position)
                }
                guard line.event.kind != .initialize, line.event.kind != .start else {
                    throw bad(line.number, "only the first line may begin a history")
                }
            }
            guard line.merged != line.prev else {
                throw bad(line.number, "a merge must join two different histories")
            }
            guard (line.prior != nil) == (line.event.kind == .start) else {
                throw bad(line.number, "only a start line records the tokens before it")
            }
            if earlier[line.hash] == nil { earlier[line.hash] = line.number }
        }
        if let unnamed = lines.dropLast().first(where: { !named.contains($0.number) }) {
            throw bad(unnamed.number, "no later line names it (a line after it was edited or removed)")
        }
        guard lines.count == anchor.lines, byteCount == anchor.bytes, lines.last?.hash == anchor.head else {
            throw VaultError.corrupt(
                path: path,
                reason: "the log does not end where index.json says (\(anchor.lines) lines, \(anchor.bytes) bytes): "
                    + "its tail was truncated, edited or replaced")
        }
    }

    /// A whole committed log read as every reader must: parsed, its links
    /// verified against `anchor`, and with `index` its events replayed
    /// against that index. Throws `.corrupt` naming the first problem.
    static func checked(
        _ bytes: ArraySlice<UInt8>, anchor: LogAnchor, vaultID: String, path: String,
        replayingAgainst index: Index? = nil
    ) throws -> [Line] {
        let lines = try parse(bytes, path: path)
        try verify(lines, byteCount: bytes.count, anchor: anchor, vaultID: vaultID, path: path)
        if let index, let problem = replay(lines, against: index) {
            throw VaultError.corrupt(path: path, reason: "the log and index.json disagree: \(problem)")
        }
        return lines
    }

    /// Replays the events and compares the states they imply with the
    /// index: every token the log revoked is revoked, every token it created
    /// and did not revoke is active (or gone if discarded), labels agree, and
    /// the tokens from before a `start` line are the ones it recorded.
    /// Returns the first disagreement, naming the token.
    static func replay(_ lines: [Line], against index: Index) -> String? {
        struct Known {
            var revoked = false
            var label: String?
            var createdInLog: Bool
            var discarded = false
            var digest: String?
        }
        var known: [String: Known] = [:]
        let hasStart = lines.first?.event.kind == .start
        func touch(_ id: String?) -> String? {
            guard let id else { return nil }
            if known[id] == nil {
                guard hasStart else { return "the log names token \(id) before any event created it" }
                known[id] = Known(createdInLog: false)
            }
            return nil
        }
        for line in lines {
            let event = line.event
            let id = event.tokenID
            func describe() -> String { "line \(line.number) (\(event.kind.rawValue) of \(id ?? "?"))" }
            switch event.kind {
            case .create, .import, .zbot, .rotate:
                guard let id, known[id] == nil else { return "\(describe()): the token was created twice" }
                known[id] = Known(label: event.label, createdInLog: true, digest: event.digest)
                if event.kind == .rotate {
                    if let problem = touch(event.replacedID) { return problem }
                    if let old = event.replacedID { known[old]?.revoked = true }
                }
            case .revoke:
                // Both machines may have revoked a token before a merge.
                if let problem = touch(id) { return problem }
                guard let id else { return "\(describe()): no token" }
                known[id]?.revoked = true
            case .rename:
                if let problem = touch(id) { return problem }
                if let id { known[id]?.label = event.label }
            case .discard:
                if let problem = touch(id) { return problem }
                if let id { known[id]?.discarded = true }
            case .note, .expire, .export:
                if let problem = touch(id) { return problem }
            case .restore:
                // With a token: a revoked token the restore carried over
                // from the vault it replaced.
                // Another history (a merged machine's) may have created it: it stays revoked.
                guard let id else { break }
                if known[id] != nil {
                    known[id]?.revoked = true
                    break
                }
                known[id] = Known(revoked: true, label: event.label, createdInLog: true, digest: event.digest)
            case .initialize, .start, .backup, .passwd, .config, .repair, .merge:
                break
            }
        }
        var prior: [(id: String, state: TokenState)] = []
        var inIndex = Set<String>()
        for entry in index.tokens {
            inIndex.insert(entry.id)
            let name = "token \(entry.id) (\(VaultError.quoted(entry.label)))"
            guard let state = known[entry.id] else {
                guard hasStart else { return "\(name) is in index.json but no event created it" }
                prior.append((entry.id, entry.state))
                continue
            }
            if state.discarded { return "\(name) is in index.json but the log discarded it" }
            if state.revoked, entry.isActive { return "\(name) is active in index.json but the log revoked it" }
            // A token from before the log may have been revoked before it.
            if !state.revoked, !entry.isActive, state.createdInLog {
                return "\(name) is revoked in index.json but the log never revoked it"
            }
            if let digest = state.digest, digest != entry.digest {
                return "\(name) has another digest in index.json than the log recorded"
            }
            if let label = state.label, label != entry.label {
                return "\(name) is labelled \(VaultError.quoted(label)) in the log"
            }
            if !state.createdInLog { prior.append((entry.id, state.revoked ? .active : entry.state)) }
        }
        for (id, state) in known where !inIndex.contains(id) && !state.discarded {
            return "token \(id) is in the log but missing from index.json"
        }
        if hasStart, let recorded = lines.first?.prior, priorDigest(prior) != recorded {
            return "the tokens in index.json from before the log began are not the ones its start line recorded"
        }
        return nil
    }
}
