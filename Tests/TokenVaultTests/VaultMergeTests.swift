// The merge of two machines' vaults (Sync/VaultMerge.swift), on real
// vaults: random pairs that diverged from one vault merge to the same state
// both ways, keep every token either side made, and let no revocation be
// undone; a forged side is refused.
import Foundation
import Testing

@testable import TokenVault

@Suite struct VaultMergeTests {
    /// The files of a vault directory as a git tree would hold them.
    static func files(_ path: String) throws -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in [VaultLayout.metadata, VaultLayout.wrappedKey, VaultLayout.index, VaultLayout.log] {
            files[name] = FileManager.default.contents(atPath: path + "/" + name).map(Array.init)
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: path + "/records") {
            files["records/" + name] = FileManager.default.contents(atPath: path + "/records/" + name).map(Array.init)
        }
        return files
    }

    static func state(_ path: String) throws -> VaultState { try VaultState(files: try files(path), shown: path) }

    static func copy(_ from: String, _ to: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/cp")
        process.arguments = ["-a", from, to]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    /// What a user sees of a merged state: per id, label, state, note, expiry.
    static func summary(_ index: Index) -> [String: String] {
        Dictionary(
            uniqueKeysWithValues: index.tokens.map {
                ($0.id, "\($0.label)|\($0.state.rawValue)|\($0.note ?? "-")|\($0.expiresAt ?? "-")")
            })
    }

    /// A few random changes to one side: creates (some with labels the
    /// other side may also use), revokes, renames, notes, expiries, rotations.
    static func randomChanges(_ vault: Vault, _ random: inout some RandomNumberGenerator, tag: String) throws {
        for step in 0..<Int.random(in: 1...6, using: &random) {
            let live = try vault.tokens()
            switch Int.random(in: 0..<6, using: &random) {
            case 0: _ = try vault.create(label: "shared-\(Int.random(in: 0..<3, using: &random))-\(step)")
            case 1: _ = try vault.create(label: "\(tag)-\(step)")
            case 2: if let token = live.randomElement(using: &random) { try vault.revoke(ids: [token.id]) }
            case 3:
                if let token = live.randomElement(using: &random) {
                    _ = try? vault.rename(id: token.id, to: "\(tag)-renamed-\(step)")
                }
            case 4:
                if let token = live.randomElement(using: &random) {
                    try vault.setNote(id: token.id, to: "\(tag) \(step)")
                }
            default:
                if let token = live.randomElement(using: &random) {
                    let rotated = try vault.rotate(reference: token.id)
                    try vault.markDisplayed(rotated.created)
                }
            }
        }
    }

    @Test(arguments: 0..<12)
    func mergingIsOrderIndependentAndKeepsEveryRevocation(seed: Int) throws {
        var random = SeededGenerator(seed: UInt64(seed + 1))
        let scratch = try ScratchDirectory()
        let base = try TestVault.make(in: scratch, name: "base")
        for label in ["a", "b", "c"] { _ = try base.create(label: label) }
        try Self.copy(scratch.file("base"), scratch.file("x"))
        try Self.copy(scratch.file("base"), scratch.file("y"))
        try Self.randomChanges(try Vault(openingAt: scratch.file("x")), &random, tag: "x")
        try Self.randomChanges(try Vault(openingAt: scratch.file("y")), &random, tag: "y")
        let x = try Self.state(scratch.file("x"))
        let y = try Self.state(scratch.file("y"))

        let xy = try VaultMerge.merge(local: x, remote: y, remoteName: "y")
        let yx = try VaultMerge.merge(local: y, remote: x, remoteName: "x")
        #expect(Self.summary(xy.index) == Self.summary(yx.index), "seed \(seed)")
        // Every token of either side is there; a revocation on either side wins.
        for side in [x, y] {
            for entry in side.index.tokens {
                let merged = try #require(xy.index.tokens.first { $0.id == entry.id })
                if !entry.isActive { #expect(!merged.isActive, "seed \(seed): \(entry.id) came back") }
            }
        }
        // Labels stay unique among tokens not revoked, and the result is a vault every command reads.
        try xy.index.validate(path: "merged")
        for (side, result) in [(x, xy), (y, yx)] {
            let log = side.logBytes + result.appendedLog
            let lines = try EventLog.parse(log[...], path: "merged")
            if let anchor = result.index.log {
                try EventLog.verify(
                    lines, byteCount: log.count, anchor: anchor, vaultID: side.metadata.vaultID, path: "m")
            }
            #expect(EventLog.replay(lines, against: result.index) == nil, "seed \(seed)")
        }
    }

    /// A remote that only adds to this vault's history (a fast-forward) but
    /// discards a token this vault has, or turns its digest, is refused.
    @Test func aFastForwardThatDropsOrAltersALocalTokenIsRefused() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let kept = try vault.create(label: "kept")
        try Self.copy(scratch.file("vault"), scratch.file("remote"))
        let remote = try Vault(openingAt: scratch.file("remote"))
        // The remote "discards" the token: a history that replays cleanly.
        let index = try remote.readIndex()
        var changed = index
        let removed = changed.tokens.removeFirst()
        try remote.withWriteLock { current in
            try remote.commit(changed, over: current, events: [HistoryEvent(.discard, removed)])
        }
        #expect(kept.info.id == removed.id)
        let local = try Self.state(scratch.file("vault"))
        let dropping = try Self.state(scratch.file("remote"))
        Self.expectRefusal("would drop token \(kept.info.id)") {
            _ = try VaultMerge.merge(local: local, remote: dropping, remoteName: "remote")
        }
    }

    /// Runs `body` and expects a `VaultError` whose message contains `text`.
    static func expectRefusal(
        _ text: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        do {
            try body()
            Issue.record("no error; expected one saying \(text)", sourceLocation: sourceLocation)
        } catch let error as VaultError {
            #expect(error.message.contains(text), "\(error.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func anotherVaultOrKeyPairIsRefused() throws {
        let scratch = try ScratchDirectory()
        _ = try TestVault.make(in: scratch, name: "one")
        _ = try TestVault.make(in: scratch, name: "two")
        let one = try Self.state(scratch.file("one"))
        let two = try Self.state(scratch.file("two"))
        Self.expectRefusal("it holds another vault") {
            _ = try VaultMerge.merge(local: one, remote: two, remoteName: "two")
        }
        // The same vault after a passwd --rekey on the other machine.
        try Self.copy(scratch.file("one"), scratch.file("rekeyed"))
        let passphrase = TestVault.secret(TestVault.passphrase)
        _ = try Vault(openingAt: scratch.file("rekeyed")).changePassphrase(
            from: passphrase, to: passphrase, rekey: true)
        let rekeyed = try Self.state(scratch.file("rekeyed"))
        Self.expectRefusal("another key pair") {
            _ = try VaultMerge.merge(local: one, remote: rekeyed, remoteName: "r")
        }
    }

    @Test func aForgedSideIsRefusedBeforeAnyMerge() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let made = try vault.create(label: "gone")
        try vault.revoke(ids: [made.info.id])
        var files = try Self.files(scratch.file("vault"))
        let index = String(decoding: files[VaultLayout.index] ?? [], as: UTF8.self)
        files[VaultLayout.index] = Array(index.replacingOccurrences(of: "\"revoked\"", with: "\"active\"").utf8)
        #expect(throws: VaultError.self) { try VaultState(files: files, shown: "remote") }
    }
}

/// A small deterministic generator (SplitMix64), so a failing seed repeats.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
