// index.json as commands use it: the file's bytes and, per entry, where each
// field's value lies in them. Every command reads the whole index, so reading
// must not cost a dozen String allocations per entry: strings are made only
// for the entries a command shows (`list`) or names (`verify`'s match), and
// the checks of `IndexFile.validate` run on bytes.
//
// The rules:
// - Reading is as strict as `IndexReader` + `IndexFile.validate`, with the same
//   errors. A file in the writer's exact layout (what ztoken itself writes) is
//   scanned in one pass; anything else (reformatted, unknown keys, `null`s,
//   other escapes, or any error) goes through `IndexReader`, which reports it
//   exactly as before, and the decoded index is re-encoded by `IndexWriter`, so
//   the table always holds bytes in the writer's layout.
// - Because of that, writing a changed index copies the unchanged entries'
//   bytes and encodes only the changed ones: the result is byte for byte
//   `IndexWriter.encode` of the decoded, changed index.
// - Labels compare as Swift strings compare (canonical equivalence), as the
//   String-based code did: by bytes when both are ASCII, as strings otherwise.

#if canImport(Glibc)
import Glibc
#endif

struct IndexTable {
    /// The fields of an entry, in `IndexFile.Entry` order.
    enum Field: Int, CaseIterable {
        case id, label, kind, createdAt, last4, digest, state, revokedAt, agent, serverURL
    }
    static let fieldCount = 10

    /// Where a string's content lies: in `bytes` (start ≥ 0), or, for a
    /// string that had escapes, unescaped in `unescaped` (start = -1 - offset).
    /// An absent optional field has count -1.
    struct Span {
        var start: Int32
        var count: Int32
        static let absent = Span(start: 0, count: -1)
    }

    let version: Int
    /// The index in the writer's layout.
    private let storage: IndexBytes
    /// The index in the writer's layout, as an array.
    var bytes: [UInt8] { storage.bytes }
    /// True when the index file is mapped (`IndexBytes`), for tests.
    var isMapped: Bool { storage.isMapped }
    /// How many parts the index was scanned in, and whether it was checked
    /// on every core, for tests: both paths give the same answer, so only
    /// these tell that the fast one ran.
    private(set) var scannedParts = 1
    private(set) var checkedOnEveryCore = false
    private var unescaped: [UInt8] = []
    /// `fieldCount` spans per entry.
    private var spans: [Span] = []
    /// Per entry, the offsets of its `{` and one past its `}` in `bytes`.
    private var bounds: [(start: Int32, end: Int32)] = []
    /// Per entry, the 60-bit value of its id (see `TokenID.packed`).
    private var packedIDs: [UInt64] = []
    /// Per entry, `activeFlag`, `asciiLabelFlag`.
    private var flags: [UInt8] = []
    private static let activeFlag: UInt8 = 1
    private static let asciiLabelFlag: UInt8 = 2

    var count: Int { bounds.count }

    /// Reads and checks an index: throws what `IndexCodec.decode` and then
    /// `IndexFile.validate` would throw for these bytes.
    init(bytes: [UInt8], path: String) throws {
        try self.init(bytes: IndexBytes(bytes), path: path)
    }

    init(bytes: IndexBytes, path: String) throws {
        if let table = Self(scanning: bytes) {
            self = table
        } else {
            let index = try bytes.withUnsafeBufferPointer { try IndexReader.decode($0, path: path) }
            guard let table = Self(scanning: IndexBytes(IndexWriter.encode(index))) else {
                throw VaultError.corrupt(path: path, reason: "internal error: the index writer's layout does not read back")
            }
            self = table
        }
        try validate(path: path)
    }

    /// An index already in the model (tests, and restore of a decoded file).
    init(_ index: IndexFile, path: String) throws {
        try self.init(bytes: IndexWriter.encode(index), path: path)
    }

    // MARK: Reading fields

    func isActive(_ entry: Int) -> Bool { flags[entry] & Self.activeFlag != 0 }

    /// The contents of the fields, for the length of one call.
    struct View {
        let bytes: UnsafeBufferPointer<UInt8>
        let unescaped: UnsafeBufferPointer<UInt8>
        let spans: UnsafeBufferPointer<Span>

        /// The content of a string field (escapes undone), or nil when absent.
        @inline(__always)
        func content(_ entry: Int, _ field: Field) -> UnsafeBufferPointer<UInt8>? {
            let span = spans[entry &* IndexTable.fieldCount &+ field.rawValue]
            guard span.count >= 0 else { return nil }
            if span.start >= 0 {
                return UnsafeBufferPointer(rebasing: bytes[Int(span.start)..<Int(span.start &+ span.count)])
            }
            let start = Int(-1 - span.start)
            return UnsafeBufferPointer(rebasing: unescaped[start..<(start + Int(span.count))])
        }
    }

    func withView<R>(_ body: (View) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer { bytes in
            try unescaped.withUnsafeBufferPointer { unescaped in
                try spans.withUnsafeBufferPointer { spans in
                    try body(View(bytes: bytes, unescaped: unescaped, spans: spans))
                }
            }
        }
    }

    /// The content of a string field (escapes undone), or nil when absent.
    func withContent<R>(_ entry: Int, _ field: Field, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R? {
        try withView { view in try view.content(entry, field).map(body) }
    }

    /// A field as a String (UTF-8 was checked when read).
    func string(_ entry: Int, _ field: Field) -> String? {
        withContent(entry, field) { String(decoding: $0, as: UTF8.self) }
    }

    func id(_ entry: Int) -> String { string(entry, .id) ?? "" }
    func label(_ entry: Int) -> String { string(entry, .label) ?? "" }

    /// One entry as the model.
    func entry(_ entry: Int) -> IndexFile.Entry {
        IndexFile.Entry(id: id(entry), label: label(entry), kind: string(entry, .kind) ?? "",
                        createdAt: string(entry, .createdAt) ?? "", last4: string(entry, .last4) ?? "",
                        digest: string(entry, .digest) ?? "", state: string(entry, .state) ?? "",
                        revokedAt: string(entry, .revokedAt), agent: string(entry, .agent),
                        serverURL: string(entry, .serverURL))
    }

    /// One entry as the public model, without the strings it does not show
    /// (the digest); `revokedAt` set marks it revoked at that time.
    func info(_ entry: Int, revokedAt: String? = nil) -> TokenInfo {
        TokenInfo(id: id(entry), label: label(entry), rawKind: string(entry, .kind) ?? "",
                  createdAt: string(entry, .createdAt) ?? "", last4: string(entry, .last4) ?? "",
                  rawState: revokedAt == nil && isActive(entry) ? TokenState.active.rawValue : TokenState.revoked.rawValue,
                  revokedAt: revokedAt ?? string(entry, .revokedAt), agentName: string(entry, .agent),
                  serverURL: string(entry, .serverURL))
    }

    /// The whole index as the model (tests, `doctor`).
    var indexFile: IndexFile { IndexFile(version: version, tokens: (0..<count).map(entry)) }

    // MARK: Finding entries

    /// The entry with this id, active or not.
    func position(ofID id: String) -> Int? {
        guard let packed = TokenID.packed(id) else { return nil }
        return packedIDs.firstIndex(of: packed)
    }

    /// The positions of the active entries, by packed id (`TokenID.packed`).
    func activePositionsByID() -> [UInt64: Int] {
        var positions: [UInt64: Int] = [:]
        positions.reserveCapacity(count)
        for entry in 0..<count where isActive(entry) { positions[packedIDs[entry]] = entry }
        return positions
    }

    /// The active entry with this label (compared as Swift strings compare).
    func activePosition(ofLabel label: String) -> Int? {
        var label = label
        let labelIsASCII = label.utf8.allSatisfy { $0 < 0x80 }
        return label.withUTF8 { wanted in
            withView { view in
                for entry in 0..<count where isActive(entry) {
                    guard let stored = view.content(entry, .label) else { continue }
                    let equal = labelIsASCII && flags[entry] & Self.asciiLabelFlag != 0
                        ? Self.equal(stored, wanted)
                        : String(decoding: stored, as: UTF8.self) == String(decoding: wanted, as: UTF8.self)
                    if equal { return entry }
                }
                return nil
            }
        }
    }

    /// The active entry with this digest (hex, as stored).
    func activePosition(ofDigest digest: String) -> Int? {
        var digest = digest
        return digest.withUTF8 { wanted in
            withView { view in
                (0..<count).first { isActive($0) && view.content($0, .digest).map { Self.equal($0, wanted) } == true }
            }
        }
    }

    /// The entry whose digest is `digest` (64 hex bytes), comparing every
    /// entry's digest in full without branching on the bytes, so the time
    /// taken does not depend on where (or whether) a digest matches.
    func constantTimePosition(ofDigest digest: [UInt8]) -> Int? {
        guard digest.count == 64 else { return nil }
        var found = -1
        digest.withUnsafeBufferPointer { wanted in
            withView { view in
                for entry in 0..<count {
                    // `validate` checked that every digest is 64 bytes.
                    guard let stored = view.content(entry, .digest), stored.count == 64 else { continue }
                    var difference: UInt8 = 0
                    for i in 0..<64 { difference |= stored[i] ^ wanted[i] }
                    // All ones when equal, zero otherwise: selects without a branch.
                    let mask = 0 &- Int((UInt32(difference) &- 1) >> 31)
                    found = (entry & mask) | (found & ~mask)
                }
            }
        }
        return found >= 0 ? found : nil
    }

    // MARK: Writing

    /// The bytes of this index with some entries replaced, some removed and
    /// some appended: exactly `IndexWriter.encode` of the decoded index so
    /// changed, but unchanged entries are copied rather than encoded again.
    ///
    /// `revoking` entries (active ones) become revoked at `revokedAt`: their
    /// bytes are spliced (the `revokedAt` field inserted, `"active"` replaced),
    /// which is what encoding the changed entry would write, at a copy's cost.
    func encoded(replacing replaced: [Int: IndexFile.Entry] = [:], removing removed: Set<Int> = [],
                 appending appended: [IndexFile.Entry] = [], revoking revokedPositions: Set<Int> = [],
                 revokedAt: String = "") -> [UInt8] {
        withEncoded(replacing: replaced, removing: removed, appending: appended, revoking: revokedPositions,
                    revokedAt: revokedAt) { pieces in
            var out: [UInt8] = []
            out.reserveCapacity(pieces.reduce(0) { $0 + $1.count })
            for piece in pieces { out.append(contentsOf: piece) }
            return out
        }
    }

    /// `encoded(…)` as pieces, in order, for the length of `body`: runs of
    /// this index's bytes that stay as they are, and the few bytes that
    /// change. A writer hands them to the kernel as they are: building the
    /// new index in one array cost more than writing it (at 10,000 tokens,
    /// ~1.8 ms of page faults and copying for `create`).
    func withEncoded<R>(replacing replaced: [Int: IndexFile.Entry] = [:], removing removed: Set<Int> = [],
                        appending appended: [IndexFile.Entry] = [], revoking revokedPositions: Set<Int> = [],
                        revokedAt: String = "", _ body: ([UnsafeRawBufferPointer]) throws -> R) rethrows -> R {
        var replaced = replaced
        var revoking: Set<Int> = []
        for position in revokedPositions where (0..<count).contains(position) {
            // The splice needs the writer's bytes of last4 and state (no escapes);
            // anything else is encoded from the model.
            if isActive(position), spans[position &* Self.fieldCount &+ Field.revokedAt.rawValue].count < 0,
               spans[position &* Self.fieldCount &+ Field.last4.rawValue].start >= 0,
               spans[position &* Self.fieldCount &+ Field.state.rawValue].start >= 0 {
                revoking.insert(position)
            } else {
                var entry = entry(position)
                entry.state = TokenState.revoked.rawValue
                entry.revokedAt = revokedAt
                replaced[position] = entry
            }
        }
        // Written bytes go to `out`; runs of the old bytes are noted as
        // ranges in `pieces`, between the written parts they separate.
        var out: [UInt8] = []
        out.reserveCapacity((replaced.count + appended.count) * 400 + revoking.count * 320 + 64)
        var pieces: [(old: Bool, range: Range<Int>)] = []
        var written = 0
        func keep(_ range: Range<Int>) {
            if out.count > written { pieces.append((false, written..<out.count)) }
            written = out.count
            pieces.append((true, range))
        }
        IndexWriter.appendHeader(to: &out)
        var emitted = 0
        let touched = Set(replaced.keys).union(removed).union(revoking).filter { (0..<count).contains($0) }.sorted()
        return try storage.withUnsafeBufferPointer { bytes in
            /// Entries `first..<end`, unchanged: one run, their separators included.
            func copy(_ first: Int, _ end: Int) {
                guard first < end else { return }
                IndexWriter.appendSeparator(first: emitted == 0, to: &out)
                keep(Int(bounds[first].start)..<Int(bounds[end - 1].end))
                emitted += end - first
            }
            var next = 0
            for position in touched {
                copy(next, position)
                if removed.contains(position) {
                    // Left out.
                } else if let entry = replaced[position] {
                    IndexWriter.appendSeparator(first: emitted == 0, to: &out)
                    IndexWriter.appendEntry(entry, to: &out)
                    emitted += 1
                } else if revoking.contains(position) {
                    IndexWriter.appendSeparator(first: emitted == 0, to: &out)
                    appendRevoked(position, at: revokedAt, from: bytes, to: &out)
                    emitted += 1
                }
                next = position + 1
            }
            copy(next, count)
            for entry in appended {
                IndexWriter.appendSeparator(first: emitted == 0, to: &out)
                IndexWriter.appendEntry(entry, to: &out)
                emitted += 1
            }
            IndexWriter.appendTrailer(version: version, empty: emitted == 0, to: &out)
            if out.count > written { pieces.append((false, written..<out.count)) }
            return try out.withUnsafeBytes { out in
                let old = UnsafeRawBufferPointer(bytes)
                return try body(pieces.map { UnsafeRawBufferPointer(rebasing: ($0.old ? old : out)[$0.range]) })
            }
        }
    }

    /// An active entry's bytes as the writer writes it revoked at `revokedAt`:
    /// `"revokedAt"` sorts between `"last4"` and `"serverURL"`/`"state"`,
    /// and the state's value changes. Both spans are in `bytes` (checked).
    private func appendRevoked(_ position: Int, at revokedAt: String, from bytes: UnsafeBufferPointer<UInt8>,
                               to out: inout [UInt8]) {
        let last4 = spans[position &* Self.fieldCount &+ Field.last4.rawValue]
        let state = spans[position &* Self.fieldCount &+ Field.state.rawValue]
        let start = Int(bounds[position].start), end = Int(bounds[position].end)
        let afterLast4 = Int(last4.start + last4.count) + 1      // past its closing quote
        out.append(contentsOf: bytes[start..<afterLast4])
        out.append(contentsOf: ",\n      \"revokedAt\" : ".utf8)
        IndexWriter.appendQuoted(revokedAt, to: &out)
        out.append(contentsOf: bytes[afterLast4..<Int(state.start)])
        out.append(contentsOf: TokenState.revoked.rawValue.utf8)
        out.append(contentsOf: bytes[Int(state.start + state.count)..<end])
    }

    // MARK: Checking

    /// From this many entries on, an index is scanned and checked on every
    /// core: at 10,000 tokens reading the index was most of what `list` and
    /// `create` did, and the fixed cost of a command is ~3 ms.
    static let parallelEntries = 2_048
    /// The same threshold in bytes, for the scan (entries are ~270 bytes).
    static let parallelBytes = parallelEntries * 256

    /// `IndexFile.validate` on bytes. A large index is checked on every core
    /// first (`checkedInParallel`); whenever that finds anything wrong, or
    /// cannot decide alone, the checks run again in order here, so the same
    /// first problem is reported however the index was read.
    private mutating func validate(path: String) throws {
        if count >= Self.parallelEntries, Parallel.processorCount > 1, let (packedIDs, flags) = checkedInParallel() {
            self.packedIDs = packedIDs
            self.flags = flags
            checkedOnEveryCore = true
            return
        }
        try validateInOrder(path: path)
    }

    /// An entry's fields before the duplicate checks, in `IndexFile.validate`'s
    /// order: present, and a well-formed id. Shared by both checkers, so
    /// the rules live in one place.
    private static func identity(_ view: View, _ entry: Int) -> Result<UInt64, EntryProblem> {
        guard let id = view.content(entry, .id), view.content(entry, .label) != nil, view.content(entry, .kind) != nil,
              view.content(entry, .state) != nil, view.content(entry, .digest) != nil else { return .failure(.init("missing field")) }
        guard let packed = TokenID.packed(id) else { return .failure(.init("malformed id")) }
        return .success(packed)
    }

    /// The rest of an entry's own fields, in order (label length, kind,
    /// state, digest): its flags, or the problem. Call after `identity`.
    private static func fieldFlags(_ view: View, _ entry: Int) -> Result<UInt8, EntryProblem> {
        let label = view.content(entry, .label)!, kind = view.content(entry, .kind)!
        let state = view.content(entry, .state)!, digest = view.content(entry, .digest)!
        let maximumLabelBytes = LabelRules.maximumBytes
        guard label.count > 0, label.count <= maximumLabelBytes else {
            return .failure(.init("the label is empty or longer than \(maximumLabelBytes) bytes"))
        }
        guard equal(kind, "api") || equal(kind, "zbot") else { return .failure(.init("unknown kind")) }
        let active = equal(state, "active")
        guard active || equal(state, "revoked") else { return .failure(.init("unknown state")) }
        guard digest.count == 64, isLowercaseHex(digest) else { return .failure(.init("malformed digest")) }
        let labelIsASCII = !label.contains { $0 >= 0x80 }
        return .success((active ? activeFlag : 0) | (labelIsASCII ? asciiLabelFlag : 0))
    }

    private struct EntryProblem: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Every check of `validateInOrder`, split over the cores: each entry's
    /// own fields in contiguous parts, then unique ids and unique active
    /// labels side by side. Only says whether all pass (nil if not), and
    /// declines (nil) when an active label is not ASCII, since such labels
    /// are compared as Strings.
    private func checkedInParallel() -> (packedIDs: [UInt64], flags: [UInt8])? {
        let count = self.count
        let parts = min(Parallel.processorCount, 4)
        return withView { view -> ([UInt64], [UInt8])? in
            var packedIDs = [UInt64](repeating: 0, count: count)
            var flags = [UInt8](repeating: 0, count: count)
            var failed = [Bool](repeating: false, count: parts)
            packedIDs.withUnsafeMutableBufferPointer { packedIDs in
                flags.withUnsafeMutableBufferPointer { flags in
                    failed.withUnsafeMutableBufferPointer { failed in
                        Parallel.run(parts: parts) { part in
                            for entry in (count * part / parts)..<(count * (part + 1) / parts) {
                                // An active non-ASCII label compares as a String: the ordered path's case.
                                guard case .success(let packed) = Self.identity(view, entry),
                                      case .success(let entryFlags) = Self.fieldFlags(view, entry),
                                      entryFlags & Self.activeFlag == 0 || entryFlags & Self.asciiLabelFlag != 0 else {
                                    failed[part] = true
                                    return
                                }
                                packedIDs[entry] = packed
                                flags[entry] = entryFlags
                            }
                        }
                    }
                }
            }
            guard !failed.contains(true) else { return nil }
            var duplicated = [false, false]
            duplicated.withUnsafeMutableBufferPointer { duplicated in
                Parallel.run(parts: 2) { part in
                    var seen = EntryHashTable(count: count)
                    if part == 0 {
                        duplicated[0] = (0..<count).contains { entry in
                            !seen.insert(entry, hash: packedIDs[entry]) { packedIDs[$0] == packedIDs[entry] }
                        }
                    } else {
                        duplicated[1] = (0..<count).contains { entry in
                            guard flags[entry] & Self.activeFlag != 0 else { return false }
                            let label = view.content(entry, .label)!
                            return !seen.insert(entry, hash: EntryHashTable.hash(label)) { Self.equal(view.content($0, .label)!, label) }
                        }
                    }
                }
            }
            return duplicated.contains(true) ? nil : (packedIDs, flags)
        }
    }

    /// The checks of `IndexFile.validate`, entry by entry in the same order,
    /// so the same first problem is reported.
    private mutating func validateInOrder(path: String) throws {
        let count = self.count
        var packedIDs: [UInt64] = []
        packedIDs.reserveCapacity(count)
        var flags = [UInt8](repeating: 0, count: count)
        try withView { view in
            var ids = Set<UInt64>(minimumCapacity: count)
            // Byte equality is string equality only between ASCII strings; a
            // vault with any other active label compares labels as strings.
            var anyUnicodeLabel = false
            for entry in 0..<count where view.content(entry, .state).map({ Self.equal($0, "active") }) == true {
                if view.content(entry, .label)?.contains(where: { $0 >= 0x80 }) == true { anyUnicodeLabel = true; break }
            }
            var byteLabels = Set<ByteString>(minimumCapacity: anyUnicodeLabel ? 0 : count)
            var stringLabels = Set<String>(minimumCapacity: anyUnicodeLabel ? count : 0)
            for entry in 0..<count {
                func bad(_ problem: EntryProblem) -> VaultError {
                    .corrupt(path: path, reason: "token #\(entry + 1): \(problem.reason)")
                }
                let packed = try Self.identity(view, entry).mapError(bad).get()
                guard ids.insert(packed).inserted else {
                    throw bad(.init("duplicate id \(String(decoding: view.content(entry, .id)!, as: UTF8.self))"))
                }
                packedIDs.append(packed)
                flags[entry] = try Self.fieldFlags(view, entry).mapError(bad).get()
                if flags[entry] & Self.activeFlag != 0 {
                    let label = view.content(entry, .label)!
                    let inserted = anyUnicodeLabel
                        ? stringLabels.insert(String(decoding: label, as: UTF8.self)).inserted
                        : byteLabels.insert(ByteString(label)).inserted
                    guard inserted else { throw bad(.init("duplicate active label")) }
                }
            }
        }
        self.packedIDs = packedIDs
        self.flags = flags
    }

    /// `allSatisfy(Hex.isDigit)` without a branch per byte.
    static func isLowercaseHex(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var bad: UInt8 = 0
        for c in bytes {
            let notDigit: UInt8 = c &- 0x30 < 10 ? 0 : 1
            let notLetter: UInt8 = c &- 0x61 < 6 ? 0 : 1
            bad |= notDigit & notLetter
        }
        return bad == 0
    }

    /// A set of entry numbers for finding a duplicate key among many, faster
    /// than `Set` (SipHash per key was a third of checking a large index):
    /// open addressing, slots chosen by multiplying the key's hash by a
    /// random odd number, so a crafted index cannot aim its keys at one slot.
    struct EntryHashTable {
        private var slots: [Int32]          // entry + 1; 0 is empty
        private let shift: UInt64
        private static let multiplier = UInt64.random(in: 0...UInt64.max) | 1
        private static let seed = UInt64.random(in: 0...UInt64.max)

        init(count: Int) {
            var bits: UInt64 = 4
            while 1 << bits < 2 * count { bits += 1 }
            slots = [Int32](repeating: 0, count: 1 << bits)
            shift = 64 - bits
        }

        /// Adds `entry` unless an entry whose key is equal (`equal(other)`)
        /// is already there; false then.
        mutating func insert(_ entry: Int, hash: UInt64, equal: (Int) -> Bool) -> Bool {
            let mask = slots.count - 1
            var slot = Int(truncatingIfNeeded: (hash &* Self.multiplier) >> shift)
            while slots[slot] != 0 {
                if equal(Int(slots[slot]) - 1) { return false }
                slot = (slot + 1) & mask
            }
            slots[slot] = Int32(entry + 1)
            return true
        }

        /// A seeded hash of bytes, eight at a time.
        static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
            var hash = seed ^ UInt64(bytes.count)
            guard let base = bytes.baseAddress else { return hash }
            var offset = 0
            while offset + 8 <= bytes.count {
                hash = (hash ^ UnsafeRawPointer(base + offset).loadUnaligned(as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
                hash ^= hash >> 29
                offset += 8
            }
            var tail: UInt64 = 0
            for (i, byte) in bytes[offset...].enumerated() { tail |= UInt64(byte) << (8 * UInt64(i)) }
            hash = (hash ^ tail) &* 0x9E37_79B9_7F4A_7C15
            return hash ^ (hash >> 32)
        }
    }

    /// Bytes in a buffer that outlives the set holding them.
    private struct ByteString: Hashable {
        let bytes: UnsafeBufferPointer<UInt8>
        init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }
        static func == (a: ByteString, b: ByteString) -> Bool { IndexTable.equal(a.bytes, b.bytes) }
        func hash(into hasher: inout Hasher) { hasher.combine(bytes: UnsafeRawBufferPointer(bytes)) }
    }

    static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress else { return true }
        return memcmp(x, y, a.count) == 0
    }

    static func equal(_ a: UnsafeBufferPointer<UInt8>, _ word: StaticString) -> Bool {
        word.withUTF8Buffer { equal(a, $0) }
    }

    // MARK: Scanning the writer's layout

    /// Scans bytes in exactly the layout `IndexWriter` writes, with version 1
    /// and every required field a string; nil for anything else, which
    /// `IndexReader` then reads (and reports, if it is wrong).
    private init?(scanning bytes: IndexBytes) {
        storage = bytes
        version = IndexFile.currentVersion
        guard let scanner = bytes.withUnsafeBufferPointer(Scanner.scanned) else { return nil }
        spans = scanner.spans
        bounds = scanner.bounds
        unescaped = scanner.unescaped
        scannedParts = scanner.parts
    }

    /// True when `bytes` are in the writer's layout (read without IndexReader).
    static func isInWriterLayout(_ bytes: [UInt8]) -> Bool {
        var scanner = Scanner()
        return bytes.withUnsafeBufferPointer { scanner.scan($0) }
    }

    private struct Scanner {
        var spans: [Span] = []
        var bounds: [(start: Int32, end: Int32)] = []
        var unescaped: [UInt8] = []
        var position = 0
        /// How many scanners' work this one holds (`scanned`).
        var parts = 1

        /// A key with the `" : "` after it, as up to 16 bytes to compare with
        /// two loads: `low`, then `high` under `mask`.
        struct KeyPattern {
            let low: UInt64, lowMask: UInt64, high: UInt64, highMask: UInt64, count: Int
            let field: Int, required: Bool

            init(_ key: StaticString, _ field: Field, required: Bool) {
                let count = key.utf8CodeUnitCount
                precondition(count <= 16)
                var bytes = [UInt8](repeating: 0, count: 16)
                key.withUTF8Buffer { for i in 0..<count { bytes[i] = $0[i] } }
                func word(_ from: Int) -> UInt64 {
                    (0..<8).reduce(0) { $0 | UInt64(bytes[from + $1]) << (8 * $1) }
                }
                func mask(_ bytes: Int) -> UInt64 {
                    bytes >= 8 ? ~0 : bytes <= 0 ? 0 : (1 << (8 * UInt64(bytes))) - 1
                }
                low = word(0)
                high = word(8)
                lowMask = mask(count)
                highMask = mask(count - 8)
                self.count = count
                self.field = field.rawValue
                self.required = required
            }

            /// True when the 16 bytes at `at` start with this key.
            @inline(__always)
            func matches(_ at: UnsafeRawPointer) -> Bool {
                at.loadUnaligned(as: UInt64.self) & lowMask == low
                    && at.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & highMask == high
            }
        }

        /// A separator of up to 8 bytes, compared with one load. Only where
        /// a whole file has at least 8 more bytes (more of the layout follows).
        struct Separator {
            let word: UInt64, mask: UInt64, count: Int

            init(_ text: StaticString) {
                count = text.utf8CodeUnitCount
                precondition(count <= 8)
                var word: UInt64 = 0
                text.withUTF8Buffer { for (i, byte) in $0.enumerated() { word |= UInt64(byte) << (8 * UInt64(i)) } }
                self.word = word
                mask = count == 8 ? ~0 : (1 << (8 * UInt64(count))) - 1
            }
        }
        let firstField = Separator("\n      \"")
        let entryEnd = Separator("\n    }")
        let entrySeparator = Separator(",\n    ")

        /// Consumes `separator` if it is next (and 8 bytes remain).
        @inline(__always)
        mutating func separator(_ separator: Separator, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
            guard b.count - position >= 8,
                  UnsafeRawPointer(b.baseAddress! + position).loadUnaligned(as: UInt64.self) & separator.mask == separator.word
            else { return false }
            position += separator.count
            return true
        }

        // Keys in the writer's (sorted) order, with their field and whether required.
        static let keys: [KeyPattern] = [
            KeyPattern("agent\" : \"", .agent, required: false),
            KeyPattern("createdAt\" : \"", .createdAt, required: true),
            KeyPattern("digest\" : \"", .digest, required: true),
            KeyPattern("id\" : \"", .id, required: true),
            KeyPattern("kind\" : \"", .kind, required: true),
            KeyPattern("label\" : \"", .label, required: true),
            KeyPattern("last4\" : \"", .last4, required: true),
            KeyPattern("revokedAt\" : \"", .revokedAt, required: false),
            KeyPattern("serverURL\" : \"", .serverURL, required: false),
            KeyPattern("state\" : \"", .state, required: true),
        ]
        let keys = Scanner.keys

        /// The whole index scanned; a large one in parts on every core,
        /// each part starting at an entry's `{`.
        ///
        /// Parts start after the first `\n    },\n    {` past an even
        /// share of the bytes. In the writer's layout those bytes occur only
        /// between entries (a string cannot hold a raw newline); if they are
        /// found anywhere else, the part before them meets the raw newline
        /// inside its string and the scan fails, as it would in one piece.
        static func scanned(_ b: UnsafeBufferPointer<UInt8>) -> Scanner? {
            let parts = b.count >= IndexTable.parallelBytes ? min(Parallel.processorCount, 4) : 1
            var starts: [Int] = []
            for part in 1..<max(parts, 1) {
                guard let next = entryStart(in: b, from: max(b.count * part / parts, (starts.last ?? 0) + 1)) else { break }
                starts.append(next)
            }
            if starts.isEmpty {
                var scanner = Scanner()
                return scanner.scan(b) ? scanner : nil
            }
            var scanners = [Scanner](repeating: Scanner(), count: starts.count + 1)
            var ok = [Bool](repeating: false, count: scanners.count)
            scanners.withUnsafeMutableBufferPointer { scanners in
                ok.withUnsafeMutableBufferPointer { ok in
                    Parallel.run(parts: scanners.count) { part in
                        // A scanner of its own on each thread's stack, stored
                        // when done: side by side in the array, two scanners
                        // share a cache line, and `position` changes with
                        // every byte (that made two threads slower than one).
                        var scanner = Scanner()
                        if part == 0 {
                            ok[0] = scanner.scan(b, stop: starts[0])
                        } else {
                            let stop = part < starts.count ? starts[part] : b.count
                            scanner.position = starts[part - 1]
                            ok[part] = scanner.entries(b, stop: stop)
                                && (part < starts.count ? scanner.position == stop : scanner.trailer(b))
                        }
                        scanners[part] = scanner
                    }
                }
            }
            guard !ok.contains(false) else { return nil }
            var whole = scanners[0]
            whole.parts = scanners.count
            for part in scanners[1...] {
                // Escaped strings point into their part's `unescaped` (start -1 - offset).
                let shift = Int32(whole.unescaped.count)
                whole.spans.append(contentsOf: part.spans.lazy.map { $0.start < 0 ? Span(start: $0.start - shift, count: $0.count) : $0 })
                whole.bounds.append(contentsOf: part.bounds)
                whole.unescaped.append(contentsOf: part.unescaped)
            }
            return whole
        }

        /// The offset of the `{` after the first `\n    },\n    {` at or after `from`.
        static func entryStart(in b: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
            let separator: StaticString = "\n    },\n    {"
            let n = separator.utf8CodeUnitCount
            var at = from
            while at + n <= b.count {
                if b[at] == UInt8(ascii: "\n"), memcmp(b.baseAddress! + at, separator.utf8Start, n) == 0 { return at + n - 1 }
                at += 1
            }
            return nil
        }

        /// The whole index from its first byte, or (with `stop`) its header
        /// and the entries before the entry at `stop`.
        mutating func scan(_ b: UnsafeBufferPointer<UInt8>, stop: Int? = nil) -> Bool {
            guard b.count < Int(Int32.max) else { return false }
            guard literal("{\n  \"tokens\" : [", b) else { return false }
            if stop == nil, literal("\n\n  ]", b) {
                return literal(",\n  \"version\" : 1\n}\n", b) && position == b.count
            }
            guard literal("\n    ", b) else { return false }
            guard let stop else { return entries(b, stop: b.count) && trailer(b) }
            return entries(b, stop: stop) && position == stop
        }

        /// Entries from `position` (at a `{`), each but the list's last
        /// followed by `,\n    `: until an entry without one, or until a
        /// separator reaches `stop` (the first entry of the next part).
        mutating func entries(_ b: UnsafeBufferPointer<UInt8>, stop: Int) -> Bool {
            spans.reserveCapacity((stop - position) / 250 * IndexTable.fieldCount)
            bounds.reserveCapacity((stop - position) / 250)
            while position < stop {
                guard entry(b) else { return false }
                guard separator(entrySeparator, b) else { return true }
            }
            return position == stop
        }

        /// The end of the token list and the version, to the end of the file.
        mutating func trailer(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
            literal("\n  ],\n  \"version\" : 1\n}\n", b) && position == b.count
        }

        @inline(__always)
        mutating func literal(_ text: StaticString, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
            let n = text.utf8CodeUnitCount
            guard b.count - position >= n else { return false }
            let here = b.baseAddress! + position
            let expected = text.utf8Start
            for i in 0..<n where here[i] != expected[i] { return false }
            position += n
            return true
        }

        mutating func entry(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
            let start = position
            guard literal("{", b) else { return false }
            let base = spans.count
            for _ in 0..<IndexTable.fieldCount { spans.append(.absent) }
            var next = 0
            var first = true
            while next < keys.count {
                if !first {
                    guard position < b.count, b[position] == UInt8(ascii: ",") else { return false }
                    position += 1
                }
                guard separator(firstField, b) else { return false }
                first = false
                // The next key present: optional keys may be skipped, required ones not.
                var matched = false
                // Every key is followed by at least 16 bytes in a whole file.
                guard b.count - position >= 16 else { return false }
                let here = UnsafeRawPointer(b.baseAddress! + position)
                while next < keys.count {
                    let key = keys[next]
                    next += 1
                    if key.matches(here) {
                        position += key.count
                        guard let span = string(b) else { return false }
                        spans[base + key.field] = span
                        matched = true
                        break
                    }
                    if key.required { return false }
                }
                guard matched else { return false }
            }
            guard separator(entryEnd, b) else { return false }
            bounds.append((Int32(start), Int32(position)))
            return true
        }

        /// The rest of a string after its `"`, with only the escapes the writer
        /// writes; its content span, or nil.
        mutating func string(_ b: UnsafeBufferPointer<UInt8>) -> Span? {
            let start = position
            let bytes = b.baseAddress!
            var high = false
            while true {
                // Eight bytes at a time while none is special (most of a digest
                // or date), then straight to the first special one.
                if b.count - position >= 8 {
                    let special = Self.specialBytes(UnsafeRawPointer(bytes + position).loadUnaligned(as: UInt64.self))
                    if special == 0 {
                        position += 8
                        continue
                    }
                    position += special.trailingZeroBitCount / 8
                }
                guard position < b.count else { return nil }
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    let span = Span(start: Int32(start), count: Int32(position - start))
                    position += 1
                    if high {
                        guard String(validating: UnsafeBufferPointer(rebasing: b[start..<(position - 1)]), as: UTF8.self) != nil else { return nil }
                    }
                    return span
                }
                if byte == UInt8(ascii: "\\") { return escapedString(b, from: start) }
                if byte < 0x20 { return nil }
                if byte >= 0x80 { high = true }
                position += 1
            }
        }

        /// The high bit of each of the eight bytes that is a quote, a
        /// backslash, a control character or non-ASCII (the "has zero byte"
        /// and "has byte less than" word tests). Bits above the lowest set
        /// one may be false alarms (borrows); the lowest is exact.
        @inline(__always)
        static func specialBytes(_ x: UInt64) -> UInt64 {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let quote = x ^ (ones &* 0x22)
            let backslash = x ^ (ones &* 0x5C)
            let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                | ((x &- ones &* 0x20) & ~x) | x
            return special & (ones &* 0x80)
        }

        /// A string with escapes, from the start of its content: unescaped
        /// into `unescaped`. Only the writer's escapes: \" \\ \b \t \n \f \r,
        /// and \u00xx (lowercase) for the other control characters.
        mutating func escapedString(_ b: UnsafeBufferPointer<UInt8>, from start: Int) -> Span? {
            let offset = unescaped.count
            position = start
            while position < b.count {
                let byte = b[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    let content = offset..<unescaped.count
                    guard unescaped.withUnsafeBufferPointer({
                        String(validating: UnsafeBufferPointer(rebasing: $0[content]), as: UTF8.self) != nil
                    }) else { return nil }
                    return Span(start: Int32(-1 - offset), count: Int32(content.count))
                case 0x00..<0x20:
                    return nil
                case UInt8(ascii: "\\"):
                    guard position < b.count else { return nil }
                    let escape = b[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"): unescaped.append(escape)
                    case UInt8(ascii: "b"): unescaped.append(0x08)
                    case UInt8(ascii: "t"): unescaped.append(0x09)
                    case UInt8(ascii: "n"): unescaped.append(0x0A)
                    case UInt8(ascii: "f"): unescaped.append(0x0C)
                    case UInt8(ascii: "r"): unescaped.append(0x0D)
                    case UInt8(ascii: "u"):
                        guard b.count - position >= 4, b[position] == 0x30, b[position + 1] == 0x30 else { return nil }
                        let hex = Array("0123456789abcdef".utf8)
                        guard b[position + 2] <= 0x31, let high = hex.firstIndex(of: b[position + 2]),
                              let low = hex.firstIndex(of: b[position + 3]) else { return nil }
                        let value = UInt8(high << 4 | low)
                        // The writer uses the short forms where there are some.
                        guard ![0x08, 0x09, 0x0A, 0x0C, 0x0D].contains(value) else { return nil }
                        unescaped.append(value)
                        position += 4
                    default:
                        return nil
                    }
                default:
                    unescaped.append(byte)
                }
            }
            return nil
        }
    }
}

extension TokenID {
    /// The 60-bit value of a well-formed id (5 bits a character); nil for
    /// anything `isValid` refuses.
    static func packed(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard bytes.count == length else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            let digit: UInt8
            switch byte {
            case 0x61...0x7A: digit = byte - 0x61
            case 0x32...0x37: digit = byte - 0x32 + 26
            default: return nil
            }
            value = value << 5 | UInt64(digit)
        }
        return value
    }

    static func packed(_ text: String) -> UInt64? {
        var text = text
        return text.withUTF8 { packed($0) }
    }
}
