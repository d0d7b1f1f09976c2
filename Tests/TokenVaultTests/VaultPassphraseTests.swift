import Foundation
import Testing

@testable import TokenVault

// `changePassphrase` when it fails late: every error says which passphrase
// opens the vault, and the vault is opened with it (and refuses the other).
// Faults are injected at the Nth call of a kind, counted on a twin vault
// whose passwd succeeded.
#if canImport(Glibc)
import Glibc
#endif

@Suite struct VaultPassphraseTests {
    static let old = TestVault.passphrase
    static let new = "a new passphrase for the vault"

    /// A vault at `<scratch>/vault` with two active tokens and a revoked one;
    /// the active tokens.
    static func make(_ scratch: ScratchDirectory) throws -> (Vault, [SecureBytes]) {
        let vault = try TestVault.make(in: scratch)
        let active = try ["a", "b"].map { try vault.create(label: $0).token }
        let revoked = try vault.create(label: "c")
        _ = try vault.revoke(ids: [revoked.info.id])
        return (vault, active)
    }

    static func changePassphrase(of vault: Vault, rekey: Bool) throws {
        _ = try vault.changePassphrase(
            from: TestVault.secret(old), to: TestVault.secret(new), rekey: rekey)
    }

    /// The calls a passwd that succeeds makes, on a vault made as `make` makes it.
    static func cleanCounts(rekey: Bool) throws -> FaultPlan {
        let scratch = try ScratchDirectory()
        let (vault, _) = try make(scratch)
        let plan = FaultPlan.counting()
        try FaultScope.run(plan) { try changePassphrase(of: vault, rekey: rekey) }
        return plan
    }

    /// Runs a passwd under `plan`; the error it threw, nil if none.
    static func failingPassphraseChange(of vault: Vault, rekey: Bool, _ plan: FaultPlan) -> VaultError? {
        do {
            try FaultScope.run(plan) { try changePassphrase(of: vault, rekey: rekey) }
            return nil
        } catch {
            return error as? VaultError ?? .invalidArgument("not a VaultError: \(error)")
        }
    }

    /// The vault at `path` opens with `passphrase` and refuses `other`.
    static func expectOpens(
        _ path: String, with passphrase: String, not other: String, _ context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let vault = try Vault(openingAt: path)
        #expect(throws: Never.self, "\(context)", sourceLocation: sourceLocation) {
            _ = try vault.unlock(passphrase: TestVault.secret(passphrase))
        }
        do {
            _ = try vault.unlock(passphrase: TestVault.secret(other))
            Issue.record("the other passphrase opens the vault too: \(context)", sourceLocation: sourceLocation)
        } catch {
            #expect(
                error as? VaultError == .wrongPassphrase(path: path + "/vault-key.json"), "\(context): \(error)",
                sourceLocation: sourceLocation)
        }
    }

    static func expectNoSecret(in error: VaultError, sourceLocation: SourceLocation = #_sourceLocation) {
        for text in [error.message, error.hint ?? ""] {
            #expect(!text.contains(old) && !text.contains(new), "\(text)", sourceLocation: sourceLocation)
        }
    }

    // MARK: A new passphrase (no rekey)

    /// A passwd on a fresh vault whose key-file switch fails at its directory
    /// fsync (the last fsync of a clean passwd), and from then on, with every
    /// operation in `alsoFailing` from the one after its clean count onward;
    /// the error, the scratch directory and the key file's path.
    static func failedSwitch(
        alsoFailing: [FaultInjection.Operation] = []
    ) throws -> (error: VaultError?, scratch: ScratchDirectory, keyPath: String) {
        let clean = try cleanCounts(rekey: false)
        let scratch = try ScratchDirectory()
        let (vault, _) = try make(scratch)
        let faults =
            [FaultPlan.Fault(operation: .fsync, n: clean.count(of: .fsync), onward: true)]
            + alsoFailing.map { FaultPlan.Fault(operation: $0, n: clean.count(of: $0) + 1, onward: true) }
        let error = failingPassphraseChange(of: vault, rekey: false, FaultPlan(faults, errno: EIO))
        return (error, scratch, scratch.file("vault/vault-key.json"))
    }

    /// The directory fsync after the new key file's rename fails, AtomicFile
    /// cannot rename the old file back, and passwd's own put-back fails too:
    /// the file read back is the new one, so the error says the new
    /// passphrase is in effect, and it is.
    @Test func aFailedPutBackWithTheNewKeyFileInPlaceSaysTheNewPassphraseIsInEffect() throws {
        let (error, scratch, keyPath) = try Self.failedSwitch(alsoFailing: [.rename])
        #expect(
            error == .newPassphraseInEffect(path: keyPath, cause: "\(keyPath): fsync failed: input/output error"))
        let failure = try #require(error)
        #expect(failure.exitCode == 74)
        #expect(
            failure.message
                == "\(keyPath): fsync failed: input/output error; putting the old key file back failed too, and "
                + "\(keyPath) now holds the new one: the new passphrase is the one in effect")
        #expect(failure.hint?.contains("'ztoken doctor'") == true)
        Self.expectNoSecret(in: failure)
        try Self.expectOpens(scratch.file("vault"), with: Self.new, not: Self.old, "after the failed put-back")
        // AtomicFile's copy of the old file is a temp file: doctor names it, repair removes it.
        let reopened = try Vault(openingAt: scratch.file("vault"))
        #expect(!(try reopened.doctor(repair: false).isHealthy))
        #expect(try reopened.doctor(repair: true).isHealthy)
        #expect(try reopened.doctor(repair: false).findings.isEmpty)
        try Self.expectOpens(scratch.file("vault"), with: Self.new, not: Self.old, "after doctor --repair")
    }

    /// As above, but the key file cannot be read back either (every open
    /// fails): the error says the new passphrase may be in effect and to try
    /// both, and one of them (here the new one) opens the vault.
    @Test func anUnreadableKeyFileAfterAFailedPutBackSaysToTryBoth() throws {
        let (error, scratch, keyPath) = try Self.failedSwitch(alsoFailing: [.rename, .open])
        #expect(error == .keyFileNotPutBack(path: keyPath, cause: "\(keyPath): fsync failed: input/output error"))
        let failure = try #require(error)
        #expect(failure.exitCode == 74)
        #expect(failure.message.contains("the new passphrase may now be the one in effect, so try both"))
        #expect(failure.message.contains("\(keyPath) could not be read back"))
        Self.expectNoSecret(in: failure)
        try Self.expectOpens(scratch.file("vault"), with: Self.new, not: Self.old, "after an unreadable put-back")
    }

    /// A put-back that fails while the old file is under the name (AtomicFile
    /// renamed it back) is the plain failure: the old passphrase is in effect.
    @Test func aFailedPutBackWithTheOldKeyFileInPlaceIsThePlainFailure() throws {
        let (error, scratch, keyPath) = try Self.failedSwitch()
        #expect(error == .io(path: keyPath, operation: "fsync", errno: EIO))
        try Self.expectOpens(scratch.file("vault"), with: Self.old, not: Self.new, "after the put-back")
    }

    /// Every fsync and rename from the Nth on failing, for every pair of N:
    /// whatever passwd reports, exactly the passphrase it names opens the vault.
    @Test func everyLateFailureNamesThePassphraseThatOpensTheVault() throws {
        let clean = try Self.cleanCounts(rekey: false)
        var newInEffect = 0
        for fsync in 1...clean.count(of: .fsync) + 1 {
            for rename in 1...clean.count(of: .rename) + 1 {
                let scratch = try ScratchDirectory()
                let (vault, _) = try Self.make(scratch)
                let plan = FaultPlan(
                    [
                        .init(operation: .fsync, n: fsync, onward: true),
                        .init(operation: .rename, n: rename, onward: true),
                    ], errno: EIO)
                let error = Self.failingPassphraseChange(of: vault, rekey: false, plan)
                let context = "fsync from #\(fsync), rename from #\(rename): \(error.map(\.message) ?? "done")"
                switch error {
                case .newPassphraseInEffect?:
                    newInEffect += 1
                    try Self.expectOpens(scratch.file("vault"), with: Self.new, not: Self.old, context)
                case nil:
                    try Self.expectOpens(scratch.file("vault"), with: Self.new, not: Self.old, context)
                case .io?:
                    try Self.expectOpens(scratch.file("vault"), with: Self.old, not: Self.new, context)
                case let other?:
                    Issue.record("unexpected \(other): \(context)")
                }
            }
        }
        #expect(newInEffect > 0, "no fault left the new key file in place")
    }

    // MARK: A new key pair (rekey)

    /// What a rekey that reports success, or `.rekeyedDespiteFailure`, must
    /// leave: the new passphrase and a new public key, every active token
    /// valid and its record opened with the new key, doctor clean.
    static func expectRekeyed(
        _ path: String, from oldPublicKey: [UInt8], tokens: [SecureBytes], _ context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try expectOpens(path, with: new, not: old, context, sourceLocation: sourceLocation)
        let vault = try Vault(openingAt: path)
        #expect(vault.publicKey != oldPublicKey, "\(context)", sourceLocation: sourceLocation)
        let key = try vault.unlock(passphrase: TestVault.secret(new))
        for token in tokens {
            guard case .valid(let info) = try vault.verify(token) else {
                Issue.record("a token is not valid: \(context)", sourceLocation: sourceLocation)
                continue
            }
            let entry = try #require(try vault.readIndex().tokens.first { $0.id == info.id })
            #expect(
                try vault.openRecord(of: entry, with: key).withUnsafeBytes { Array($0) }
                    == token.withUnsafeBytes { Array($0) }, "\(context)", sourceLocation: sourceLocation)
        }
        _ = try vault.doctor(repair: true)
        #expect(try vault.doctor(repair: false).findings.isEmpty, "\(context)", sourceLocation: sourceLocation)
    }

    /// Every fsync, then every unlink, of a rekey failing in turn: a failure
    /// before the exchange is the plain one and leaves the old vault; one
    /// after it (the parent's fsync, deleting the old vault) is
    /// `.rekeyedDespiteFailure`, naming the old vault left beside the new one,
    /// and the new key pair and passphrase are in effect.
    @Test(arguments: [FaultInjection.Operation.fsync, .unlink])
    func aFailureAfterTheExchangeSaysTheVaultWasRekeyed(operation: FaultInjection.Operation) throws {
        let clean = try Self.cleanCounts(rekey: true)
        var afterTheExchange = 0
        for n in 1...clean.count(of: operation) {
            let scratch = try ScratchDirectory()
            let (vault, tokens) = try Self.make(scratch)
            let path = scratch.file("vault")
            let oldPublicKey = vault.publicKey
            let error = Self.failingPassphraseChange(
                of: vault, rekey: true, FaultPlan(operation, n: n, errno: EIO))
            let context = "\(operation) #\(n): \(error.map(\.message) ?? "done")"
            switch error {
            case .rekeyedDespiteFailure(let reported, let cause, let leftover)?:
                afterTheExchange += 1
                #expect(reported == path, "\(context)")
                #expect(cause.hasSuffix("failed: input/output error"), "\(context)")
                #expect(leftover.hasPrefix(scratch.file(".vault.rekey-")), "\(context)")
                #expect(FileManager.default.fileExists(atPath: leftover), "\(context)")
                let failure = try #require(error)
                #expect(failure.exitCode == 74)
                #expect(
                    failure.message
                        == "\(cause); all the same, the vault at \(path) now has its new key pair and the new "
                        + "passphrase, and the old vault is left at \(leftover)")
                #expect(failure.hint?.contains("'ztoken doctor' removes the old vault") == true, "\(context)")
                Self.expectNoSecret(in: failure)
                try Self.expectRekeyed(path, from: oldPublicKey, tokens: tokens, context)
            case nil:
                try Self.expectRekeyed(path, from: oldPublicKey, tokens: tokens, context)
            case let other?:
                #expect(other.exitCode == 74, "\(context)")
                try Self.expectOpens(path, with: Self.old, not: Self.new, context)
                #expect(try Vault(openingAt: path).publicKey == oldPublicKey, "\(context)")
            }
        }
        #expect(afterTheExchange > 0, "no \(operation) came after the exchange")
        print("rekey, \(operation): \(afterTheExchange) of \(clean.count(of: operation)) failures after the exchange")
    }

    /// A vault with a git repository (`.git`, `.gitignore`) whose rekey
    /// fails at each fsync and rename in turn: the repository moves into
    /// the staged vault before the exchange, and whatever fails, the vault
    /// at the path has it afterwards, never the staging directory alone.
    @Test(arguments: [FaultInjection.Operation.fsync, .rename])
    func aFailedRekeyLeavesTheRepositoryWithTheVault(operation: FaultInjection.Operation) throws {
        func makeWithRepository(_ scratch: ScratchDirectory) throws -> Vault {
            let (vault, _) = try Self.make(scratch)
            let files = FileManager.default
            try files.createDirectory(atPath: scratch.file("vault/.git"), withIntermediateDirectories: false)
            #expect(files.createFile(atPath: scratch.file("vault/.git/HEAD"), contents: Data("ref".utf8)))
            #expect(files.createFile(atPath: scratch.file("vault/.gitignore"), contents: Data(".lock\n".utf8)))
            chmod(scratch.file("vault/.git"), 0o700)
            chmod(scratch.file("vault/.git/HEAD"), 0o600)
            chmod(scratch.file("vault/.gitignore"), 0o600)
            return vault
        }
        let counting = try ScratchDirectory()
        let clean = FaultPlan.counting()
        let counted = try makeWithRepository(counting)
        try FaultScope.run(clean) { try Self.changePassphrase(of: counted, rekey: true) }
        #expect(FileManager.default.contents(atPath: counting.file("vault/.git/HEAD")) == Data("ref".utf8))
        for n in 1...clean.count(of: operation) {
            let scratch = try ScratchDirectory()
            let vault = try makeWithRepository(scratch)
            let error = Self.failingPassphraseChange(of: vault, rekey: true, FaultPlan(operation, n: n, errno: EIO))
            let context = "\(operation) #\(n): \(error.map(\.message) ?? "done")"
            #expect(
                FileManager.default.contents(atPath: scratch.file("vault/.git/HEAD")) == Data("ref".utf8), "\(context)")
            #expect(
                FileManager.default.contents(atPath: scratch.file("vault/.gitignore")) == Data(".lock\n".utf8),
                "\(context)")
        }
    }
}
