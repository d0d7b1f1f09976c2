// The log's link rules on their own, including the shape a git sync will
// write: two histories that diverged from a common line, joined by a
// `merge` line naming both heads, verify end to end; dropping, editing or
// leaving out any line of either side does not.
import Testing

@testable import TokenVault

@Suite struct EventLogTests {
    static let vaultID = "testvaulttestvaulttestva"

    /// Lines built by hand: each names its parent(s) by position (nil: genesis).
    struct Draft {
        var event: HistoryEvent
        var parent: Int?
        var merged: Int?
    }

    static func build(_ drafts: [Draft]) -> (bytes: [UInt8], anchor: LogAnchor) {
        var hashes: [String] = []
        var out: [UInt8] = []
        for draft in drafts {
            let prev = draft.parent.map { hashes[$0] } ?? EventLog.genesis(vaultID: vaultID)
            let line = EventLog.encode(draft.event, prev: prev, merged: draft.merged.map { hashes[$0] })
            hashes.append(EventLog.hash(line))
            out += line + [UInt8(ascii: "\n")]
        }
        return (out, LogAnchor(lines: drafts.count, bytes: out.count, head: hashes.last ?? ""))
    }

    static func verify(_ drafts: [Draft]) throws {
        let (bytes, anchor) = build(drafts)
        let lines = try EventLog.parse(bytes[...], path: "log.jsonl")
        try EventLog.verify(lines, byteCount: bytes.count, anchor: anchor, vaultID: vaultID, path: "log.jsonl")
    }

    static let a = "aaaaaaaaaaaa"
    static let b = "bbbbbbbbbbbb"
    static let c = "cccccccccccc"

    /// init, create a; then one machine creates b and revokes a while the
    /// other creates c; then the merge.
    static var merged: [Draft] {
        [
            Draft(event: HistoryEvent(.initialize), parent: nil),
            Draft(event: HistoryEvent(.create, tokenID: a, label: "a"), parent: 0),
            Draft(event: HistoryEvent(.create, tokenID: b, label: "b"), parent: 1),
            Draft(event: HistoryEvent(.revoke, tokenID: a, label: "a"), parent: 2),
            Draft(event: HistoryEvent(.create, tokenID: c, label: "c"), parent: 1),
            Draft(event: HistoryEvent(.merge), parent: 3, merged: 4),
        ]
    }

    @Test func aMergedHistoryVerifiesEndToEnd() throws {
        try Self.verify(Self.merged)
        let (bytes, _) = Self.build(Self.merged)
        let lines = try EventLog.parse(bytes[...], path: "log.jsonl")
        let index = Index(tokens: [
            Self.entry(Self.a, "a", .revoked), Self.entry(Self.b, "b", .active), Self.entry(Self.c, "c", .active),
        ])
        #expect(EventLog.replay(lines, against: index) == nil)
        var flipped = index
        flipped.tokens[0].state = .active
        #expect(EventLog.replay(lines, against: flipped)?.contains("the log revoked it") == true)
    }

    static func entry(_ id: String, _ label: String, _ state: TokenState) -> Index.Entry {
        Index.Entry(
            id: id, label: label, kind: .api, createdAt: "2026-01-01T00:00:00Z", last4: "abcd",
            digest: String(repeating: "0", count: 64), state: state)
    }

    @Test func aSideBranchLeftUnmergedIsRefused() throws {
        var drafts = Self.merged
        drafts.removeLast()
        #expect(throws: VaultError.self) { try Self.verify(drafts) }
        do {
            try Self.verify(drafts)
        } catch {
            #expect("\(error)".contains("line 4: no later line names it"), "\(error)")
        }
    }

    @Test func aMergeThatNamesAMissingLineIsRefused() throws {
        // The other side's line is dropped: the merge names nothing before it.
        var drafts = Self.merged
        let (full, _) = Self.build(drafts)
        drafts.remove(at: 4)
        drafts[4] = Draft(event: HistoryEvent(.merge), parent: 3, merged: 3)
        let (bytes, anchor) = Self.build(drafts)
        let lines = try EventLog.parse(bytes[...], path: "log.jsonl")
        #expect(throws: VaultError.self) {
            try EventLog.verify(lines, byteCount: bytes.count, anchor: anchor, vaultID: Self.vaultID, path: "log")
        }
        // And the original, with a line removed from the file, breaks a link.
        var text = String(decoding: full, as: UTF8.self).split(separator: "\n").map(String.init)
        text.remove(at: 4)
        let cut = Array(text.map { $0 + "\n" }.joined().utf8)
        let cutLines = try EventLog.parse(cut[...], path: "log.jsonl")
        #expect(throws: VaultError.self) {
            try EventLog.verify(
                cutLines, byteCount: cut.count,
                anchor: LogAnchor(lines: cutLines.count, bytes: cut.count, head: cutLines.last?.hash ?? ""),
                vaultID: Self.vaultID, path: "log")
        }
    }

    @Test func onlyAMergeNamesAMergedHistoryAndOnlyTheFirstLineBegins() throws {
        var drafts = Self.merged
        drafts[5].event = HistoryEvent(.note, tokenID: Self.b)
        let (bytes, _) = Self.build(drafts)
        #expect(throws: VaultError.self) { try EventLog.parse(bytes[...], path: "log") }
        var second = Self.merged
        second[2].event = HistoryEvent(.initialize)
        #expect(throws: VaultError.self) { try Self.verify(second) }
    }

    @Test func anotherVaultsHistoryDoesNotBeginThisOne() throws {
        let (bytes, anchor) = Self.build(Self.merged)
        let lines = try EventLog.parse(bytes[...], path: "log.jsonl")
        #expect(throws: VaultError.self) {
            try EventLog.verify(lines, byteCount: bytes.count, anchor: anchor, vaultID: "othervault", path: "log")
        }
    }
}
