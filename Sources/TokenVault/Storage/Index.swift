// index.json: the metadata of every token, and a digest of each for offline
// verification. This file is the one place that says what an entry holds
// (`Entry`'s properties, and `Entry.fields`: how the file spells each, which
// both the reader and the writer go by) and what makes an index valid
// (`validate`). It is read by the strict reader and written whole on every
// change, in the layout of JSONEncoder with sorted keys and pretty printing
// (a test compares the two): a person's vault holds tens of tokens, a heavy
// one a thousand (about 300 KB). JSONEncoder itself took more than half of
// `create`'s instructions at 1,000 tokens, so the writer is a plain loop.

/// The token index, in creation order.
struct Index: Codable, Equatable {
    /// Version 2 added the log anchor; a version 1 index (no history yet)
    /// is read, and its first write starts the log.
    static let currentVersion = 2

    /// 1 until the index has a log anchor (`Vault.commit` sets both).
    var version = 1
    /// Where log.jsonl ends, as of this index (EventLog.swift); nil only in
    /// a version 1 index.
    var log: LogAnchor?
    var tokens: [Entry] = []

    /// One token as the index keeps it. Never its plaintext.
    struct Entry: Codable, Equatable, Sendable {
        var id: String
        var label: String
        var kind: TokenKind
        /// RFC 3339, UTC.
        var createdAt: String
        var last4: String
        /// BLAKE2b-256 of the token, 64 lowercase hex digits.
        var digest: String
        /// `active` or `revoked`; `expired` is derived from `expiresAt` and
        /// the time, never written.
        var state: TokenState
        var revokedAt: String?
        /// For a zBot token: the agent's name.
        var agent: String?
        /// For a zBot token: the server the agent talks to.
        var serverURL: String?
        /// The user's description of the token (NoteRules).
        var note: String?
        /// RFC 3339, UTC: from this second on the token is expired.
        var expiresAt: String?
        /// The id of the token this one replaced (`rotate`).
        var rotatedFrom: String?
        /// The id of the token that replaced this one (`rotate`).
        var rotatedTo: String?
        /// True on a token `rotate` made until it has been shown (printed or
        /// written into its bundle); absent otherwise, never written false. It
        /// stays true when ztoken stopped between the durable rotation and the
        /// display: nobody has the token, and rotating again replaces it.
        var neverDisplayed: Bool?
        /// For an imported token not in ztoken's own form: its length, so
        /// that `scan` can find it (with `last4` and `digest`) in any text.
        /// Absent in entries made before scan existed, and for minted tokens.
        var length: Int?

        /// Not revoked: the token is live or expired, holds its label and
        /// keeps its sealed record (expiry is derived, the state stays `active`).
        var isActive: Bool { state == .active }

        /// True when the token is not revoked and its expiry has come.
        func isExpired(at now: Int64) -> Bool {
            guard isActive, let expiresAt, let deadline = RFC3339.parse(expiresAt) else { return false }
            return deadline <= now
        }

        /// The state a user sees at `now`: `expired` once an active token's expiry has come.
        func effectiveState(at now: Int64) -> TokenState { isExpired(at: now) ? .expired : state }
    }

    init(tokens: [Entry] = []) { self.tokens = tokens }

    /// Anchors the index at the log's new last line (a version 2 index).
    mutating func anchor(at log: LogAnchor) {
        self.log = log
        version = Index.currentVersion
    }

    /// Reads and checks index.json. It is read member by member straight
    /// into entries, without the tree the other files are read through: at
    /// 1,000 tokens the tree was most of `list`'s time beyond process start.
    /// The errors are `JSONObject`'s, in its order: malformed JSON, the
    /// version, the log anchor, then the first bad entry's first bad field.
    static func decode(_ bytes: [UInt8], path: String) throws -> Index {
        var version: JSONValue?
        var log: JSONValue?
        var tokens: [Entry]?
        var problem: VaultError?
        do {
            try JSONParser.read(bytes) { parser throws(JSONParser.Malformed) in
                guard parser.nextByte() == UInt8(ascii: "{") else {
                    _ = try parser.value(depth: 1)
                    return
                }
                try parser.members(depth: 1) { key, parser throws(JSONParser.Malformed) in
                    switch parser.string(of: key) {
                    case "version": version = try parser.value(depth: 2)
                    case "log": log = try parser.value(depth: 2)
                    case "tokens" where parser.nextByte() == UInt8(ascii: "["):
                        tokens = []
                        try parser.elements(depth: 2) { position, parser throws(JSONParser.Malformed) in
                            var entry = Entry(
                                id: "", label: "", kind: .api, createdAt: "", last4: "", digest: "", state: .active)
                            let error = try parser.object(
                                into: &entry, fields: Entry.fields, depth: 3, file: path, name: "tokens.\(position)")
                            if let error { problem = problem ?? error } else { tokens?.append(entry) }
                        }
                    case "tokens":
                        _ = try parser.value(depth: 2)
                        tokens = []
                        problem = problem ?? .corrupt(path: path, reason: "field \"tokens\" has the wrong type")
                    default: _ = try parser.value(depth: 2)
                    }
                }
            }
        } catch {
            throw VaultError.corrupt(path: path, reason: "malformed JSON (at byte \(error.offset))")
        }
        var index = Index()
        index.version = try VaultJSON.version(version, path: path, knownVersions: 1...currentVersion)
        if let log, !log.isNull { index.log = try LogAnchor(json: JSONObject(log, file: path, parent: "log.")) }
        guard let tokens else { throw VaultError.corrupt(path: path, reason: "missing field \"tokens\"") }
        if let problem { throw problem }
        index.tokens = tokens
        try index.validate(path: path)
        return index
    }

    /// index.json's bytes.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + tokens.count * 320)
        out += "{\n".utf8
        if let log {
            out += "  \"log\" : {\n    \"bytes\" : \(log.bytes),\n    \"head\" : ".utf8
            JSONString.append(log.head, to: &out)
            out += ",\n    \"lines\" : \(log.lines)\n  },\n".utf8
        }
        out += "  \"tokens\" : [".utf8
        let firstField = Array("\n      \"".utf8)
        let nextField = Array(",\n      \"".utf8)
        for (position, entry) in tokens.enumerated() {
            out += (position == 0 ? "\n    {" : ",\n    {").utf8
            var first = true
            // By position: a `for field in` loop copies each field, four references.
            for field in Entry.fields.indices
            where Entry.fields[field].write(entry, first ? firstField : nextField, &out) {
                first = false
            }
            out += "\n    }".utf8
        }
        out += (tokens.isEmpty ? "\n\n  ]" : "\n  ]").utf8
        out += ",\n  \"version\" : \(version)\n}\n".utf8
        return out
    }

    /// What the JSON schema cannot say: well-formed ids and digests, labels
    /// and notes within their limits, expiry times in RFC 3339, no written
    /// `expired` state, unique ids, labels unique among tokens not revoked
    /// (active or expired: an expired token keeps its label until revoked).
    func validate(path: String) throws {
        if let log {
            guard version == 2, log.lines > 0, log.bytes >= log.lines, log.head.utf8.count == 64,
                log.head.allUTF8(Hex.isDigit)
            else { throw VaultError.corrupt(path: path, reason: "malformed log anchor") }
        } else if version >= 2 {
            throw VaultError.corrupt(path: path, reason: "missing field \"log\"")
        }
        var ids = Set<String>(minimumCapacity: tokens.count)
        var activeLabels = Set<String>(minimumCapacity: tokens.count)
        for position in tokens.indices {
            let entry = tokens[position]
            func bad(_ reason: String) -> VaultError {
                .corrupt(path: path, reason: "token #\(position + 1): \(reason)")
            }
            guard TokenID.isValid(entry.id) else { throw bad("malformed id") }
            guard ids.insert(entry.id).inserted else { throw bad("duplicate id \(entry.id)") }
            guard !entry.label.isEmpty, entry.label.utf8.count <= LabelRules.maximumBytes else {
                throw bad("the label is empty or longer than \(LabelRules.maximumBytes) bytes")
            }
            guard entry.digest.utf8.count == 64, entry.digest.allUTF8(Hex.isDigit) else {
                throw bad("malformed digest")
            }
            if let length = entry.length {
                guard TokenFormat.importedLengthRange.contains(length), entry.last4.utf8.count == 4 else {
                    throw bad("an imported token's length must be \(TokenFormat.importedLengthRange), with a last4")
                }
            }
            if let note = entry.note, note.isEmpty || note.utf8.count > NoteRules.maximumBytes {
                throw bad("the note is empty or longer than \(NoteRules.maximumBytes) bytes")
            }
            if let expiresAt = entry.expiresAt, RFC3339.parse(expiresAt) == nil {
                throw bad("malformed expiry time")
            }
            if !(entry.rotatedFrom.map(TokenID.isValid) ?? true) || !(entry.rotatedTo.map(TokenID.isValid) ?? true) {
                throw bad("malformed rotation link")
            }
            switch entry.state {
            case .active:
                guard activeLabels.insert(entry.label).inserted else { throw bad("duplicate active label") }
            case .revoked:
                break
            case .expired:
                throw bad("the state \"expired\" is derived from the time and never written")
            }
        }
    }

    // MARK: Finding entries

    func position(ofID id: String) -> Int? { tokens.firstIndex { $0.id == id } }

    func activePosition(ofLabel label: String) -> Int? { tokens.firstIndex { $0.isActive && $0.label == label } }

    /// The entry whose digest is `digest`, comparing with every entry in
    /// constant time, so the time taken does not tell where (or whether) a
    /// presented token matched.
    func constantTimePosition(ofDigest digest: String) -> Int? {
        let wanted = Array(digest.utf8)
        var found: Int?
        for position in tokens.indices {
            var digest = tokens[position].digest
            let equal = digest.withUTF8 { Sodium.constantTimeEquals($0, wanted) }
            if equal, found == nil { found = position }
        }
        return found
    }

    /// A fresh token id that no entry has.
    func newID() -> String {
        var id = TokenID.make()
        while position(ofID: id) != nil { id = TokenID.make() }
        return id
    }
}

/// Where log.jsonl ends as of an index: the log's own checks (EventLog.swift)
/// hold its last line, count and length to these.
struct LogAnchor: Codable, Equatable, Sendable, JSONReadable {
    /// How many lines the log holds.
    var lines: Int
    /// The log's length in bytes.
    var bytes: Int
    /// BLAKE2b-256 of the last line (without its newline), 64 hex digits.
    var head: String

    init(lines: Int, bytes: Int, head: String) {
        self.lines = lines
        self.bytes = bytes
        self.head = head
    }

    init(json: JSONObject) throws {
        self.init(
            lines: try json.integer("lines"), bytes: try json.integer("bytes"), head: try json.string("head"))
    }
}

extension Index.Entry {
    /// Every field as index.json spells it, in the file's order (keys sorted
    /// as JSONEncoder sorts them): the one list the reader and the writer use.
    static let fields: [Field] = [
        .optional("agent", { $0.agent }, { $0.agent = $1 }),
        .required("createdAt", { $0.createdAt }, { $0.createdAt = $1 }),
        .required("digest", { $0.digest }, { $0.digest = $1 }),
        .optional("expiresAt", { $0.expiresAt }, { $0.expiresAt = $1 }),
        .required("id", { $0.id }, { $0.id = $1 }),
        .enumeration("kind", { $0.kind }, { $0.kind = $1 }),
        .required("label", { $0.label }, { $0.label = $1 }),
        .required("last4", { $0.last4 }, { $0.last4 = $1 }),
        .integer("length", { $0.length }, { $0.length = $1 }),
        // false is the same as absent, and is never written.
        .flag("neverDisplayed", { $0.neverDisplayed == true }, { $0.neverDisplayed = $1 ? true : nil }),
        .optional("note", { $0.note }, { $0.note = $1 }),
        .optional("revokedAt", { $0.revokedAt }, { $0.revokedAt = $1 }),
        .optional("rotatedFrom", { $0.rotatedFrom }, { $0.rotatedFrom = $1 }),
        .optional("rotatedTo", { $0.rotatedTo }, { $0.rotatedTo = $1 }),
        .optional("serverURL", { $0.serverURL }, { $0.serverURL = $1 }),
        .enumeration("state", { $0.state }, { $0.state = $1 }),
    ]

    /// One field: its key, how it is read into an entry, and how an entry's
    /// value is written (nothing when the entry does not have it).
    struct Field: JSONField, Sendable {
        typealias Problem = JSONFieldProblem

        let key: String
        let keyUTF8: [UInt8]
        let isRequired: Bool
        let read: @Sendable (inout Index.Entry, JSONValue) -> Problem?
        /// Appends `"key" : value` after `separator`; false when not set.
        let write: @Sendable (Index.Entry, _ separator: [UInt8], inout [UInt8]) -> Bool

        /// A field that `decode` reads from its JSON value and `encode` writes
        /// as JSON; `get` is nil when the entry does not have it.
        private static func make<Value>(
            _ key: String, isRequired: Bool, _ get: @escaping @Sendable (Index.Entry) -> Value?,
            _ set: @escaping @Sendable (inout Index.Entry, Value) -> Void,
            decode: @escaping @Sendable (JSONValue) throws(Problem) -> Value,
            encode: @escaping @Sendable (Value, inout [UInt8]) -> Void
        ) -> Field {
            let keyAndColon = Array((key + "\" : ").utf8)
            return Field(
                key: key, keyUTF8: Array(key.utf8), isRequired: isRequired,
                read: { entry, value in
                    do throws(Problem) { set(&entry, try decode(value)) } catch { return error }
                    return nil
                },
                write: { entry, separator, out in
                    guard let value = get(entry) else { return false }
                    out += separator
                    out += keyAndColon
                    encode(value, &out)
                    return true
                })
        }

        private static func text(_ value: JSONValue) throws(Problem) -> String {
            guard case .string(let text) = value else { throw .wrongType }
            return text
        }

        static func required(
            _ key: String, _ get: @escaping @Sendable (Index.Entry) -> String,
            _ set: @escaping @Sendable (inout Index.Entry, String) -> Void
        ) -> Field {
            make(key, isRequired: true, get, set, decode: text, encode: JSONString.append)
        }

        static func optional(
            _ key: String, _ get: @escaping @Sendable (Index.Entry) -> String?,
            _ set: @escaping @Sendable (inout Index.Entry, String?) -> Void
        ) -> Field {
            make(key, isRequired: false, get, { set(&$0, $1) }, decode: text, encode: JSONString.append)
        }

        static func enumeration<Value: RawRepresentable<String> & SendableMetatype>(
            _ key: String, _ get: @escaping @Sendable (Index.Entry) -> Value,
            _ set: @escaping @Sendable (inout Index.Entry, Value) -> Void
        ) -> Field {
            make(
                key, isRequired: true, get, set,
                decode: { value throws(Problem) in
                    guard let known = Value(rawValue: try text(value)) else { throw .unknownValue }
                    return known
                }, encode: { JSONString.append($0.rawValue, to: &$1) })
        }

        static func integer(
            _ key: String, _ get: @escaping @Sendable (Index.Entry) -> Int?,
            _ set: @escaping @Sendable (inout Index.Entry, Int?) -> Void
        ) -> Field {
            make(
                key, isRequired: false, get, { set(&$0, $1) },
                decode: { value throws(Problem) in
                    guard let number = value.integer else { throw .wrongType }
                    return number
                }, encode: { $1 += String($0).utf8 })
        }

        /// Written only when true.
        static func flag(
            _ key: String, _ get: @escaping @Sendable (Index.Entry) -> Bool,
            _ set: @escaping @Sendable (inout Index.Entry, Bool) -> Void
        ) -> Field {
            make(
                key, isRequired: false, { get($0) ? true : nil }, set,
                decode: { value throws(Problem) in
                    guard case .bool(let flag) = value else { throw .wrongType }
                    return flag
                }, encode: { _, out in out += "true".utf8 })
        }
    }
}
