// Revoking many tokens at once: records/ is swapped for an empty directory in
// one exchange and the old records are unlinked by a detached process
// (RevokedRecords.swift). The contract still holds: no revoked token's record
// stays in records/, nothing else there is lost, and a removal cut short is
// cleaned up by the next writer or by doctor.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@_spi(Bench) @testable import TokenVault

@Suite struct RevokedRecordsTests {
    init() { TestVault.useMinimalKDF() }

    static let many = Vault.backgroundRemovalThreshold + 20

    static func labels(_ count: Int) -> [String] { (1...count).map { "bulk-\($0)" } }

    /// Waits until `condition` holds, for at most `seconds` (a background
    /// process is being waited for, not timed).
    static func eventually(_ seconds: Double = 60, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    static func revokedDirectories(_ scratch: ScratchDirectory) -> [String] {
        FileManagerNames.of(scratch.file("vault")).filter { $0.hasPrefix(".revoked-") }
    }

    @Test func revokingManyEmptiesRecordsAndKeepsWhatIsNotARevokedRecord() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let created = try vault.createMany(labels: Self.labels(Self.many))
        scratch.write(Array("not a record\n".utf8), to: "vault/records/notes.txt")
        let lockInode = ScratchDirectory.inode(scratch.file("vault/.lock"))
        let recordsInode = ScratchDirectory.inode(scratch.file("vault/records"))

        let revoked = try vault.revokeAll()
        // Swapped out, not emptied one by one (which would also leave it empty).
        #expect(ScratchDirectory.inode(scratch.file("vault/records")) != recordsInode, "records/ was not swapped")

        #expect(revoked.count == Self.many)
        #expect(Set(revoked.map(\.id)) == Set(created.map(\.info.id)))
        // Already on return: records/ holds no revoked record, the stray file stays.
        #expect(FileManagerNames.of(scratch.file("vault/records")) == ["notes.txt"])
        #expect(scratch.bytes("vault/records/notes.txt") == Array("not a record\n".utf8))
        #expect(ScratchDirectory.mode(scratch.file("vault/records")) == 0o700)
        #expect(ScratchDirectory.inode(scratch.file("vault/.lock")) == lockInode)
        #expect(try vault.tokens().isEmpty)
        #expect(try vault.tokens(includeRevoked: true).count == Self.many)
        // The old records go away in the background.
        #expect(Self.eventually { Self.revokedDirectories(scratch).isEmpty }, "left: \(Self.revokedDirectories(scratch))")
        let report = try Vault(openingAt: scratch.file("vault")).doctor(repair: false)
        #expect(report.findings.map(\.problem) == ["unexpected file in the records directory"])
        // The vault goes on working, with a new records/ directory.
        let next = try vault.create(label: "after")
        #expect(FileManager.default.fileExists(atPath: scratch.file("vault/records/\(next.info.id).sealed")))
    }

    @Test func aRevocationThatLeavesAnActiveTokenDeletesRecordsOneByOne() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let created = try vault.createMany(labels: Self.labels(Self.many))
        let keep = created[0].info.id
        let revoked = try vault.revoke(ids: created.dropFirst().map(\.info.id))
        #expect(revoked.count == Self.many - 1)
        #expect(Self.revokedDirectories(scratch).isEmpty, "no directory was swapped out")
        #expect(FileManagerNames.of(scratch.file("vault/records")) == ["\(keep).sealed"])
        #expect(try vault.tokens().map(\.id) == [keep])
    }

    @Test func anAbandonedRemovalIsReportedByDoctorAndSweptByTheNextWriter() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        _ = try vault.create(label: "one")
        // What a remover killed half-way leaves: nobody holds its lock.
        let abandoned = ".revoked-999999-0123456789ab"
        mkdir(scratch.file("vault/" + abandoned), 0o700)
        for _ in 0..<5 { scratch.write([UInt8](repeating: 7, count: 64), to: "vault/\(abandoned)/\(TokenID.make()).sealed") }

        let report = try vault.doctor(repair: false)
        #expect(report.findings.map(\.path) == [scratch.file("vault/" + abandoned)])
        #expect(report.findings.first?.repairable == true)
        #expect(!report.isHealthy)

        _ = try vault.create(label: "two")
        #expect(Self.revokedDirectories(scratch).isEmpty)
        #expect(try vault.doctor(repair: false).isHealthy)
    }

    /// The detached remover unlinks only records: what a failed move-back
    /// would leave (here: a file `keeping` did not take back) stays, and so
    /// does the directory, for doctor to report.
    @Test func theRemoverUnlinksOnlyRecords() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        _ = try vault.createMany(labels: Self.labels(20))
        scratch.write([9], to: "vault/records/notes.txt")
        let directory = try VaultDirectory(path: scratch.file("vault"))
        #expect(try directory.removeRecordsInBackground(keeping: { _ in false }))
        let left = Self.revokedDirectories(scratch)
        #expect(left.count == 1)
        #expect(Self.eventually { FileManagerNames.of(scratch.file("vault/" + (left.first ?? ""))) == ["notes.txt"] })
        #expect(Self.revokedDirectories(scratch) == left)
        #expect(scratch.bytes("vault/\(left.first ?? "")/notes.txt") == [9])
    }

    @Test func aRemovalInProgressIsNeitherSweptNorReported() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let busy = ".revoked-999999-ba5eba11cafe", record = TokenID.make() + ".sealed"
        mkdir(scratch.file("vault/" + busy), 0o700)
        scratch.write([1, 2, 3], to: "vault/\(busy)/\(record)")
        // A live remover holds the directory's flock.
        let held = open(scratch.file("vault/" + busy), O_RDONLY | O_DIRECTORY)
        #expect(held >= 0)
        #expect(flock(held, LOCK_EX) == 0)
        defer { close(held) }

        #expect(try vault.doctor(repair: true).isHealthy)
        _ = try vault.create(label: "meanwhile")
        #expect(Self.revokedDirectories(scratch) == [busy])
        #expect(scratch.bytes("vault/\(busy)/\(record)") == [1, 2, 3])
    }

    /// A directory under the remover's name that holds more than records
    /// (a directory, a file a failed move-back left) is not ours to empty:
    /// its records go, the rest and the directory stay, and doctor says so.
    @Test(arguments: ["inner", "notes.txt"])
    func anAbandonedDirectoryHoldingMoreThanRecordsIsNotClaimedRepaired(stranger: String) throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let odd = ".revoked-999999-0123456789ab", record = TokenID.make() + ".sealed"
        mkdir(scratch.file("vault/" + odd), 0o700)
        if stranger == "inner" {
            mkdir(scratch.file("vault/\(odd)/inner"), 0o700)
        } else {
            scratch.write([9], to: "vault/\(odd)/\(stranger)")
        }
        scratch.write([1], to: "vault/\(odd)/\(record)")
        let report = try vault.doctor(repair: true)
        #expect(report.findings.count == 1)
        #expect(report.findings.first?.repaired == false)
        #expect(!report.isHealthy)
        #expect(scratch.bytes("vault/\(odd)/\(record)") == nil)
        #expect(FileManagerNames.of(scratch.file("vault/" + odd)) == [stranger])
    }

    /// Another `Vault` object (or process) that had records/ open before a
    /// large revocation swapped it out must write into the new records/.
    @Test func aWriterThatHadTheOldRecordsOpenWritesIntoTheNewOne() throws {
        let scratch = try ScratchDirectory()
        let first = try TestVault.make(in: scratch)
        _ = try first.createMany(labels: Self.labels(Self.many))      // first has records/ open
        let second = try Vault(openingAt: scratch.file("vault"))
        _ = try second.revokeAll()
        let created = try first.create(label: "after")
        #expect(FileManager.default.fileExists(atPath: scratch.file("vault/records/\(created.info.id).sealed")))
        #expect(Self.eventually { Self.revokedDirectories(scratch).isEmpty })
        #expect(FileManager.default.fileExists(atPath: scratch.file("vault/records/\(created.info.id).sealed")))
        #expect(try first.doctor(repair: false).isHealthy)
    }

    /// When records/ cannot be swapped (here: another tool holds an flock on
    /// it; elsewhere a file system without RENAME_EXCHANGE, or no space for
    /// the new directory) the records are deleted one by one instead.
    @Test func whenTheExchangeCannotBeMadeRecordsAreDeletedOneByOne() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        _ = try vault.createMany(labels: Self.labels(Self.many))
        let held = open(scratch.file("vault/records"), O_RDONLY | O_DIRECTORY)
        #expect(held >= 0 && flock(held, LOCK_EX) == 0)
        defer { close(held) }
        let recordsInode = ScratchDirectory.inode(scratch.file("vault/records"))
        let revoked = try vault.revokeAll()
        #expect(revoked.count == Self.many)
        #expect(ScratchDirectory.inode(scratch.file("vault/records")) == recordsInode, "records/ was swapped")
        #expect(Self.revokedDirectories(scratch).isEmpty)
        #expect(FileManagerNames.of(scratch.file("vault/records")).isEmpty)
        #expect(try vault.doctor(repair: false).isHealthy)
    }

    /// `restore --force` keeps the vault it replaces aside whole, records
    /// moved aside by a large revocation included, and leaves none in the new one.
    @Test func aReplacedVaultIsKeptAsideWithItsRevokedRecords() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        _ = try vault.create(label: "kept")
        let identity = AgeX25519Identity.generate()
        try vault.backup(to: OutputFile(path: scratch.file("b.age"), overwrite: false), recipients: [.x25519(identity.recipient)])
        let leftover = ".revoked-999999-0123456789ab"
        mkdir(scratch.file("vault/" + leftover), 0o700)
        scratch.write([1, 2], to: "vault/\(leftover)/\(TokenID.make()).sealed")
        try Vault.restore(from: scratch.file("b.age"), identities: [.x25519(identity)], to: scratch.file("vault"),
                          options: RestoreOptions(replaceExisting: true), credential: .passphrase(TestVault.secret(TestVault.passphrase)))
        let names = FileManagerNames.of(scratch.path)
        #expect(names.count == 3 && names.contains("b.age") && names.contains("vault"), "\(names)")
        let keptAside = try #require(names.first { $0.hasPrefix("vault.replaced-") })
        #expect(Self.revokedDirectories(scratch).isEmpty)
        #expect(FileManager.default.fileExists(atPath: scratch.file(keptAside + "/" + leftover)))
    }

    @Test func aSymlinkWithTheRemoversNameIsNeverFollowed() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        mkdir(scratch.file("elsewhere"), 0o700)
        scratch.write([9], to: "elsewhere/precious")
        symlink(scratch.file("elsewhere"), scratch.file("vault/.revoked-999999-0123456789ab"))
        _ = try vault.create(label: "one")
        _ = try vault.doctor(repair: true)
        #expect(scratch.bytes("elsewhere/precious") == [9])
    }
}
