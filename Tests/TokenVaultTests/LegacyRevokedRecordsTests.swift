import Foundation
import Testing

@testable import TokenVault

// Directories `.revoked-<pid>-<hex>` that older versions of ztoken left in a
// vault: they moved the records of a large revocation there for a detached
// process to delete. A vault that still holds one keeps working: the next writer
// removes the records in it and then the directory, `doctor` reports it and
// `doctor --repair` removes it, and only records (`<id>.sealed`) are ever
// unlinked there.
#if canImport(Glibc)
import Glibc
#endif

@Suite struct LegacyRevokedRecordsTests {
    init() { TestVault.useMinimalKDF() }

    static let legacy = ".revoked-999999-0123456789ab"

    static func revokedDirectories(_ scratch: ScratchDirectory) -> [String] {
        FileManagerNames.of(scratch.file("vault")).filter { $0.hasPrefix(".revoked-") }
    }

    /// Plants what a killed remover of an older ztoken leaves: a directory of
    /// records nobody holds. Returns the records' names.
    @discardableResult
    static func plant(_ scratch: ScratchDirectory, _ name: String = legacy, records: Int = 5) -> [String] {
        mkdir(scratch.file("vault/" + name), 0o700)
        let names = (0..<records).map { _ in TokenID.make() + ".sealed" }
        for record in names { scratch.write([UInt8](repeating: 7, count: 64), to: "vault/\(name)/\(record)") }
        return names
    }

    @Test func anAbandonedDirectoryIsReportedByDoctorAndSweptByTheNextWriter() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        _ = try vault.create(label: "one")
        Self.plant(scratch)

        let report = try vault.doctor(repair: false)
        #expect(report.findings.map(\.path) == [scratch.file("vault/" + Self.legacy)])
        #expect(report.findings.map(\.problem) == ["records of revoked tokens left by an interrupted revoke"])
        #expect(report.findings.first?.repairable == true)
        #expect(!report.isHealthy)
        #expect(
            FileManagerNames.of(scratch.file("vault/" + Self.legacy)).count == 5,
            "doctor without --repair removes nothing")

        _ = try vault.create(label: "two")
        #expect(Self.revokedDirectories(scratch).isEmpty)
        #expect(try vault.doctor(repair: false).isHealthy)
        #expect(try vault.tokens().map(\.label) == ["one", "two"])
    }

    @Test func doctorRepairRemovesAnAbandonedDirectory() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        Self.plant(scratch, records: 40)
        let report = try vault.doctor(repair: true)
        #expect(report.findings.map(\.path) == [scratch.file("vault/" + Self.legacy)])
        #expect(report.findings.first?.repaired == true)
        #expect(report.isHealthy)
        #expect(Self.revokedDirectories(scratch).isEmpty)
    }

    /// A remover of an older ztoken still at work holds an flock on its directory:
    /// it is left to it, neither swept nor reported.
    @Test func aDirectoryARunningRemoverHoldsIsLeftToIt() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let records = Self.plant(scratch, records: 1)
        let held = open(scratch.file("vault/" + Self.legacy), O_RDONLY | O_DIRECTORY)
        #expect(held >= 0)
        #expect(flock(held, LOCK_EX) == 0)
        defer { close(held) }

        #expect(try vault.doctor(repair: true).isHealthy)
        _ = try vault.create(label: "meanwhile")
        #expect(Self.revokedDirectories(scratch) == [Self.legacy])
        #expect(scratch.bytes("vault/\(Self.legacy)/\(records[0])") == [UInt8](repeating: 7, count: 64))
    }

    /// What is not a record (a file, a directory) was not put there by
    /// ztoken: the records go, the rest and the directory stay, and doctor
    /// names it as needing attention, repaired or not.
    @Test(arguments: ["inner", "notes.txt"])
    func aStrangerInTheDirectoryStaysAndIsReported(stranger: String) throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        let records = Self.plant(scratch, records: 3)
        if stranger == "inner" {
            mkdir(scratch.file("vault/\(Self.legacy)/inner"), 0o700)
        } else {
            scratch.write([9], to: "vault/\(Self.legacy)/\(stranger)")
        }
        let problem =
            "left by an interrupted revoke, holds '\(stranger)', which ztoken did not put there"

        let report = try vault.doctor(repair: true)
        #expect(report.findings.map(\.problem) == [problem])
        #expect(report.findings.first?.repairable == false)
        #expect(!report.isHealthy)
        for record in records { #expect(scratch.bytes("vault/\(Self.legacy)/\(record)") == nil) }
        #expect(FileManagerNames.of(scratch.file("vault/" + Self.legacy)) == [stranger])

        // The next writer leaves it too, and doctor still reports it.
        _ = try vault.create(label: "after")
        #expect(FileManagerNames.of(scratch.file("vault/" + Self.legacy)) == [stranger])
        if stranger == "notes.txt" { #expect(scratch.bytes("vault/\(Self.legacy)/notes.txt") == [9]) }
        #expect(try vault.doctor(repair: false).findings.map(\.problem) == [problem])
    }

    /// `restore --force` keeps the vault it replaces aside, whole, such a
    /// directory included; the restored vault has none.
    @Test func aReplacedVaultIsKeptAsideWithItsLegacyDirectory() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        _ = try vault.create(label: "kept")
        let identity = AgeX25519Identity.generate()
        try vault.backup(
            to: OutputFile(path: scratch.file("b.age"), overwrite: false), recipients: [.x25519(identity.recipient)])
        Self.plant(scratch, records: 2)
        try Vault.restore(
            from: scratch.file("b.age"), identities: [.x25519(identity)], to: scratch.file("vault"),
            options: RestoreOptions(replaceExisting: true),
            credential: .passphrase(TestVault.secret(TestVault.passphrase)))
        let names = FileManagerNames.of(scratch.path)
        #expect(names.count == 3 && names.contains("b.age") && names.contains("vault"), "\(names)")
        let keptAside = try #require(names.first { $0.hasPrefix("vault.replaced-") })
        #expect(Self.revokedDirectories(scratch).isEmpty)
        #expect(FileManager.default.fileExists(atPath: scratch.file(keptAside + "/" + Self.legacy)))
        #expect(try Vault(openingAt: scratch.file("vault")).tokens().map(\.label) == ["kept"])
    }

    @Test func aSymlinkWithTheLegacyNameIsNeverFollowed() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        mkdir(scratch.file("elsewhere"), 0o700)
        let record = TokenID.make() + ".sealed"
        scratch.write([9], to: "elsewhere/\(record)")
        symlink(scratch.file("elsewhere"), scratch.file("vault/" + Self.legacy))
        _ = try vault.create(label: "one")
        _ = try vault.doctor(repair: true)
        #expect(scratch.bytes("elsewhere/\(record)") == [9])
        #expect(Self.revokedDirectories(scratch) == [Self.legacy])
    }
}
