// Backup and restore through the library: what the end-to-end suite cannot
// reach, such as a writer that opened the vault before a restore replaced it.
import Foundation
import Testing

@_spi(Bench) @testable import TokenVault

@Suite struct VaultBackupTests {
    final class Scratch {
        let root: String
        init() throws {
            setenv("ZTOKEN_TESTONLY_MINIMAL_KDF", "1", 1)
            var template = Array("/tmp/ztoken-unit-XXXXXX".utf8CString)
            root = String(cString: try #require(mkdtemp(&template)))
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    static let passphrase = VaultCredential.passphrase(SecureBytes(copying: Array("pw".utf8)))

    static func makeVault(at path: String) throws -> Vault {
        try Vault.initialize(
            at: path,
            setup: VaultSetup(
                user: "t", kdf: .interactive,
                keyProtection: .passphrase(SecureBytes(copying: Array("pw".utf8)))))
    }

    @Test func aWriterThatOpenedTheReplacedVaultIsStoppedNotLost() throws {
        let scratch = try Scratch()
        let path = scratch.root + "/vault"
        let vault = try Self.makeVault(at: path)
        let kept = try vault.create(label: "kept")
        let identity = AgeX25519Identity.generate()
        let backupPath = scratch.root + "/b.age"
        try vault.backup(to: OutputFile(path: backupPath, overwrite: false), recipients: [.x25519(identity.recipient)])

        let stale = try Vault(openingAt: path)  // opened before the restore
        try Vault.restore(
            from: backupPath, identities: [.x25519(identity)], to: path,
            options: RestoreOptions(replaceExisting: true), credential: Self.passphrase)

        #expect(throws: VaultError.vaultReplaced(path: path)) { try stale.create(label: "late") }
        #expect(throws: VaultError.vaultReplaced(path: path)) { try stale.revoke(ids: [kept.info.id]) }
        let fresh = try Vault(openingAt: path)
        #expect(try fresh.tokens().map(\.label) == ["kept"])
        #expect(try fresh.verify(kept.token) == .valid(kept.info))
        #expect(try fresh.doctor(repair: false).isHealthy)
        let siblings = try FileManager.default.contentsOfDirectory(atPath: scratch.root).sorted()
        #expect(
            siblings.count == 3 && siblings[0] == "b.age" && siblings[1] == "vault"
                && siblings[2].hasPrefix("vault.replaced-"), "restore left \(siblings)")
    }

    /// A backup with records missing or unreadable fails on the first such
    /// record in index order, and leaves no output behind.
    @Test func aBackupNamesTheFirstBadRecordInIndexOrder() throws {
        let scratch = try Scratch()
        let vault = try Self.makeVault(at: scratch.root + "/a")
        let created = try vault.createMany(labels: (1...12).map { "many-\($0)" })
        let identity = AgeX25519Identity.generate()
        func path(_ token: CreatedToken) -> String { scratch.root + "/a/records/\(token.info.id).sealed" }
        func backup(_ name: String) throws {
            _ = try vault.backup(
                to: OutputFile(path: scratch.root + "/" + name, overwrite: false),
                recipients: [.x25519(identity.recipient)])
        }
        for token in [created[9], created[7]] { #expect(unlink(path(token)) == 0) }
        #expect(
            throws: VaultError.corrupt(
                path: path(created[7]),
                reason: "the sealed record of active token 'many-8' is missing; run 'ztoken doctor'")
        ) {
            try backup("c.age")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/c.age"))
        // A record that cannot be read (group-readable: refused) before the missing ones is the error.
        #expect(chmod(path(created[4]), 0o644) == 0)
        #expect(throws: VaultError.unsafePermissions(path: path(created[4]), mode: S_IFREG | 0o644, expected: 0o600)) {
            try backup("d.age")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/d.age"))
    }

    @Test func aBackupHoldsOnlyActiveRecordsAndRestoresTheSameVault() throws {
        let scratch = try Scratch()
        let vault = try Self.makeVault(at: scratch.root + "/a")
        let a = try vault.create(label: "a")
        let b = try vault.create(label: "b")
        try vault.revoke(ids: [b.info.id])
        let identity = AgeX25519Identity.generate()
        let summary = try vault.backup(
            to: OutputFile(path: scratch.root + "/b.age", overwrite: false),
            recipients: [.x25519(identity.recipient)])
        #expect(summary.activeTokens == 1)
        #expect(summary.files == 5)  // vault.json, vault-key.json, log.jsonl, index.json, one record
        try Self.restore(in: scratch, with: identity)
        let restored = try Vault(openingAt: scratch.root + "/r")
        #expect(try restored.tokens(includeRevoked: true) == vault.tokens(includeRevoked: true))
        #expect(restored.vaultID == vault.vaultID)
        let key = try restored.unlock(passphrase: SecureBytes(copying: Array("pw".utf8)))
        #expect(try restored.revealToken(id: a.info.id, with: key).constantTimeEquals(a.token))
    }

    /// A backup whose archive is built here: backup.json listing `listed`, then `members`.
    static func archive(listed: [(String, Int)], members: [(String, [UInt8])]) throws -> [UInt8] {
        let files = listed.map {
            BackupManifest.File(path: $0.0, size: $0.1, blake2b: String(repeating: "0", count: 64))
        }
        let manifest = BackupManifest(
            version: 1, vaultID: "v", createdAt: "2026-01-01T00:00:00Z", activeTokens: 0, files: files)
        var entries = [
            TarArchive.Entry.file(
                BackupManifest.path, mode: 0o600, contents: SecureBytes(copying: try manifest.encoded()))
        ]
        for (path, bytes) in members { entries.append(.file(path, mode: 0o600, contents: SecureBytes(copying: bytes))) }
        return try TarArchive.write(entries, modificationTime: 0).withUnsafeBytes { Array($0) }
    }

    /// A path from a backup never reaches a message raw (terminal escape injection).
    @Test func aBackupPathWithAnEscapeIsShownEscaped() throws {
        let evil = "vault/\u{1B}]0;pwned\u{07}"
        do {
            _ = try Vault.checkBackupArchive(try Self.archive(listed: [(evil, 1)], members: []), shown: "b.age")
            Issue.record("accepted")
        } catch let error as VaultError {
            #expect(
                !error.message.unicodeScalars.contains("\u{1B}") && !error.message.unicodeScalars.contains("\u{07}"),
                "\(error.message)")
            #expect(error.message.contains("\\u{1b}"), "\(error.message)")
        }
    }

    /// A member is held to the vault's limit for its kind from the manifest,
    /// before any of its bytes are read.
    @Test func aMemberLargerThanTheVaultAllowsIsRefusedBeforeItIsRead() throws {
        let record = "vault/records/aaaaaaaaaaaa.sealed"
        #expect(
            throws: VaultError.corrupt(
                path: "b.age", reason: "'\(record)' is \(60 << 20) bytes; the vault's limit for it is 4096")
        ) {
            _ = try Vault.checkBackupArchive(
                try Self.archive(listed: [(record, 60 << 20)], members: []), shown: "b.age")
        }
        #expect(throws: VaultError.corrupt(path: "b.age", reason: "unlisted file 'vault/index.json'")) {
            _ = try Vault.checkBackupArchive(
                try Self.archive(listed: [], members: [("vault/index.json", [1])]), shown: "b.age")
        }
    }

    /// A vault at `<scratch>/a` with the token "one", backed up to
    /// `<scratch>/b.age` for the identity returned.
    static func backUpOneToken(in scratch: Scratch) throws -> AgeX25519Identity {
        let vault = try makeVault(at: scratch.root + "/a")
        _ = try vault.create(label: "one")
        let identity = AgeX25519Identity.generate()
        try vault.backup(
            to: OutputFile(path: scratch.root + "/b.age", overwrite: false), recipients: [.x25519(identity.recipient)])
        return identity
    }

    /// Restores `<scratch>/b.age` into `<scratch>/r`, which first sweeps the
    /// staging directories of vault `r` a dead process left beside it.
    static func restore(in scratch: Scratch, with identity: AgeX25519Identity) throws {
        try Vault.restore(
            from: scratch.root + "/b.age", identities: [.x25519(identity)], to: scratch.root + "/r",
            options: RestoreOptions(), credential: passphrase)
    }

    /// The sweep of abandoned staging directories never follows a planted
    /// symlink: not as the staging directory, not as its records/.
    @Test func theStagingSweepNeverFollowsASymlink() throws {
        let scratch = try Scratch()
        let identity = try Self.backUpOneToken(in: scratch)
        for name in ["elsewhere/records", "elsewhere2"] {
            try FileManager.default.createDirectory(
                atPath: scratch.root + "/" + name, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: scratch.root + "/" + name + "/precious", contents: Data([9]))
        }
        // A dead owner's staging name that is a symlink, and one whose records/ is.
        symlink(scratch.root + "/elsewhere", scratch.root + "/.r.restore-999999-0123456789ab")
        mkdir(scratch.root + "/.r.restore-999998-0123456789ab", 0o700)
        symlink(scratch.root + "/elsewhere2", scratch.root + "/.r.restore-999998-0123456789ab/records")
        try Self.restore(in: scratch, with: identity)
        #expect(FileManager.default.contents(atPath: scratch.root + "/elsewhere/records/precious") == Data([9]))
        #expect(FileManager.default.contents(atPath: scratch.root + "/elsewhere2/precious") == Data([9]))
        #expect(!FileManager.default.fileExists(atPath: scratch.root + "/.r.restore-999998-0123456789ab"))
    }

    /// restore and rekey move the vault's `.git` into their staging
    /// directory before the exchange; one a dead process left there is the
    /// user's history, which the sweep keeps (with the directory), while it
    /// removes the rest, a failed clone's or init's fresh `.git` included,
    /// and leaves a tree nested past `removalDepthLimit` instead of walking it.
    @Test func theStagingSweepKeepsARepositoryAndRemovesTheRest() throws {
        let scratch = try Scratch()
        let identity = try Self.backUpOneToken(in: scratch)
        let files = FileManager.default
        func plant(_ path: String) throws {
            let full = scratch.root + "/" + path
            try files.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            #expect(files.createFile(atPath: full, contents: Data([7])))
        }
        for staging in [".r.restore-999997-0123456789ab", ".r.rekey-999996-0123456789ab"] {
            try plant(staging + "/.git/objects/ab/cdef")
            try plant(staging + "/.git/HEAD")
            try plant(staging + "/vault.json")
            try plant(staging + "/records/x.sealed")
        }
        try plant(".r.clone-999995-0123456789ab/.git/objects/ab/cdef")
        try plant(".r.init-999993-0123456789ab/.git/HEAD")
        let levels = Array(repeating: "d", count: Directories.removalDepthLimit + 8)
        let deep = ".r.init-999994-0123456789ab/" + levels.joined(separator: "/")
        try plant(deep + "/bottom")

        try Self.restore(in: scratch, with: identity)
        #expect(try Vault(openingAt: scratch.root + "/r").tokens().map(\.label) == ["one"])
        for staging in [".r.restore-999997-0123456789ab", ".r.rekey-999996-0123456789ab"] {
            let kept = scratch.root + "/" + staging
            #expect(files.contents(atPath: kept + "/.git/objects/ab/cdef") == Data([7]), "\(staging)")
            #expect(files.contents(atPath: kept + "/.git/HEAD") == Data([7]), "\(staging)")
            #expect(try files.contentsOfDirectory(atPath: kept) == [".git"], "\(staging)")
        }
        #expect(!files.fileExists(atPath: scratch.root + "/.r.clone-999995-0123456789ab"))
        #expect(!files.fileExists(atPath: scratch.root + "/.r.init-999993-0123456789ab"))
        #expect(files.contents(atPath: scratch.root + "/" + deep + "/bottom") == Data([7]))
    }

    // MARK: A restore that fails late

    /// A vault at `<root>/vault` with tokens a, b and c (c revoked), backed
    /// up; then b is revoked and d created. A restore into an empty location
    /// brings back the backup as it was; one over the vault carries b's
    /// revocation and loses d, which stays in the vault kept aside.
    final class LateFailureScene {
        let scratch: Scratch
        let vault: String
        let backup: String
        let identity = AgeX25519Identity.generate()
        /// The plaintext tokens by label.
        var tokens: [String: SecureBytes] = [:]
        /// The tokens as backed up, and as the vault lists them before the restore.
        let backedUp: [TokenInfo]
        let current: [TokenInfo]
        let dID: String

        init() throws {
            scratch = try Scratch()
            vault = scratch.root + "/vault"
            backup = scratch.root + "/b.age"
            let made = try VaultBackupTests.makeVault(at: vault)
            var ids: [String: String] = [:]
            for label in ["a", "b", "c"] {
                let created = try made.create(label: label)
                tokens[label] = created.token
                ids[label] = created.info.id
            }
            _ = try made.revoke(ids: [ids["c"]!])
            try made.backup(to: OutputFile(path: backup, overwrite: false), recipients: [.x25519(identity.recipient)])
            backedUp = try made.tokens(includeRevoked: true)
            _ = try made.revoke(ids: [ids["b"]!])
            let d = try made.create(label: "d")
            tokens["d"] = d.token
            dID = d.info.id
            current = try made.tokens(includeRevoked: true)
        }

        /// Where a restore goes: the vault (`force`) or an empty location.
        func target(force: Bool) -> String { force ? vault : scratch.root + "/restored" }

        /// What the restored vault lists: the backup's tokens, with b's
        /// revocation carried over when it replaced the vault.
        func restoredTokens(force: Bool) -> [TokenInfo] { force ? current.filter { $0.id != dID } : backedUp }

        func restore(force: Bool) throws {
            try Vault.restore(
                from: backup, identities: [.x25519(identity)], to: target(force: force),
                options: RestoreOptions(replaceExisting: force), credential: VaultBackupTests.passphrase)
        }

        /// `<root>/vault.replaced-…`, the vaults a restore kept aside.
        func keptAside() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: scratch.root)) ?? []).filter {
                $0.hasPrefix("vault.replaced-")
            }
            .sorted().map { scratch.root + "/" + $0 }
        }

        /// Every file of the vault but its lock, with its bytes.
        func files() -> [String: Data] {
            var files: [String: Data] = [:]
            for case let name as String in FileManager.default.enumerator(atPath: vault)?.allObjects ?? []
            where name != ".lock" {
                files[name] = FileManager.default.contents(atPath: vault + "/" + name) ?? Data()
            }
            return files
        }
    }

    /// The calls a restore that succeeds makes, on a scene made as `LateFailureScene` makes it.
    static func cleanRestoreCounts(force: Bool) throws -> FaultPlan {
        let scene = try LateFailureScene()
        let plan = FaultPlan.counting()
        try FaultScope.run(plan) { try scene.restore(force: force) }
        return plan
    }

    /// The vault at `path` opens with the passphrase and lists exactly
    /// `tokens`; every active one verifies and its record opens to the token.
    static func expectRestored(
        _ path: String, _ tokens: [TokenInfo], _ plaintext: [String: SecureBytes], _ context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let vault = try Vault(openingAt: path)
        #expect(try vault.tokens(includeRevoked: true) == tokens, "\(context)", sourceLocation: sourceLocation)
        let key = try vault.unlock(passphrase: SecureBytes(copying: Array("pw".utf8)))
        for info in tokens {
            let token = try #require(plaintext[info.label])
            let verified = try vault.verify(token)
            if info.state == .active {
                #expect(verified == .valid(info), "\(context): \(info.label)", sourceLocation: sourceLocation)
                #expect(
                    try vault.revealToken(id: info.id, with: key).constantTimeEquals(token),
                    "\(context): \(info.label)", sourceLocation: sourceLocation)
            } else {
                #expect(verified != .valid(info), "\(context): \(info.label)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Every fsync, rename and unlink of a restore failing in turn, into an
    /// empty location and over a vault (`force`). One that comes before the
    /// rename or exchange that installs the vault is the plain error and
    /// leaves the location as it was: no vault, or the old vault, byte for
    /// byte, and nothing kept aside. One after it (the parent's fsync) is
    /// `.restoredDespiteFailure`: the vault there is the restored one (the
    /// backup's tokens, with the replaced vault's revocations carried over),
    /// the replaced vault is whole at the kept path the error names, and
    /// doctor has nothing to say after a repair.
    @Test(arguments: [false, true], [FaultInjection.Operation.fsync, .rename, .unlink])
    func aFailureAfterTheInstallSaysTheVaultWasRestored(force: Bool, operation: FaultInjection.Operation) throws {
        let clean = try Self.cleanRestoreCounts(force: force)
        var afterTheInstall = 0
        for n in 1..<clean.count(of: operation) + 1 {
            let scene = try LateFailureScene()
            let path = scene.target(force: force)
            let before = scene.files()
            var error: VaultError?
            do {
                try FaultScope.run(FaultPlan(operation, n: n, errno: EIO)) { try scene.restore(force: force) }
            } catch let failure as VaultError {
                error = failure
            }
            let context = "\(force ? "--force" : "fresh"), \(operation) #\(n): \(error.map(\.message) ?? "done")"
            switch error {
            case .restoredDespiteFailure(let reported, let cause, let kept)?:
                afterTheInstall += 1
                #expect(reported == path, "\(context)")
                #expect(cause == "\(scene.scratch.root): fsync failed: input/output error", "\(context)")
                #expect(kept == (force ? scene.keptAside().first : nil), "\(context)")
                let failure = try #require(error)
                #expect(failure.exitCode == 74)
                #expect(
                    failure.message
                        == "\(cause); all the same, the vault at \(path) is now the restored one"
                        + (force ? ", and the replaced vault is kept aside at \(kept ?? "")" : ""), "\(context)")
                #expect(failure.hint?.contains("'ztoken doctor' checks the vault") == true, "\(context)")
                try Self.expectLateFailureLeftTheRestoredVault(scene, force: force, context)
            case nil:
                try Self.expectLateFailureLeftTheRestoredVault(scene, force: force, context)
            case let other?:
                #expect(other.exitCode == 74, "\(context)")
                #expect(!other.message.contains("all the same"), "\(context)")
                #expect(scene.keptAside().isEmpty, "\(context)")
                if force {
                    #expect(scene.files() == before, "the vault changed: \(context)")
                    try Self.expectRestored(path, scene.current, scene.tokens, context)
                } else {
                    #expect(!FileManager.default.fileExists(atPath: path), "\(context)")
                }
            }
        }
        // Only the parent's fsync comes after the install; nothing does when
        // a plain failure is all a kind can give.
        #expect(afterTheInstall == (operation == .fsync ? 1 : 0), "\(operation)")
        print(
            "restore\(force ? " --force" : ""), \(operation): \(afterTheInstall) of "
                + "\(clean.count(of: operation)) failures after the install")
    }

    /// After a restore that reported success or `.restoredDespiteFailure`:
    /// the restored vault is in place, the replaced one (d still active) at
    /// the one kept path, and doctor is clean after a repair.
    static func expectLateFailureLeftTheRestoredVault(
        _ scene: LateFailureScene, force: Bool, _ context: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let path = scene.target(force: force)
        try expectRestored(path, scene.restoredTokens(force: force), scene.tokens, context)
        let kept = scene.keptAside()
        #expect(kept.count == (force ? 1 : 0), "\(context): \(kept)", sourceLocation: sourceLocation)
        if force, let aside = kept.first {
            try expectRestored(aside, scene.current, scene.tokens, "kept aside: \(context)")
        }
        let vault = try Vault(openingAt: path)
        _ = try vault.doctor(repair: true)
        let report = try vault.doctor(repair: false)
        #expect(report.findings.isEmpty, "\(context): \(report.findings)", sourceLocation: sourceLocation)
        #expect(report.keptAside == kept, "\(context)", sourceLocation: sourceLocation)
    }
}
