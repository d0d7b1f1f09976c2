// The hand-written index codec against the Codable model it replaced: the
// writer must emit JSONEncoder's bytes exactly, the reader must read what
// JSONDecoder read (including reformatted files) and refuse what it refused.
import Testing
@testable import TokenVault

@Suite struct IndexCodecFastTests {
    static let path = "/vault/index.json"

    /// A deterministic generator, so a failure names a reproducible seed.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let pieces: [String] = [
        "a", "Z", "0", " ", "/", "\\", "\"", "\n", "\t", "\r", "\u{8}", "\u{c}", "\u{0}", "\u{1f}", "\u{7f}",
        "é", "ß", "日本", "\u{2028}", "\u{2029}", "😀", "👩‍👩‍👧", "\u{202e}", "{", "}", "[", "]", ":", ",",
    ]

    static func randomText(_ rng: inout SplitMix, maxPieces: Int = 12) -> String {
        (0..<rng.below(maxPieces + 1)).map { _ in pieces[rng.below(pieces.count)] }.joined()
    }

    static func randomIndex(seed: UInt64) -> IndexFile {
        var rng = SplitMix(state: seed)
        let tokens = (0..<rng.below(20)).map { n -> IndexFile.Entry in
            let revoked = rng.below(3) == 0
            return IndexFile.Entry(
                id: TokenID.make(), label: "l\(n)" + randomText(&rng), kind: rng.below(2) == 0 ? "api" : "zbot",
                createdAt: "2026-11-29T01:29:2\(n % 10)Z", last4: randomText(&rng, maxPieces: 4),
                digest: Hex.encode(Sodium.randomBytes(32)), state: revoked ? "revoked" : "active",
                revokedAt: revoked ? "2026-11-30T00:00:00Z" : nil,
                agent: rng.below(2) == 0 ? randomText(&rng) : nil,
                serverURL: rng.below(2) == 0 ? "https://zephyr.example/" + randomText(&rng) : nil)
        }
        return IndexFile(version: 1, tokens: tokens)
    }

    @Test(arguments: 0..<200)
    func writerMatchesJSONEncoderByteForByte(seed: UInt64) throws {
        let index = Self.randomIndex(seed: seed)
        #expect(try IndexCodec.encode(index) == VaultJSON.encode(index))
    }

    @Test func emptyIndexMatchesJSONEncoder() throws {
        let index = IndexFile(version: 1, tokens: [])
        #expect(try IndexCodec.encode(index) == VaultJSON.encode(index))
    }

    @Test(arguments: 0..<200)
    func roundTripsAndAgreesWithJSONDecoder(seed: UInt64) throws {
        let index = Self.randomIndex(seed: seed)
        let bytes = try IndexCodec.encode(index)
        #expect(try IndexCodec.decode(bytes, path: Self.path) == index)
        #expect(try VaultJSON.decode(IndexFile.self, from: bytes, path: Self.path, knownVersions: 1...1) == index)
    }

    /// A user may reformat the file (`jq .`, `jq -c .`, any key order).
    @Test func acceptsReformattedJSON() throws {
        let compact = #"{"version":1,"tokens":[{"state":"active","last4":"abcd","label":"ci \u00e9\/\ud83d\ude00","kind":"api","id":"abcdefghijkl","digest":"\#(String(repeating: "ab", count: 32))","createdAt":"2026-11-29T01:29:20Z","revokedAt":null,"extra":{"nested":[1,2.5e3,-0,true,false,null]}}]}"#
        let spaced = compact.replacing(#",""#, with: " ,\r\n\t \"").replacing(#"":"#, with: "\"\n:  ")
        for text in [compact, spaced, "\n " + compact + " \n"] {
            let index = try IndexCodec.decode(Array(text.utf8), path: Self.path)
            #expect(index.tokens.count == 1)
            #expect(index.tokens[0].label == "ci é/😀")
            #expect(index.tokens[0].revokedAt == nil)
            #expect(try VaultJSON.decode(IndexFile.self, from: Array(text.utf8), path: Self.path, knownVersions: 1...1) == index)
        }
    }

    /// `jq .` output of a file we wrote (jq indents by 2 and writes `"key": value`).
    @Test func acceptsJqStyleIndentation() throws {
        let index = Self.randomIndex(seed: 7)
        let ours = String(decoding: try IndexCodec.encode(index), as: UTF8.self)
        let jqStyle = ours.replacing("\" : ", with: "\": ")
        #expect(try IndexCodec.decode(Array(jqStyle.utf8), path: Self.path) == index)
    }

    static let digest = String(repeating: "0f", count: 32)
    static func entry(_ fields: String) -> String {
        #"{"version":1,"tokens":[{\#(fields)}]}"#
    }
    static let goodFields = #""id":"abcdefghijkl","label":"x","kind":"api","createdAt":"t","last4":"abcd","digest":"\#(digest)","state":"active""#

    @Test(arguments: [
        "", " ", "{", "[]", "null", "{\"version\":1,\"tokens\":[]", "{\"version\":1,\"tokens\":[]}}",
        "{\"version\":1,\"tokens\":[],}", "{\"version\":1,,\"tokens\":[]}", "{'version':1,\"tokens\":[]}",
        "{\"version\":01,\"tokens\":[]}", "{\"version\":1,\"tokens\":[] x}", "{\"version\":1 \"tokens\":[]}",
        "{\"version\":1,\"tokens\":[\"\\x\"]}", "{\"version\":1,\"tokens\":[\"\\ud800\"]}",
        "{\"version\":1,\"tokens\":[\"\\udc00\"]}", "{\"version\":1,\"tokens\":[\"a\nb\"]}",
        "{\"version\":1,\"tokens\":[tru]}", "{\"version\":1,\"tokens\":[1.]}", "{\"version\":1,\"tokens\":[-]}",
        "{\"version\":1,\"version\":1,\"tokens\":[]}", "{\"version\":1,\"tokens\":[],\"tokens\":[]}",
        entry(goodFields + #","label":"again""#),
        "\u{FEFF}{\"version\":1,\"tokens\":[]}",
        String(repeating: "[", count: 500),
    ])
    func rejectsMalformedJSON(text: String) {
        #expect(throws: VaultError.self) { try IndexCodec.decode(Array(text.utf8), path: Self.path) }
        do {
            _ = try IndexCodec.decode(Array(text.utf8), path: Self.path)
        } catch let VaultError.corrupt(path, _) {
            #expect(path == Self.path)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func rejectsInvalidUTF8() {
        var bytes = Array(Self.entry(Self.goodFields).utf8)
        let label = bytes.firstIndex(of: UInt8(ascii: "x"))!
        bytes[label] = 0xC3
        #expect(throws: VaultError.self) { try IndexCodec.decode(bytes, path: Self.path) }
    }

    @Test(arguments: [2, 0, -1, 99])
    func refusesUnknownVersionsBeforeTheSchema(version: Int) {
        // Another version may have another schema: the version is reported, not the fields.
        let text = #"{"tokens":"whatever","version":\#(version)}"#
        do {
            _ = try IndexCodec.decode(Array(text.utf8), path: Self.path)
            Issue.record("accepted version \(version)")
        } catch let VaultError.unsupportedVersion(path, found) {
            #expect(path == Self.path)
            #expect(found == version)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test(arguments: [
        (#"{"tokens":[]}"#, "not a ztoken file (no readable \"version\")"),
        (#"{"version":"1","tokens":[]}"#, "not a ztoken file (no readable \"version\")"),
        (#"{"version":1.5,"tokens":[]}"#, "not a ztoken file (no readable \"version\")"),
        (#"{"version":1}"#, "missing field \"tokens\""),
        (#"{"version":1,"tokens":{}}"#, "field \"tokens\" has the wrong type"),
        (entry(#""id":"abcdefghijkl""#), "missing field \"label\""),
        (entry(goodFields.replacing(#""label":"x""#, with: #""label":7"#)), "field \"tokens.0.label\" has the wrong type"),
        (entry(goodFields.replacing(#""label":"x""#, with: #""label":null"#)), "field \"tokens.0.label\" has the wrong type"),
        (entry(goodFields + #","agent":[]"#), "field \"tokens.0.agent\" has the wrong type"),
    ])
    func reportsSchemaProblems(text: String, reason: String) {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: reason)) { try IndexCodec.decode(Array(text.utf8), path: Self.path) }
    }

    @Test func optionalFieldsMayBeNullOrAbsent() throws {
        let index = try IndexCodec.decode(Array(Self.entry(Self.goodFields + #","agent":null"#).utf8), path: Self.path)
        #expect(index.tokens[0].agent == nil)
        #expect(index.tokens[0].serverURL == nil)
    }
}
