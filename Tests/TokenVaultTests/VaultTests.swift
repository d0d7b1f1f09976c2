import Foundation
import Testing

@_spi(Bench) @testable import TokenVault

// The public Vault API, in process: initialize and open, create, list,
// resolve, revoke, verify, unlock and reveal, discard, and doctor. Each test
// makes its own vault with the test-only minimal KDF.
#if canImport(Glibc)
import Glibc
#endif

@Suite struct VaultTests {
    init() { TestVault.useMinimalKDF() }

    static func record(_ scratch: ScratchDirectory, _ id: String) -> String { "vault/records/\(id).sealed" }

    // MARK: Initialize and open

    @Test func initializeThenOpenSeesTheSameVault() throws {
        let scratch = try ScratchDirectory()
        let made = try Vault.initialize(
            at: scratch.file("deep/er/vault"),
            setup: VaultSetup(
                user: "tester", serverURL: "https://zephyr.example", kdf: .interactive,
                keyProtection: .passphrase(TestVault.secret(TestVault.passphrase))))
        let opened = try Vault(openingAt: scratch.file("deep/er/vault"))
        #expect(opened.vaultID == made.vaultID)
        #expect(opened.vaultID.count == 24)
        #expect(opened.user == "tester")
        #expect(opened.defaultServerURL == "https://zephyr.example")
        #expect(!opened.isOfflineKey)
        #expect(try opened.tokens(includeRevoked: true).isEmpty)
        for path in ["deep", "deep/er", "deep/er/vault", "deep/er/vault/records"] {
            #expect(ScratchDirectory.mode(scratch.file(path)) == 0o700, "\(path)")
        }
        for file in ["vault.json", "vault-key.json", "index.json", ".lock"] {
            #expect(ScratchDirectory.mode(scratch.file("deep/er/vault/" + file)) == 0o600, "\(file)")
        }
        // No staging directory left beside it.
        #expect(FileManagerNames.of(scratch.file("deep/er")) == ["vault"])
    }

    @Test func initializeRefusesAnExistingVaultAndOpenRefusesNone() throws {
        let scratch = try ScratchDirectory()
        _ = try TestVault.make(in: scratch)
        let before = scratch.bytes("vault/vault.json")
        #expect(throws: VaultError.alreadyExists(path: scratch.file("vault"))) { _ = try TestVault.make(in: scratch) }
        #expect(scratch.bytes("vault/vault.json") == before)
        #expect(throws: VaultError.vaultNotFound(path: scratch.file("none"))) {
            _ = try Vault(openingAt: scratch.file("none"))
        }
        mkdir(scratch.file("empty"), 0o700)
        #expect(throws: VaultError.vaultNotFound(path: scratch.file("empty"))) {
            _ = try Vault(openingAt: scratch.file("empty"))
        }
        // An empty directory may become a vault.
        _ = try TestVault.make(in: scratch, name: "empty")
    }

    // MARK: Create, list, resolve

    @Test func aWriterSeesAnIndexChangedSinceItsLastRead() throws {
        // Vault reuses the index it parsed last only while index.json holds the same bytes.
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let first = try vault.create(label: "first")
        #expect(try vault.resolve(["first"]).map(\.id) == [first.info.id])
        let other = try Vault(openingAt: scratch.file("vault"))
        let second = try other.create(label: "second")
        try other.revoke(ids: [first.info.id])
        #expect(throws: VaultError.noSuchToken(first.info.id)) { try vault.revoke(ids: [first.info.id]) }
        #expect(try vault.revoke(ids: [second.info.id]).map(\.id) == [second.info.id])
        #expect(try vault.tokens().isEmpty)
    }

    @Test func createListAndResolveByIDOrLabel() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let a = try vault.create(label: "  ci  ")
        let b = try vault.create(label: "deploy", kind: .zbot, agentName: "bot-1", serverURL: "https://z.example")
        #expect(a.info.label == "ci", "labels are trimmed")
        #expect(TokenFormat.problem(with: a.token) == nil)
        #expect(a.token.count == TokenFormat.mintedLength)
        #expect(a.info.last4 == String(a.token.unsafeRevealedString().suffix(4)))
        #expect(b.info.kind == .zbot && b.info.agentName == "bot-1" && b.info.serverURL == "https://z.example")
        #expect(try vault.tokens() == [a.info, b.info])
        #expect(scratch.bytes(Self.record(scratch, a.info.id)) != nil)
        // The index holds no plaintext token.
        let index = String(decoding: try #require(scratch.bytes("vault/index.json")), as: UTF8.self)
        #expect(!index.contains(a.token.unsafeRevealedString()))

        #expect(try vault.resolve([a.info.id]) == [a.info])
        #expect(try vault.resolve(["deploy", " ci "]) == [b.info, a.info])
        #expect(try vault.resolve(["ci", a.info.id]) == [a.info], "one token named twice is listed once")
        #expect(throws: VaultError.noSuchToken("nope")) { _ = try vault.resolve(["nope"]) }
        #expect(throws: VaultError.labelInUse("ci")) { _ = try vault.create(label: "ci") }
        #expect(throws: VaultError.self) { _ = try vault.create(label: " \t ") }
    }

    @Test func aReferenceThatIsOneTokensIDAndAnothersLabelIsAmbiguous() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let a = try vault.create(label: "first")
        _ = try vault.create(label: a.info.id)
        do {
            _ = try vault.resolve([a.info.id])
            Issue.record("an ambiguous reference was resolved")
        } catch let error as VaultError {
            guard case .invalidArgument(let text, _) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(text.contains("both the id of one token and the label of another"))
            #expect(error.exitCode == 64)
        }
        #expect(try vault.resolve(["first"]) == [a.info])
    }

    @Test func resolveFindsRevokedTokensByIDButNotByLabel() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let a = try vault.create(label: "old")
        try vault.revoke(ids: [a.info.id])
        #expect(try vault.resolve([a.info.id]).map(\.state) == [.revoked])
        #expect(throws: VaultError.noSuchToken("old")) { _ = try vault.resolve(["old"]) }
        // The label is free again.
        let again = try vault.create(label: "old")
        #expect(try vault.resolve(["old"]) == [again.info])
    }

    // MARK: Revoke

    @Test func revokeMarksTheIndexAndRemovesTheRecords() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let a = try vault.create(label: "a")
        let b = try vault.create(label: "b")
        let c = try vault.create(label: "c")
        let revoked = try vault.revoke(ids: [a.info.id, c.info.id])
        #expect(revoked.map(\.id) == [a.info.id, c.info.id])
        #expect(revoked.allSatisfy { $0.state == .revoked && $0.revokedAt != nil })
        #expect(try vault.tokens().map(\.id) == [b.info.id])
        #expect(try vault.tokens(includeRevoked: true).count == 3)
        #expect(scratch.bytes(Self.record(scratch, a.info.id)) == nil)
        #expect(scratch.bytes(Self.record(scratch, b.info.id)) != nil)
        #expect(scratch.bytes(Self.record(scratch, c.info.id)) == nil)
        // Unknown or already revoked: nothing changes.
        let index = scratch.bytes("vault/index.json")
        #expect(throws: VaultError.noSuchToken(a.info.id)) { try vault.revoke(ids: [b.info.id, a.info.id]) }
        #expect(throws: VaultError.noSuchToken("zzzzzzzzzzzz")) { try vault.revoke(ids: ["zzzzzzzzzzzz"]) }
        #expect(scratch.bytes("vault/index.json") == index)
        #expect(try vault.tokens().map(\.id) == [b.info.id])
    }

    /// Removing: the index first, then the record. When deleting the record
    /// fails, the token is already revoked, and the record is garbage that
    /// doctor removes.
    @Test func revokeWritesTheIndexBeforeDeletingTheRecord() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        _ = try vault.create(label: "warm-up")
        let a = try vault.create(label: "a")
        // Count the unlinks of a clean revoke; the record's is the last one.
        let probe = try vault.create(label: "probe")
        let counting = FaultPlan.counting()
        _ = try FaultScope.run(counting) { try vault.revoke(ids: [probe.info.id]) }
        let n = counting.count(of: .unlink)
        try #require(n >= 1)

        let plan = FaultPlan(.unlink, n: n, errno: EIO)
        #expect(
            throws: VaultError.io(path: scratch.file(Self.record(scratch, a.info.id)), operation: "unlink", errno: EIO)
        ) {
            try FaultScope.run(plan) { try vault.revoke(ids: [a.info.id]) }
        }
        #expect(try vault.resolve([a.info.id]).first?.state == .revoked, "the index must be written first")
        #expect(scratch.bytes(Self.record(scratch, a.info.id)) != nil)
        #expect(try vault.verify(a.token) == .revoked(try vault.resolve([a.info.id])[0]))
        let report = try vault.doctor(repair: true)
        #expect(report.findings.map(\.path) == [scratch.file(Self.record(scratch, a.info.id))])
        #expect(report.isHealthy)
        #expect(scratch.bytes(Self.record(scratch, a.info.id)) == nil)
    }

    @Test func revokeAllRevokesEveryActiveToken() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let tokens = try (0..<4).map { try vault.create(label: "t\($0)") }
        try vault.revoke(ids: [tokens[1].info.id])
        let revoked = try vault.revokeAll()
        #expect(Set(revoked.map(\.id)) == Set([0, 2, 3].map { tokens[$0].info.id }))
        #expect(try vault.tokens().isEmpty)
        #expect(FileManagerNames.of(scratch.file("vault/records")).isEmpty)
        #expect(try vault.revokeAll().isEmpty)
    }

    /// A large revocation deletes the records in the foreground once the
    /// index names every token revoked, telling `onRecordRemoval` as it goes.
    /// records/ stays the same directory, and what is not a record stays in it.
    @Test func revokingManyDeletesTheirRecordsAfterTheIndexAndReportsProgress() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let created = try vault.createMany(labels: (1...1_500).map { "bulk-\($0)" })
        scratch.write(Array("not a record\n".utf8), to: "vault/records/notes.txt")
        let recordsInode = ScratchDirectory.inode(scratch.file("vault/records"))
        var reports: [(done: Int, total: Int)] = []
        var atStart: (active: Int, records: Int)?
        vault.onRecordRemoval = { done, total in
            reports.append((done, total))
            if done == 0 {
                atStart = (
                    (try? Vault(openingAt: scratch.file("vault")).tokens().count) ?? -1,
                    FileManagerNames.of(scratch.file("vault/records")).count
                )
            }
        }

        let revoked = try vault.revokeAll()
        #expect(Set(revoked.map(\.id)) == Set(created.map(\.info.id)))
        #expect(atStart?.active == 0, "the index is written before any record is deleted")
        #expect(atStart?.records == 1_501)
        #expect(reports.map(\.done) == [0, 256, 512, 768, 1_024, 1_280, 1_500])
        #expect(reports.allSatisfy { $0.total == 1_500 })
        #expect(FileManagerNames.of(scratch.file("vault/records")) == ["notes.txt"])
        #expect(ScratchDirectory.inode(scratch.file("vault/records")) == recordsInode)
        #expect(FileManagerNames.of(scratch.file("vault")).allSatisfy { !$0.hasPrefix(".revoked-") })
        let all = try vault.tokens(includeRevoked: true)
        #expect(all.count == 1_500 && all.allSatisfy { $0.state == .revoked })
        #expect(try vault.doctor(repair: false).findings.map(\.problem) == ["unexpected file in the records directory"])
    }

    // MARK: Verify

    @Test func verifyAnswersValidRevokedUnknownMalformedAndBadChecksum() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let live = try vault.create(label: "live")
        let gone = try vault.create(label: "gone")
        try vault.revoke(ids: [gone.info.id])
        let imported = try vault.create(label: "imported", importing: TestVault.secret("glpat-0123456789abcdefghij"))
        let goneInfo = try vault.resolve([gone.info.id])[0]

        #expect(try vault.verify(live.token) == .valid(live.info))
        #expect(try vault.verify(TestVault.secret("glpat-0123456789abcdefghij")) == .valid(imported.info))
        #expect(try vault.verify(gone.token) == .revoked(goneInfo))
        #expect(try vault.verify(TokenFormat.mint()) == .unknown)
        #expect(try vault.verify(TestVault.secret("short")) == .malformed(.malformed))
        #expect(try vault.verify(TestVault.secret("has a space in it ok")) == .malformed(.malformed))
        #expect(try vault.verify(TestVault.secret("ztk_abc")) == .malformed(.malformed))
        // One changed character of a minted token: its checksum no longer matches.
        var text = Array(live.token.unsafeRevealedString().utf8)
        text[10] = text[10] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        #expect(try vault.verify(SecureBytes(copying: text)) == .malformed(.badChecksum))
        #expect(Verification.malformed(.badChecksum).reason == "bad checksum")
    }

    // MARK: Secrets

    @Test func unlockThenRevealGivesEachTokenBack() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let a = try vault.create(label: "a")
        let b = try vault.create(label: "b", importing: TestVault.secret("imported-token-0123456789"))
        let key = try vault.unlock(passphrase: TestVault.secret(TestVault.passphrase))
        #expect(try vault.revealToken(id: a.info.id, with: key).constantTimeEquals(a.token))
        #expect(try vault.revealToken(id: b.info.id, with: key).unsafeRevealedString() == "imported-token-0123456789")
        #expect(throws: VaultError.wrongPassphrase(path: scratch.file("vault/vault-key.json"))) {
            _ = try vault.unlock(passphrase: TestVault.secret("wrong"))
        }
        try vault.revoke(ids: [a.info.id])
        #expect(throws: VaultError.noSuchToken(a.info.id)) { _ = try vault.revealToken(id: a.info.id, with: key) }
        #expect(throws: VaultError.noSuchToken("zzzzzzzzzzzz")) {
            _ = try vault.revealToken(id: "zzzzzzzzzzzz", with: key)
        }
    }

    @Test func aRecordSwappedBetweenTwoEntriesIsCaught() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let a = try vault.create(label: "a")
        let b = try vault.create(label: "b")
        let pathA = scratch.file(Self.record(scratch, a.info.id))
        let pathB = scratch.file(Self.record(scratch, b.info.id))
        #expect(rename(pathA, scratch.file("swap")) == 0)
        #expect(rename(pathB, pathA) == 0)
        #expect(rename(scratch.file("swap"), pathB) == 0)
        let key = try vault.unlock(passphrase: TestVault.secret(TestVault.passphrase))
        for (id, path, label) in [(a.info.id, pathA, "a"), (b.info.id, pathB, "b")] {
            #expect(
                throws: VaultError.corrupt(
                    path: path, reason: "the sealed record does not match the index entry of '\(label)'")
            ) {
                _ = try vault.revealToken(id: id, with: key)
            }
        }
    }

    @Test func aRecordSealedToAnotherVaultOrMissingIsCorrupt() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let other = try TestVault.make(in: scratch, name: "other")
        let a = try vault.create(label: "a")
        let foreign = try other.create(label: "f")
        let key = try vault.unlock(passphrase: TestVault.secret(TestVault.passphrase))
        let path = scratch.file(Self.record(scratch, a.info.id))
        scratch.write(
            try #require(scratch.bytes("other/records/\(foreign.info.id).sealed")), to: Self.record(scratch, a.info.id))
        #expect(throws: VaultError.corrupt(path: path, reason: "the sealed record does not open with the vault key")) {
            _ = try vault.revealToken(id: a.info.id, with: key)
        }
        unlink(path)
        #expect(throws: VaultError.corrupt(path: path, reason: "the sealed record of active token 'a' is missing")) {
            _ = try vault.revealToken(id: a.info.id, with: key)
        }
    }

    // MARK: Discard

    /// The tokens of index.json (not its log anchor).
    static func tokens(_ scratch: ScratchDirectory) throws -> [Index.Entry] {
        try Index.decode(scratch.bytes("vault/index.json") ?? [], path: "index.json").tokens
    }

    @Test func discardRestoresThePriorTokensAndLogsIt() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        _ = try vault.create(label: "keep")
        let gone = try vault.create(label: "gone")
        try vault.revoke(ids: [gone.info.id])
        let before = try Self.tokens(scratch)
        let records = FileManagerNames.of(scratch.file("vault/records"))
        let created = try vault.create(label: "unseen")
        #expect(try Self.tokens(scratch) != before)
        try vault.discard(created)
        #expect(try Self.tokens(scratch) == before)
        #expect(try vault.history().suffix(2).map(\.kind) == [.create, .discard])
        #expect(FileManagerNames.of(scratch.file("vault/records")) == records)
        #expect(scratch.names() == ["vault"])
        #expect(try vault.verify(created.token) == .unknown)
        // Discarding twice, or a token someone else revoked meanwhile, changes nothing.
        let index = scratch.bytes("vault/index.json")
        try vault.discard(created)
        #expect(scratch.bytes("vault/index.json") == index)
    }

    @Test func discardLeavesATokenThatIsNoLongerTheSameAlone() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let created = try vault.create(label: "x")
        try vault.revoke(ids: [created.info.id])
        let before = scratch.bytes("vault/index.json")
        try vault.discard(created)
        #expect(scratch.bytes("vault/index.json") == before, "a revoked entry must not be removed by discard")
    }

    // MARK: Doctor

    @Test func doctorRepairsGarbageAndReportsAMissingRecord() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let healthy = try vault.doctor(repair: false)
        #expect(healthy.findings.isEmpty && healthy.isHealthy)

        let keep = try vault.create(label: "keep")
        let lost = try vault.create(label: "lost")
        let old = try vault.create(label: "old")
        let oldRecord = try #require(scratch.bytes(Self.record(scratch, old.info.id)))
        try vault.revoke(ids: [old.info.id])
        // A record of a revoked token (as after a revoke interrupted before the unlink).
        scratch.write(oldRecord, to: Self.record(scratch, old.info.id))
        // An orphan record (as after a create interrupted before the index write).
        scratch.write(oldRecord, to: "vault/records/orphanorphan.sealed")
        // A leftover temp file of an interrupted write.
        scratch.write(Array("partial".utf8), to: "vault/.tmp-index.json-0123456789ab")
        // An active token whose record is gone.
        unlink(scratch.file(Self.record(scratch, lost.info.id)))
        let index = scratch.bytes("vault/index.json")

        let report = try vault.doctor(repair: false)
        #expect(report.activeTokens == 2 && report.revokedTokens == 1)
        let expected: [String: Bool] = [
            scratch.file(Self.record(scratch, old.info.id)): true,
            scratch.file("vault/records/orphanorphan.sealed"): true,
            scratch.file("vault/.tmp-index.json-0123456789ab"): true,
            scratch.file(Self.record(scratch, lost.info.id)): false,
        ]
        #expect(Dictionary(uniqueKeysWithValues: report.findings.map { ($0.path, $0.repairable) }) == expected)
        #expect(report.findings.allSatisfy { !$0.repaired })
        #expect(!report.isHealthy)
        #expect(
            report.findings.first { $0.path.hasSuffix("\(lost.info.id).sealed") }?.problem.contains("'lost'") == true)
        // Checking alone changes nothing.
        #expect(scratch.bytes("vault/.tmp-index.json-0123456789ab") != nil)
        #expect(scratch.bytes("vault/records/orphanorphan.sealed") != nil)

        let repaired = try vault.doctor(repair: true)
        #expect(Dictionary(uniqueKeysWithValues: repaired.findings.map { ($0.path, $0.repaired) }) == expected)
        #expect(!repaired.isHealthy, "a missing record cannot be repaired")
        #expect(scratch.bytes(Self.record(scratch, old.info.id)) == nil)
        #expect(scratch.bytes("vault/records/orphanorphan.sealed") == nil)
        #expect(scratch.bytes("vault/.tmp-index.json-0123456789ab") == nil)
        #expect(
            scratch.bytes(Self.record(scratch, keep.info.id)) != nil, "a record an active token needs is never removed")
        #expect(
            try Index.decode(scratch.bytes("vault/index.json") ?? [], path: "").tokens
                == Index.decode(index ?? [], path: "").tokens, "doctor never changes a token")
        #expect(try vault.history().last?.kind == .repair, "what repair removed is in the log")

        let after = try vault.doctor(repair: true)
        #expect(after.findings.map(\.path) == [scratch.file(Self.record(scratch, lost.info.id))])
        #expect(after.findings.allSatisfy { !$0.repairable && !$0.repaired })
    }

    @Test func doctorReportsButNeverRemovesAnUnexpectedFileInRecords() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        scratch.write(Array("mine".utf8), to: "vault/records/notes.txt")
        let report = try vault.doctor(repair: true)
        #expect(report.findings.map(\.path) == [scratch.file("vault/records/notes.txt")])
        #expect(report.findings.allSatisfy { !$0.repairable && !$0.repaired })
        #expect(scratch.bytes("vault/records/notes.txt") == Array("mine".utf8))
    }
}
