import FoundationEssentials
import Testing

@testable import TokenVault

// index.json: the strict reader (JSON.swift) and the index's own rules
// (Index.validate), and that a vault refuses, without touching it, an index
// that breaks them. The writer is JSONEncoder; what it writes must stay
// byte for byte what ztoken 0.1 wrote (fixtures/legacy-v1).
#if canImport(Glibc)
import Glibc
#endif

@Suite struct IndexTests {
    static let path = "/v/index.json"

    static func decode(_ text: String) throws -> Index { try Index.decode(Array(text.utf8), path: path) }

    static func entry(
        _ id: String, _ label: String, state: TokenState = .active, kind: TokenKind = .api,
        digest: String? = nil
    ) -> Index.Entry {
        Index.Entry(
            id: id, label: label, kind: kind, createdAt: "2026-01-01T00:00:00Z", last4: "abcd",
            digest: digest ?? Hex.encode(Sodium.blake2b256(Array((id + label).utf8))), state: state,
            revokedAt: state == .revoked ? "2026-01-02T00:00:00Z" : nil)
    }

    static func validate(_ entries: [Index.Entry]) throws {
        try Index(tokens: entries).validate(path: path)
    }

    static let digest = String(repeating: "0f", count: 32)
    static func document(_ fields: String) -> String { #"{"version":1,"tokens":[{\#(fields)}]}"# }
    static let goodFields =
        #""id":"abcdefghijkl","label":"x","kind":"api","createdAt":"t","last4":"abcd","digest":"\#(digest)","state":"active""#

    // MARK: Byte compatibility

    /// The index of a vault made by ztoken 0.1 reads, and writes back to the
    /// same bytes: the on-disk format did not change.
    @Test func theLegacyIndexReadsAndWritesBackByteForByte() throws {
        let bytes = try #require(FileManager.default.contents(atPath: Fixtures.legacyVault + "/index.json"))
        let index = try Index.decode(Array(bytes), path: Self.path)
        #expect(index.tokens.map(\.label) == ["ci-runner", "old-one", "jira", "build-agent-7"])
        #expect(index.tokens.map(\.state) == [.active, .revoked, .active, .active])
        #expect(index.tokens[3].agent == "build-agent-7")
        #expect(index.encoded() == Array(bytes))
    }

    /// An imported token's length (for scan) is written only when known,
    /// and read back; one out of the imported-token bounds is refused.
    @Test func anImportedTokensLengthRoundTrips() throws {
        var imported = Self.entry("abcdefghijk2", "jira")
        imported.length = 30
        let index = Index(tokens: [Self.entry("abcdefghijk3", "ci"), imported])
        let text = String(decoding: index.encoded(), as: UTF8.self)
        #expect(text.components(separatedBy: "\"length\" : 30").count == 2)
        #expect(try Index.decode(index.encoded(), path: Self.path) == index)
        #expect(try Self.decode(Self.document(Self.goodFields + #","length":16"#)).tokens[0].length == 16)
        for bad in ["15", "513", #""30""#, "1.5", "-1"] {
            #expect(throws: VaultError.self, "\(bad)") {
                try Self.decode(Self.document(Self.goodFields + ",\"length\":\(bad)"))
            }
        }
    }

    @Test func anEmptyIndexHasTheLayoutOfZtoken01() throws {
        #expect(Index().encoded() == Array("{\n  \"tokens\" : [\n\n  ],\n  \"version\" : 1\n}\n".utf8))
    }

    @Test func anyTextRoundTrips() throws {
        let labels = ["ci é/😀", "a\"b\\c", "tab\there", "\u{2028}", "👩‍👩‍👧 \u{202e}", "{[:,]}"]
        let index = Index(
            tokens: labels.enumerated().map { n, label in
                Self.entry(String(repeating: "a", count: 11) + "\(n + 2)", label, kind: n % 2 == 0 ? .api : .zbot)
            })
        #expect(try Index.decode(index.encoded(), path: Self.path) == index)
    }

    /// The writer is a plain loop over `Entry.fields`; it must stay byte for
    /// byte what JSONEncoder (sorted keys, pretty printed, slashes as they
    /// are) writes for the same index, with every field set or not and text
    /// that needs every kind of escape.
    @Test(arguments: 0..<100)
    func theWriterIsWhatJSONEncoderWrites(seed: UInt64) throws {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let pieces = [
            "a", "Z", "/", "\\", "\"", "\n", "\t", "\r", "\u{8}", "\u{c}", "\u{0}", "\u{1f}", "\u{7f}",
            "é", "日本", "\u{2028}", "😀", "👩‍👩‍👧", "{", "]", ":", ",",
        ]
        func text() -> String { (0..<(next() % 8)).map { _ in pieces[next() % pieces.count] }.joined() }
        func maybe<T>(_ value: @autoclosure () -> T) -> T? { next() % 2 == 0 ? value() : nil }
        let index = Index(
            tokens: (0..<(next() % 6)).map { n in
                Index.Entry(
                    id: TokenID.make(), label: "l\(n)" + text(), kind: next() % 2 == 0 ? .api : .zbot,
                    createdAt: text(), last4: text(), digest: text(), state: next() % 3 == 0 ? .revoked : .active,
                    revokedAt: maybe(text()), agent: maybe(text()), serverURL: maybe(text()), note: maybe(text()),
                    expiresAt: maybe(text()), rotatedFrom: maybe(text()), rotatedTo: maybe(text()),
                    neverDisplayed: maybe(true), length: maybe(next() % 600))
            })
        #expect(index.encoded() == (try VaultJSON.encode(index)))
    }

    // MARK: The strict reader

    /// A user may reformat the file (`jq .`, `jq -c .`, any key order), and
    /// unknown keys are skipped.
    @Test func acceptsReformattedJSON() throws {
        let compact =
            #"{"version":1,"tokens":[{"state":"active","last4":"abcd","label":"ci \u00e9\/\ud83d\ude00","kind":"api","id":"abcdefghijkl","digest":"\#(Self.digest)","createdAt":"2026-11-29T01:29:20Z","revokedAt":null,"extra":{"nested":[1,2.5e3,-0,true,false,null]}}]}"#
        let spaced = compact.replacing(#",""#, with: " ,\r\n\t \"").replacing(#"":"#, with: "\"\n:  ")
        for text in [compact, spaced, "\n " + compact + " \n"] {
            let index = try Self.decode(text)
            #expect(index.tokens.count == 1)
            #expect(index.tokens[0].label == "ci é/😀")
            #expect(index.tokens[0].revokedAt == nil)
        }
    }

    @Test(arguments: [
        "", " ", "{", "[]", "null", "{\"version\":1,\"tokens\":[]", "{\"version\":1,\"tokens\":[]}}",
        "{\"version\":1,\"tokens\":[],}", "{\"version\":1,,\"tokens\":[]}", "{'version':1,\"tokens\":[]}",
        "{\"version\":01,\"tokens\":[]}", "{\"version\":1,\"tokens\":[] x}", "{\"version\":1 \"tokens\":[]}",
        "{\"version\":1,\"tokens\":[\"\\x\"]}", "{\"version\":1,\"tokens\":[\"\\ud800\"]}",
        "{\"version\":1,\"tokens\":[\"\\udc00\"]}", "{\"version\":1,\"tokens\":[\"a\nb\"]}",
        "{\"version\":1,\"tokens\":[tru]}", "{\"version\":1,\"tokens\":[1.]}", "{\"version\":1,\"tokens\":[-]}",
        "{\"version\":1,\"version\":1,\"tokens\":[]}", "{\"version\":1,\"tokens\":[],\"tokens\":[]}",
        document(goodFields + #","label":"again""#),
        document(goodFields + #","state":"revoked""#),
        "\u{FEFF}{\"version\":1,\"tokens\":[]}",
        String(repeating: "[", count: 500),
    ])
    func refusesMalformedJSON(text: String) {
        #expect(throws: VaultError.self) { try Self.decode(text) }
        do {
            _ = try Self.decode(text)
        } catch let VaultError.corrupt(path, reason) {
            #expect(path == Self.path)
            #expect(reason.hasPrefix("malformed JSON (at byte ") || reason.hasPrefix("not a ztoken file"), "\(reason)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// A second "state" could hide a revocation: a key twice in one object is
    /// refused, at the second key, in objects of any size.
    @Test(arguments: [4, 16, 17, 5_000])
    func aDuplicateKeyIsRefusedAtTheSecondKey(members: Int) {
        let keys = (0..<members).map { #""k\#($0)":0"# }.joined(separator: ",")
        let text = #"{"version":1,"tokens":[],\#(keys),"k\#(members / 2)":1}"#
        let offset = text.utf8.count - #""k\#(members / 2)":1}"#.utf8.count
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "malformed JSON (at byte \(offset))")) {
            try Self.decode(text)
        }
    }

    @Test func refusesInvalidUTF8() {
        var bytes = Array(Self.document(Self.goodFields).utf8)
        bytes[bytes.firstIndex(of: UInt8(ascii: "x"))!] = 0xC3
        #expect(throws: VaultError.self) { try Index.decode(bytes, path: Self.path) }
    }

    @Test func refusesNestingDeeperThanTheLimit() throws {
        let deep = JSONParser.maximumDepth
        let ok =
            #"{"version":1,"tokens":[],"x":"# + String(repeating: "[", count: deep - 1)
            + String(repeating: "]", count: deep - 1) + "}"
        _ = try Self.decode(ok)
        let tooDeep = ok.replacing("[[", with: "[[[", maxReplacements: 1).replacing(
            "]]", with: "]]]", maxReplacements: 1)
        #expect(throws: VaultError.self) { try Self.decode(tooDeep) }
    }

    @Test(arguments: [3, 0, -1, 99])
    func refusesUnknownVersionsBeforeTheSchema(version: Int) {
        // Another version may have another schema: the version is reported, not the fields.
        #expect(throws: VaultError.unsupportedVersion(path: Self.path, version: version)) {
            try Self.decode(#"{"tokens":"whatever","version":\#(version)}"#)
        }
    }

    @Test(arguments: [
        (#"{"tokens":[]}"#, "not a ztoken file (no readable \"version\")"),
        (#"{"version":"1","tokens":[]}"#, "not a ztoken file (no readable \"version\")"),
        (#"{"version":1.5,"tokens":[]}"#, "not a ztoken file (no readable \"version\")"),
        (#"{"version":1}"#, "missing field \"tokens\""),
        (#"{"version":1,"tokens":{}}"#, "field \"tokens\" has the wrong type"),
        (document(#""id":"abcdefghijkl""#), "missing field \"createdAt\""),
        (
            document(goodFields.replacing(#""label":"x""#, with: #""label":7"#)),
            "field \"tokens.0.label\" has the wrong type"
        ),
        (
            document(goodFields.replacing(#""label":"x""#, with: #""label":null"#)),
            "field \"tokens.0.label\" has the wrong type"
        ),
        (document(goodFields + #","agent":[]"#), "field \"tokens.0.agent\" has the wrong type"),
        (
            document(goodFields.replacing(#""kind":"api""#, with: #""kind":"robot""#)),
            "field \"tokens.0.kind\" has an unknown value"
        ),
        (
            document(goodFields.replacing(#""state":"active""#, with: #""state":"Active""#)),
            "field \"tokens.0.state\" has an unknown value"
        ),
    ])
    func reportsSchemaProblems(text: String, reason: String) {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: reason)) { try Self.decode(text) }
    }

    @Test func optionalFieldsMayBeNullOrAbsent() throws {
        let index = try Self.decode(Self.document(Self.goodFields + #","agent":null"#))
        #expect(index.tokens[0].agent == nil)
        #expect(index.tokens[0].serverURL == nil)
    }

    // MARK: The index's rules

    @Test func aWellFormedIndexPasses() throws {
        try Self.validate([])
        try Self.validate([Self.entry("aaaaaaaaaaaa", "ci"), Self.entry("bbbbbbbbbbbb", "deploy", kind: .zbot)])
    }

    @Test func revokedTokensMayShareALabelWithEachOtherAndWithOneActive() throws {
        try Self.validate([
            Self.entry("aaaaaaaaaaaa", "ci", state: .revoked),
            Self.entry("bbbbbbbbbbbb", "ci", state: .revoked),
            Self.entry("cccccccccccc", "ci"),
        ])
    }

    @Test func aDuplicateIdIsCorrupt() {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #2: duplicate id aaaaaaaaaaaa")) {
            try Self.validate([Self.entry("aaaaaaaaaaaa", "one", state: .revoked), Self.entry("aaaaaaaaaaaa", "two")])
        }
    }

    /// Duplicates are found by sorting, but reported as an in-order check
    /// meets them: the first entry whose id or label came before.
    @Test func theFirstDuplicateInFileOrderIsReported() {
        let ids = ["cccccccccccc", "aaaaaaaaaaaa", "bbbbbbbbbbbb", "dddddddddddd", "bbbbbbbbbbbb", "aaaaaaaaaaaa"]
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #5: duplicate id bbbbbbbbbbbb")) {
            try Self.validate(ids.enumerated().map { Self.entry($1, "l\($0)", state: .revoked) })
        }
        let labels = ["z", "y", "x", "y", "z", "y"]
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #4: duplicate active label")) {
            try Self.validate(labels.enumerated().map { Self.entry(ids[0].dropLast() + "\($0 + 2)", $1) })
        }
    }

    @Test func aDuplicateActiveLabelIsCorrupt() {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #3: duplicate active label")) {
            try Self.validate([
                Self.entry("aaaaaaaaaaaa", "ci"), Self.entry("bbbbbbbbbbbb", "ci", state: .revoked),
                Self.entry("cccccccccccc", "ci"),
            ])
        }
    }

    @Test(arguments: ["", String(repeating: "x", count: LabelRules.maximumBytes + 1)])
    func anEmptyOrOversizedLabelIsCorrupt(label: String) {
        let reason = "token #1: the label is empty or longer than \(LabelRules.maximumBytes) bytes"
        #expect(throws: VaultError.corrupt(path: Self.path, reason: reason)) {
            try Self.validate([Self.entry("aaaaaaaaaaaa", label)])
        }
    }

    @Test(arguments: [
        ("", "empty"), (String(repeating: "0", count: 63), "short"), (String(repeating: "0", count: 65), "long"),
        (String(repeating: "A", count: 64), "uppercase"), (String(repeating: "g", count: 64), "not hex"),
        (String(repeating: "é", count: 32), "multibyte"),
    ])
    func aMalformedDigestIsCorrupt(digest: String, why: String) {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #1: malformed digest"), "\(why)") {
            try Self.validate([Self.entry("aaaaaaaaaaaa", "ci", digest: digest)])
        }
    }

    @Test(arguments: [
        "", "aaaaaaaaaaa", "aaaaaaaaaaaaa", "AAAAAAAAAAAA", "aaaaaaaaaaa1", "aaaaaaaaaa/.", "../../etc/pw",
    ])
    func aMalformedIdIsCorrupt(id: String) {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #1: malformed id")) {
            try Self.validate([Self.entry(id, "ci")])
        }
    }

    // MARK: Notes, expiry, rotation links

    @Test func theNewFieldsRoundTripAndAreWrittenOnlyWhenSet() throws {
        var entry = Self.entry("aaaaaaaaaaaa", "ci")
        let plain = Index(tokens: [entry]).encoded()
        #expect(!String(decoding: plain, as: UTF8.self).contains("note"))
        entry.note = "deploys \"prod\" é"
        entry.expiresAt = "2027-01-01T00:00:00Z"
        entry.rotatedFrom = "bbbbbbbbbbbb"
        entry.rotatedTo = "cccccccccccc"
        let bytes = Index(tokens: [entry]).encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""expiresAt" : "2027-01-01T00:00:00Z""#))
        #expect(text.contains(#""rotatedFrom" : "bbbbbbbbbbbb""#) && text.contains(#""rotatedTo" : "cccccccccccc""#))
        #expect(try Index.decode(bytes, path: Self.path).tokens == [entry])
    }

    @Test func anExpiredTokenIsDerivedFromTheTimeAndStaysActiveOnDisk() {
        var entry = Self.entry("aaaaaaaaaaaa", "ci")
        #expect(!entry.isExpired(at: Int64.max) && entry.effectiveState(at: 0) == .active)
        entry.expiresAt = "2027-01-01T00:00:00Z"
        let deadline = RFC3339.parse("2027-01-01T00:00:00Z")!
        #expect(entry.effectiveState(at: deadline - 1) == .active)
        #expect(entry.effectiveState(at: deadline) == .expired)
        #expect(entry.state == .active)
        entry.state = .revoked
        #expect(entry.effectiveState(at: deadline) == .revoked)
    }

    @Test func anExpiredTokenKeepsItsLabel() {
        var expired = Self.entry("aaaaaaaaaaaa", "ci")
        expired.expiresAt = "2000-01-01T00:00:00Z"
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #2: duplicate active label")) {
            try Self.validate([expired, Self.entry("bbbbbbbbbbbb", "ci")])
        }
    }

    @Test func aWrittenExpiredStateIsCorrupt() {
        let reason = #"token #1: the state "expired" is derived from the time and never written"#
        #expect(throws: VaultError.corrupt(path: Self.path, reason: reason)) {
            try Self.decode(Self.document(Self.goodFields.replacingOccurrences(of: "active", with: "expired")))
        }
    }

    @Test(arguments: [
        (#","note":"""#, "token #1: the note is empty or longer than \(NoteRules.maximumBytes) bytes"),
        (
            #","note":"\#(String(repeating: "x", count: NoteRules.maximumBytes + 1))""#,
            "token #1: the note is empty or longer than \(NoteRules.maximumBytes) bytes"
        ),
        (#","expiresAt":"2027-01-01""#, "token #1: malformed expiry time"),
        (#","expiresAt":"2027-02-30T00:00:00Z""#, "token #1: malformed expiry time"),
        (#","rotatedFrom":"../x""#, "token #1: malformed rotation link"),
        (#","rotatedTo":"ABCDEFGHIJKL""#, "token #1: malformed rotation link"),
        (#","expiresAt":7"#, #"expiresAt" has the wrong type"#),
    ])
    func badNewFieldsAreCorrupt(extra: String, reason: String) {
        do {
            _ = try Self.decode(Self.document(Self.goodFields + extra))
            Issue.record("accepted \(extra)")
        } catch let error as VaultError {
            #expect(error.exitCode == 65 && error.message.hasSuffix(reason), "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func verifyFindsEveryEntryAndOnlyThose() {
        let entries = (0..<50).map { Self.entry(TokenID.make(), "t\($0)", state: $0 % 3 == 0 ? .revoked : .active) }
        let index = Index(tokens: entries)
        for (position, entry) in entries.enumerated() {
            #expect(index.constantTimePosition(ofDigest: entry.digest) == position)
        }
        #expect(index.constantTimePosition(ofDigest: Self.digest) == nil)
    }

    // MARK: Through a vault

    /// An index that parses but breaks a rule is refused by every reader and
    /// writer with exit 65, and is never rewritten.
    @Test(arguments: ["duplicate id", "duplicate active label", "malformed digest", "unknown value", "duplicate key"])
    func aVaultRefusesAnInvalidIndexWithoutTouchingIt(problem: String) throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let created = try vault.create(label: "first")
        var index = try Index.decode(try #require(scratch.bytes("vault/index.json")), path: "")
        var second = Self.entry("bbbbbbbbbbbb", "second")
        switch problem {
        case "duplicate id": second.id = created.info.id
        case "duplicate active label": second.label = "first"
        case "malformed digest": second.digest = "xyz"
        default: break
        }
        index.tokens.append(second)
        var text = String(decoding: index.encoded(), as: UTF8.self)
        if problem == "unknown value" { text = text.replacing(#""kind" : "api""#, with: #""kind" : "robot""#) }
        if problem == "duplicate key" {
            text = text.replacing(#""state" : "active""#, with: #""state" : "active", "state" : "revoked""#)
        }
        let bad = Array(text.utf8)
        scratch.write(bad, to: "vault/index.json")
        let indexPath = scratch.file("vault/index.json")

        func expectRefused(_ what: String, _ body: () throws -> Void) {
            do {
                try body()
                Issue.record("\(what) accepted an index with a \(problem)")
            } catch let error as VaultError {
                guard case .corrupt(let path, let reason) = error else {
                    Issue.record("\(what): \(error)")
                    return
                }
                #expect(path == indexPath)
                #expect(reason.contains(problem == "duplicate key" ? "malformed JSON" : problem), "\(what): \(reason)")
                #expect(error.exitCode == 65)
            } catch {
                Issue.record("\(what): \(error)")
            }
        }
        expectRefused("tokens") { _ = try vault.tokens() }
        expectRefused("verify") { _ = try vault.verify(created.token) }
        expectRefused("create") { _ = try vault.create(label: "third") }
        expectRefused("revoke") { try vault.revoke(ids: [created.info.id]) }
        #expect(scratch.bytes("vault/index.json") == bad, "a refused index must never be rewritten")
        #expect(try vault.doctor(repair: true).findings.contains { $0.path == indexPath && !$0.repaired })
        #expect(scratch.bytes("vault/index.json") == bad)
    }
}

/// Fixtures committed with the package.
enum Fixtures {
    static let root =
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path + "/fixtures"
    /// A vault made by ztoken 0.1 (fixtures/legacy-v1/README.md).
    static let legacyVault = root + "/legacy-v1/vault"
}
