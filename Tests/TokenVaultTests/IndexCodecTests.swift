// What the index must satisfy beyond JSON (IndexFile.validate), and that a
// vault refuses, without touching it, an index that breaks those rules. The
// byte-level codec is covered by IndexCodecFastTests.
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import TokenVault

@Suite struct IndexCodecTests {
    static let path = "/v/index.json"

    static func entry(_ id: String, _ label: String, state: String = "active", kind: String = "api",
                      digest: String? = nil) -> IndexFile.Entry {
        IndexFile.Entry(id: id, label: label, kind: kind, createdAt: "2026-01-01T00:00:00Z", last4: "abcd",
                        digest: digest ?? Hex.encode(Sodium.blake2b256(Array((id + label).utf8))), state: state,
                        revokedAt: state == "revoked" ? "2026-01-02T00:00:00Z" : nil, agent: nil, serverURL: nil)
    }

    static func validate(_ entries: [IndexFile.Entry]) throws {
        try IndexFile(version: 1, tokens: entries).validate(path: path)
    }

    @Test func aWellFormedIndexPasses() throws {
        try Self.validate([])
        try Self.validate([Self.entry("aaaaaaaaaaaa", "ci"), Self.entry("bbbbbbbbbbbb", "deploy", kind: "zbot")])
    }

    @Test func revokedTokensMayShareALabelWithEachOtherAndWithOneActive() throws {
        try Self.validate([
            Self.entry("aaaaaaaaaaaa", "ci", state: "revoked"),
            Self.entry("bbbbbbbbbbbb", "ci", state: "revoked"),
            Self.entry("cccccccccccc", "ci"),
        ])
    }

    @Test func aDuplicateIdIsCorrupt() {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #2: duplicate id aaaaaaaaaaaa")) {
            try Self.validate([Self.entry("aaaaaaaaaaaa", "one", state: "revoked"), Self.entry("aaaaaaaaaaaa", "two")])
        }
    }

    @Test func aDuplicateActiveLabelIsCorrupt() {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #3: duplicate active label")) {
            try Self.validate([Self.entry("aaaaaaaaaaaa", "ci"), Self.entry("bbbbbbbbbbbb", "ci", state: "revoked"),
                               Self.entry("cccccccccccc", "ci")])
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

    @Test(arguments: ["", "API", "bot", "zbot "])
    func anUnknownKindIsCorrupt(kind: String) {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #1: unknown kind")) {
            try Self.validate([Self.entry("aaaaaaaaaaaa", "ci", kind: kind)])
        }
    }

    @Test(arguments: ["", "Active", "deleted", "revoked "])
    func anUnknownStateIsCorrupt(state: String) {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #1: unknown state")) {
            try Self.validate([Self.entry("aaaaaaaaaaaa", "ci", state: state)])
        }
    }

    @Test(arguments: ["", "aaaaaaaaaaa", "aaaaaaaaaaaaa", "AAAAAAAAAAAA", "aaaaaaaaaaa1", "aaaaaaaaaa/.", "../../etc/pw"])
    func aMalformedIdIsCorrupt(id: String) {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: "token #1: malformed id")) {
            try Self.validate([Self.entry(id, "ci")])
        }
    }

    // MARK: Through a vault

    /// An index that parses but breaks a rule is refused by every reader and
    /// writer with exit 65, and is never rewritten.
    @Test(arguments: ["duplicate id", "duplicate active label", "malformed digest", "unknown kind", "unknown state"])
    func aVaultRefusesAnInvalidIndexWithoutTouchingIt(problem: String) throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let created = try vault.create(label: "first")
        var entries = try IndexCodec.decode(try #require(scratch.bytes("vault/index.json")), path: "").tokens
        var second = Self.entry("bbbbbbbbbbbb", "second")
        switch problem {
        case "duplicate id": second.id = created.info.id
        case "duplicate active label": second.label = "first"
        case "malformed digest": second.digest = "xyz"
        case "unknown kind": second.kind = "robot"
        default: second.state = "gone"
        }
        entries.append(second)
        let bad = try IndexCodec.encode(IndexFile(version: 1, tokens: entries))
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
                #expect(reason.contains(problem), "\(what): \(reason)")
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
