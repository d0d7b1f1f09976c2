// IndexTable (the byte-range index every command reads) against the String
// model it replaces: it must accept exactly what IndexCodec.decode followed by
// IndexFile.validate accepts, read the same values, refuse the rest with the
// same error, and write exactly what IndexWriter writes for the changed model.
import Testing
@_spi(Bench) @testable import TokenVault

@Suite struct IndexTableTests {
    static let path = "/vault/index.json"
    typealias SplitMix = IndexCodecFastTests.SplitMix

    /// The old path: the String decoder, then the String checks.
    static func oldRead(_ bytes: [UInt8]) -> Result<IndexFile, VaultError> {
        do {
            let index = try IndexCodec.decode(bytes, path: path)
            try index.validate(path: path)
            return .success(index)
        } catch let error as VaultError {
            return .failure(error)
        } catch {
            Issue.record("unexpected \(error)")
            return .failure(.corrupt(path: path, reason: "\(error)"))
        }
    }

    static func newRead(_ bytes: [UInt8]) -> Result<IndexTable, VaultError> {
        do {
            return .success(try IndexTable(bytes: bytes, path: path))
        } catch let error as VaultError {
            return .failure(error)
        } catch {
            Issue.record("unexpected \(error)")
            return .failure(.corrupt(path: path, reason: "\(error)"))
        }
    }

    /// Both readers agree on `bytes`: the same index, or the same error.
    static func expectSameAnswer(_ bytes: [UInt8], _ comment: Comment? = nil,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        switch (oldRead(bytes), newRead(bytes)) {
        case let (.success(old), .success(new)):
            #expect(new.indexFile == old, comment, sourceLocation: sourceLocation)
            #expect(new.bytes == IndexWriter.encode(old), comment, sourceLocation: sourceLocation)
            for position in 0..<new.count {
                #expect(new.isActive(position) == (old.tokens[position].state == "active"), sourceLocation: sourceLocation)
            }
        case let (.failure(old), .failure(new)):
            #expect(new == old, comment, sourceLocation: sourceLocation)
        case let (old, new):
            Issue.record("old \(old) new \(new) \(comment.map { "\($0)" } ?? "")", sourceLocation: sourceLocation)
        }
    }

    /// A random index that passes validate: labels and optional fields with
    /// escapes, control characters and non-ASCII text.
    static func randomIndex(seed: UInt64) -> IndexFile {
        var index = IndexCodecFastTests.randomIndex(seed: seed)
        var rng = SplitMix(state: seed ^ 0x5555)
        for position in index.tokens.indices where rng.below(4) == 0 {
            index.tokens[position].label += ["é", "e\u{301}", "\"q\"", "\\", "\u{7}", "K"][rng.below(6)]
        }
        return index
    }

    // MARK: Reading

    @Test(arguments: 0..<300)
    func readsWhatTheWriterWroteAsTheOldReaderDid(seed: UInt64) throws {
        let index = Self.randomIndex(seed: seed)
        let bytes = IndexWriter.encode(index)
        #expect(IndexTable.isInWriterLayout(bytes), "seed \(seed): the writer's output takes the fast path")
        Self.expectSameAnswer(bytes, "seed \(seed)")
    }

    @Test func readsAnEmptyIndex() throws {
        let bytes = IndexWriter.encode(IndexFile(version: 1, tokens: []))
        #expect(IndexTable.isInWriterLayout(bytes))
        let table = try IndexTable(bytes: bytes, path: Self.path)
        #expect(table.count == 0)
        #expect(table.encoded() == bytes)
    }

    /// Files another tool reformatted read through IndexReader and come out
    /// in the writer's layout.
    @Test(arguments: 0..<60)
    func readsReformattedFilesAsTheOldReaderDid(seed: UInt64) throws {
        let index = Self.randomIndex(seed: seed)
        let ours = String(decoding: IndexWriter.encode(index), as: UTF8.self)
        let variants = [
            ours.replacing("\" : ", with: "\": "),                      // jq .
            ours.replacing("\n", with: "").replacing("  ", with: ""),    // compact-ish
            ours.replacing("\"kind\" : \"api\"", with: "\"kind\" : \"\\u0061pi\""),
            ours.replacing("\"kind\" : \"zbot\"", with: "\"extra\" : {\"a\" : [1, null]},\n      \"kind\" : \"zbot\""),
            ours.replacing("\"last4\"", with: "\"revokedAt\" : null,\n      \"last4\""),
            ours.replacing("https:", with: "https:\\/\\/"),
            ours.replacing("\"version\" : 1", with: "\"version\" : 1 "),
            " " + ours,
        ]
        for (number, text) in variants.enumerated() {
            Self.expectSameAnswer(Array(text.utf8), "seed \(seed) variant \(number)")
        }
    }

    /// Any byte changed, inserted or removed: the same answer as before.
    @Test(arguments: 0..<40)
    func answersMutatedFilesAsTheOldReaderDid(seed: UInt64) throws {
        var rng = SplitMix(state: seed &* 7919)
        let original = IndexWriter.encode(Self.randomIndex(seed: seed))
        let alphabet = Array("\"\\{}[],: \nu0aAé\u{0}".utf8) + [0xFF, 0xC3, 0x80]
        for _ in 0..<50 {
            var bytes = original
            for _ in 0..<(1 + rng.below(3)) where !bytes.isEmpty {
                let at = rng.below(bytes.count)
                switch rng.below(3) {
                case 0: bytes[at] = alphabet[rng.below(alphabet.count)]
                case 1: bytes.insert(alphabet[rng.below(alphabet.count)], at: at)
                default: bytes.remove(at: at)
                }
            }
            Self.expectSameAnswer(bytes, "seed \(seed)")
        }
    }

    /// An index large enough to be scanned in parts and checked on every
    /// core (`IndexTable.parallelEntries`): ASCII active labels, some with
    /// escapes (so every part has unescaped strings), revoked entries with
    /// any text, optional fields here and there.
    static func largeIndex(seed: UInt64, count: Int = 5_000) -> IndexFile {
        var rng = SplitMix(state: seed)
        let extras = ["", "\"q\"", "\\", "\t", "a/b", "\u{7}"]
        let tokens = (0..<count).map { n -> IndexFile.Entry in
            let revoked = rng.below(5) == 0
            return IndexFile.Entry(
                id: TokenID.make(), label: "label-\(n)" + (revoked ? IndexCodecFastTests.randomText(&rng) : extras[rng.below(extras.count)]),
                kind: rng.below(2) == 0 ? "api" : "zbot", createdAt: "2026-11-29T01:29:2\(n % 10)Z",
                last4: String(n % 10_000), digest: Hex.encode(Sodium.randomBytes(32)), state: revoked ? "revoked" : "active",
                revokedAt: revoked ? "2026-11-30T00:00:00Z" : nil, agent: rng.below(3) == 0 ? "agent-\(n)" : nil,
                serverURL: rng.below(3) == 0 ? "https://zephyr.example/\(n)" : nil)
        }
        return IndexFile(version: 1, tokens: tokens)
    }

    @Test(arguments: 0..<3)
    func aLargeIndexReadsInPartsAsTheOldReaderDid(seed: UInt64) throws {
        let index = Self.largeIndex(seed: seed)
        let bytes = IndexWriter.encode(index)
        #expect(bytes.count >= IndexTable.parallelBytes && index.tokens.count >= IndexTable.parallelEntries)
        Self.expectSameAnswer(bytes, "seed \(seed)")
        // The same answer comes from the one-piece path too: check the fast one ran.
        let table = try IndexTable(bytes: bytes, path: Self.path)
        #expect(table.scannedParts == min(Parallel.processorCount, 4))
        #expect(table.checkedOnEveryCore == (Parallel.processorCount > 1))
    }

    /// Problems anywhere in a large index, alone and in pairs: the first in
    /// file order is reported, as when it is read in one piece.
    @Test(arguments: 0..<24)
    func aLargeIndexReportsTheFirstProblemAsTheOldReaderDid(seed: UInt64) throws {
        var rng = SplitMix(state: seed &* 104_729)
        var index = Self.largeIndex(seed: seed, count: 4_000)
        let active = index.tokens.indices.filter { index.tokens[$0].state == "active" }
        for round in 0..<(1 + rng.below(2)) {
            let at = rng.below(index.tokens.count)
            // Every kind of problem is planted first by some seed.
            switch (Int(seed) + 4 * round) % 9 {
            case 6: index.tokens[at].id = "not-an-id!!!"
            case 7: index.tokens[at].label = String(repeating: "x", count: LabelRules.maximumBytes + 1)
            case 8: index.tokens[at].kind = "API"
            case 0: index.tokens[at].id = index.tokens[rng.below(index.tokens.count)].id
            case 1: index.tokens[active[rng.below(active.count)]].label = index.tokens[active[rng.below(active.count)]].label
            case 2: index.tokens[at].digest = "nothex"
            case 3: index.tokens[at].state = "Active"
            case 4: index.tokens[at].label = ""
            default: index.tokens[active[rng.below(active.count)]].label = "non-ASCII é \(at)"
            }
        }
        Self.expectSameAnswer(IndexWriter.encode(index), "seed \(seed)")
    }

    /// The duplicate finder of a large index: exact however keys hash, even
    /// when every key lands on one slot.
    @Test(arguments: [false, true])
    func theEntryHashTableFindsExactlyTheDuplicates(allInOneSlot: Bool) {
        let keys = (0..<3_000).map { "label-\($0 % 2_500)" }.map { Array($0.utf8) }
        var table = IndexTable.EntryHashTable(count: keys.count)
        var seen = Set<[UInt8]>()
        for (entry, key) in keys.enumerated() {
            let hash = allInOneSlot ? 0 : key.withUnsafeBufferPointer(IndexTable.EntryHashTable.hash)
            let inserted = table.insert(entry, hash: hash) { keys[$0] == key }
            #expect(inserted == seen.insert(key).inserted, "entry \(entry)")
        }
        #expect(seen.count == 2_500)
    }

    /// The bytes the parts are split at, inside a string (only possible with
    /// a raw newline, which JSON does not allow): refused as in one piece.
    @Test func aSplitPatternInsideAStringIsRefused() throws {
        var bytes = IndexWriter.encode(Self.largeIndex(seed: 7))
        let label = Array("\"label-2500".utf8)
        let at = (0..<(bytes.count - label.count)).first { Array(bytes[$0..<($0 + label.count)]) == label }!
        bytes.insert(contentsOf: Array("\n    },\n    {".utf8), at: at + label.count)
        Self.expectSameAnswer(bytes)
        #expect(throws: VaultError.self) { try IndexTable(bytes: bytes, path: Self.path) }
    }

    // MARK: Refusing

    static func entry(_ id: String, _ label: String, state: String = "active", kind: String = "api",
                      digest: String? = nil) -> IndexFile.Entry {
        IndexCodecTests.entry(id, label, state: state, kind: kind, digest: digest)
    }

    static let invalid: [(String, [IndexFile.Entry])] = [
        ("malformed id", [entry("aaaaaaaaaaa", "a")]),
        ("malformed id", [entry("aaaaaaaaaaa1", "a")]),
        ("malformed id", [entry("AAAAAAAAAAAA", "a")]),
        ("malformed id", [entry("aaaaaaaaaa/.", "a")]),
        ("duplicate id", [entry("aaaaaaaaaaaa", "a", state: "revoked"), entry("aaaaaaaaaaaa", "b")]),
        ("empty", [entry("aaaaaaaaaaaa", "")]),
        ("longer than", [entry("aaaaaaaaaaaa", String(repeating: "x", count: 1025))]),
        ("longer than", [entry("aaaaaaaaaaaa", String(repeating: "é", count: 513))]),
        ("unknown kind", [entry("aaaaaaaaaaaa", "a", kind: "API")]),
        ("unknown kind", [entry("aaaaaaaaaaaa", "a", kind: "")]),
        ("unknown state", [entry("aaaaaaaaaaaa", "a", state: "Active")]),
        ("unknown state", [entry("aaaaaaaaaaaa", "a", state: "revoked ")]),
        ("malformed digest", [entry("aaaaaaaaaaaa", "a", digest: "")]),
        ("malformed digest", [entry("aaaaaaaaaaaa", "a", digest: String(repeating: "A", count: 64))]),
        ("malformed digest", [entry("aaaaaaaaaaaa", "a", digest: String(repeating: "0", count: 63))]),
        ("malformed digest", [entry("aaaaaaaaaaaa", "a", digest: String(repeating: "é", count: 32))]),
        ("duplicate active label", [entry("aaaaaaaaaaaa", "ci"), entry("bbbbbbbbbbbb", "ci")]),
        ("duplicate active label", [entry("aaaaaaaaaaaa", "a\"b\\"), entry("bbbbbbbbbbbb", "a\"b\\")]),
        // Swift strings compare by canonical equivalence, and so did the old check.
        ("duplicate active label", [entry("aaaaaaaaaaaa", "caf\u{e9}"), entry("bbbbbbbbbbbb", "cafe\u{301}")]),
        ("duplicate active label", [entry("aaaaaaaaaaaa", "K"), entry("bbbbbbbbbbbb", "\u{212A}")]),
        // The first problem in file order wins.
        ("token #2: malformed id", [entry("aaaaaaaaaaaa", "ci"), entry("bad", "ci"), entry("aaaaaaaaaaaa", "x")]),
        ("token #3: duplicate id", [entry("aaaaaaaaaaaa", "ci"), entry("bbbbbbbbbbbb", "x"), entry("aaaaaaaaaaaa", "ci", kind: "x")]),
    ]

    @Test(arguments: invalid.indices)
    func refusesWhatValidateRefusedWithTheSameError(case number: Int) throws {
        let (problem, entries) = Self.invalid[number]
        let bytes = IndexWriter.encode(IndexFile(version: 1, tokens: entries))
        #expect(IndexTable.isInWriterLayout(bytes))
        do {
            _ = try IndexTable(bytes: bytes, path: Self.path)
            Issue.record("accepted: \(problem)")
        } catch let VaultError.corrupt(path, reason) {
            #expect(path == Self.path)
            #expect(reason.contains(problem), "\(reason)")
        }
        Self.expectSameAnswer(bytes, "\(problem)")
    }

    @Test func anEscapedLabelEqualsItsUnescapedForm() throws {
        // `\u00e9` is not the writer's escape: IndexReader reads it.
        let digest = String(repeating: "0f", count: 32)
        func entry(_ id: String, _ label: String) -> String {
            #"{"createdAt":"t","digest":"\#(digest)","id":"\#(id)","kind":"api","label":"\#(label)","last4":"abcd","state":"active"}"#
        }
        let text = #"{"tokens":[\#(entry("aaaaaaaaaaaa", "caf\\u00e9")),\#(entry("bbbbbbbbbbbb", "café"))],"version":1}"#
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #2: duplicate active label")) {
            try IndexTable(bytes: Array(text.utf8), path: Self.path)
        }
        let quoted = #"{"tokens":[\#(entry("aaaaaaaaaaaa", "a\\\"b")),\#(entry("bbbbbbbbbbbb", "a\\u0022b"))],"version":1}"#
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #2: duplicate active label")) {
            try IndexTable(bytes: Array(quoted.utf8), path: Self.path)
        }
        Self.expectSameAnswer(Array(text.utf8))
        Self.expectSameAnswer(Array(quoted.utf8))
    }

    @Test func refusesWhatTheDecoderRefusedWithTheSameError() {
        for text in ["", "{", #"{"tokens":[]}"#, #"{"tokens":[],"version":2}"#, #"{"version":1}"#,
                     #"{"tokens":{},"version":1}"#, #"{"tokens":[{"id":"aaaaaaaaaaaa"}],"version":1}"#,
                     "{\n  \"tokens\" : [\n\n  ],\n  \"version\" : 2\n}\n",
                     "{\n  \"tokens\" : [\n\n  ],\n  \"version\" : 1\n}\n}"] {
            #expect(throws: VaultError.self) { try IndexTable(bytes: Array(text.utf8), path: Self.path) }
            Self.expectSameAnswer(Array(text.utf8), "\(text)")
        }
    }

    // MARK: Finding

    @Test func findsByIDLabelAndDigest() throws {
        let entries = [Self.entry("aaaaaaaaaaaa", "ci", state: "revoked"), Self.entry("bbbbbbbbbbbb", "ci"),
                       Self.entry("cccccccccccc", "caf\u{e9}"), Self.entry("dddddddddddd", "a\"b")]
        let table = try IndexTable(IndexFile(version: 1, tokens: entries), path: Self.path)
        #expect(table.position(ofID: "aaaaaaaaaaaa") == 0)
        #expect(table.position(ofID: "eeeeeeeeeeee") == nil)
        #expect(table.position(ofID: "AAAAAAAAAAAA") == nil)
        #expect(table.activePosition(ofLabel: "ci") == 1)
        #expect(table.activePosition(ofLabel: "cafe\u{301}") == 2)
        #expect(table.activePosition(ofLabel: "a\"b") == 3)
        #expect(table.activePosition(ofLabel: "c") == nil)
        #expect(table.activePosition(ofDigest: entries[0].digest) == nil, "revoked")
        #expect(table.activePosition(ofDigest: entries[1].digest) == 1)
        for (position, entry) in entries.enumerated() {
            #expect(table.constantTimePosition(ofDigest: Array(entry.digest.utf8)) == position)
        }
        #expect(table.constantTimePosition(ofDigest: Array(String(repeating: "0", count: 64).utf8)) == nil)
        #expect(table.info(3).label == "a\"b")
    }

    @Test func aDigestInTwoEntriesMatchesTheLastOne() throws {
        let digest = String(repeating: "ab", count: 32)
        let entries = [Self.entry("aaaaaaaaaaaa", "x", state: "revoked", digest: digest),
                       Self.entry("bbbbbbbbbbbb", "y", digest: digest)]
        let table = try IndexTable(IndexFile(version: 1, tokens: entries), path: Self.path)
        #expect(table.constantTimePosition(ofDigest: Array(digest.utf8)) == 1)
    }

    // MARK: Writing

    /// Replacing, removing and appending entries gives the writer's bytes for
    /// the model changed the same way.
    @Test(arguments: 0..<200)
    func encodesChangesAsTheWriterWould(seed: UInt64) throws {
        var rng = SplitMix(state: seed &+ 99)
        var index = Self.randomIndex(seed: seed)
        let table = try IndexTable(bytes: IndexWriter.encode(index), path: Self.path)
        var replaced: [Int: IndexFile.Entry] = [:]
        var removed = Set<Int>()
        for position in index.tokens.indices {
            switch rng.below(4) {
            case 0:
                var entry = index.tokens[position]
                entry.state = "revoked"
                entry.revokedAt = "2027-01-01T00:00:00Z"
                entry.label += rng.below(2) == 0 ? "\u{1}" : "ü"
                replaced[position] = entry
            case 1: removed.insert(position)
            default: break
            }
        }
        let appended = Self.randomIndex(seed: seed &+ 1000).tokens
        for (position, entry) in replaced { index.tokens[position] = entry }
        index.tokens = index.tokens.enumerated().filter { !removed.contains($0.offset) }.map(\.element) + appended
        #expect(table.encoded(replacing: replaced, removing: removed, appending: appended) == IndexWriter.encode(index),
                "seed \(seed)")
    }

    /// Through a vault: after creates, revokes and discards the file is what
    /// the full writer would write for it.
    @Test func aVaultsIndexStaysInTheWritersLayout() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        func check() throws {
            let bytes = try #require(scratch.bytes("vault/index.json"))
            #expect(bytes == IndexWriter.encode(try IndexCodec.decode(bytes, path: Self.path)))
            #expect(IndexTable.isInWriterLayout(bytes))
        }
        var made: [CreatedToken] = []
        for n in 0..<12 {
            made.append(try vault.create(label: ["ci \(n)", "caf\u{e9} \(n)", "q\"\\ \(n)"][n % 3]))
            try check()
        }
        try vault.revoke(ids: [made[3].info.id])
        try check()
        try vault.revoke(ids: [made[0].info.id, made[7].info.id, made[11].info.id])
        try check()
        try vault.discard(made[5])
        try check()
        _ = try vault.create(label: "ci 0")
        try check()
        try vault.revokeAll()
        try check()
        #expect(try vault.tokens().isEmpty)
        #expect(try vault.tokens(includeRevoked: true).count == 12)
    }

    /// A large index is mapped rather than read (IndexBytes); what commands
    /// see must be exactly what reading the file gives, and writes must go on
    /// from it (a mapping of the replaced file must not leak into the new one).
    @Test func aMappedIndexReadsAndWritesAsAReadOne() throws {
        TestVault.useMinimalKDF()
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        _ = try vault.createMany(labels: (1...1_100).map { "mapped-\($0)" })
        let onDisk = try #require(scratch.bytes("vault/index.json"))
        #expect(onDisk.count >= IndexBytes.mappingThreshold, "the index is too small to be mapped")

        let mapped = try vault.readIndex()
        #expect(mapped.isMapped, "the large index was read, not mapped")
        let read = try IndexTable(bytes: onDisk, path: "index.json")
        #expect(!read.isMapped)
        #expect(mapped.bytes == onDisk)
        #expect(mapped.indexFile == read.indexFile)

        let created = try vault.create(label: "after-mapping")
        let revoked = try vault.revoke(ids: [created.info.id, mapped.id(0)])
        #expect(revoked.map(\.id) == [created.info.id, mapped.id(0)])
        let after = try IndexCodec.decode(try #require(scratch.bytes("vault/index.json")), path: "index.json")
        #expect(after.tokens.count == 1_101)
        #expect(after.tokens.filter { $0.state == "revoked" }.map(\.id).sorted() == [created.info.id, mapped.id(0)].sorted())
    }
}
