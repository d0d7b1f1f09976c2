import Foundation
import Testing

@testable import TokenVault

// AtomicFile: replacing a file is all-or-nothing. Each fault test fails the
// Nth open, write, fsync or rename (N = 1 … the number of such calls a clean
// write makes, as SQLite's fault tests count), then checks the old file is
// there byte for byte, no temp file is left, and the error names the path and
// the operation. The hook is process-global: see StorageTestSupport.swift for
// why these faults cannot reach any other test.
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct AtomicFileTests {
    static let oldContents = Array("old contents\n".utf8)
    static let newContents = Array(repeating: UInt8(ascii: "n"), count: 5000)

    /// How many calls of each operation one clean replace makes.
    static func cleanCounts() throws -> FaultPlan {
        let scratch = try ScratchDirectory()
        scratch.write(oldContents, to: "target")
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        let plan = FaultPlan.counting()
        try FaultScope.run(plan) {
            try AtomicFile.write(newContents, to: "target", in: fd, displayPath: scratch.file("target"))
        }
        return plan
    }

    @Test func aCleanReplaceMakesTheExpectedCalls() throws {
        let plan = try Self.cleanCounts()
        #expect(plan.count(of: .open) == 1)
        #expect(plan.count(of: .write) >= 1)
        // The temp file, then the directory after the rename.
        #expect(plan.count(of: .fsync) == 2)
        #expect(plan.count(of: .rename) == 1)
    }

    @Test(arguments: [FaultInjection.Operation.open, .write, .fsync, .rename], [EIO, ENOSPC])
    func failingTheNthCallKeepsTheOldFile(operation: FaultInjection.Operation, code: Int32) throws {
        let calls = try Self.cleanCounts().count(of: operation)
        try #require(calls > 0)
        for n in 1...calls {
            let scratch = try ScratchDirectory()
            scratch.write(Self.oldContents, to: "target")
            let inode = ScratchDirectory.inode(scratch.file("target"))
            let fd = try scratch.open()
            defer { Syscall.closeQuietly(fd) }
            let plan = FaultPlan(operation, n: n, errno: code)
            let thrown = #expect(throws: VaultError.self, "\(operation) #\(n) = \(code)") {
                try FaultScope.run(plan) {
                    try AtomicFile.write(Self.newContents, to: "target", in: fd, displayPath: scratch.file("target"))
                }
            }
            #expect(plan.fired)
            let expectedName: String =
                switch operation {
                case .open: "open"
                case .write: "write"
                case .fsync: "fsync"
                case .rename: "rename"
                case .unlink: "unlink"
                }
            #expect(
                thrown == .io(path: scratch.file("target"), operation: expectedName, errno: code),
                "\(operation) #\(n)")
            let survived = scratch.bytes("target") == Self.oldContents
            #expect(survived, "\(operation) #\(n): the old file did not survive byte for byte")
            #expect(
                ScratchDirectory.inode(scratch.file("target")) == inode, "\(operation) #\(n): the old file was replaced"
            )
            #expect(scratch.names() == ["target"], "\(operation) #\(n): left behind \(scratch.names())")
        }
    }

    /// A failed fsync of the directory comes after the rename: the file must
    /// still end up as it was (SPEC §9: the write fails, the old file stays),
    /// and when there was no file, there is none.
    @Test func aFailedDirectoryFsyncOfANewFileLeavesNoFile() throws {
        let scratch = try ScratchDirectory()
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        let plan = FaultPlan(.fsync, n: 2, errno: EIO)
        #expect(throws: VaultError.io(path: scratch.file("fresh"), operation: "fsync", errno: EIO)) {
            try FaultScope.run(plan) {
                try AtomicFile.write(Self.newContents, to: "fresh", in: fd, displayPath: scratch.file("fresh"))
            }
        }
        #expect(scratch.names().isEmpty, "left behind \(scratch.names())")
    }

    /// With the temp file in another directory (records are written this
    /// way), a failure still leaves neither a temp file nor a partial target.
    @Test(arguments: [FaultInjection.Operation.write, .fsync, .rename])
    func failuresAcrossTwoDirectoriesLeaveNothing(operation: FaultInjection.Operation) throws {
        for n in 1...3 {
            let scratch = try ScratchDirectory()
            mkdir(scratch.file("records"), 0o700)
            let top = try scratch.open()
            defer { Syscall.closeQuietly(top) }
            let records = try Syscall.openDirectory(scratch.file("records"))
            defer { Syscall.closeQuietly(records) }
            let plan = FaultPlan(operation, n: n, errno: EIO)
            do {
                try FaultScope.run(plan) {
                    try AtomicFile.write(
                        Self.newContents, to: "r.sealed", in: records, temporaryDirectory: top,
                        displayPath: scratch.file("records/r.sealed"))
                }
                #expect(!plan.fired)
                #expect(scratch.bytes("records/r.sealed")?.count == Self.newContents.count)
            } catch {
                #expect(plan.fired)
                #expect(scratch.names() == ["records"], "\(operation) #\(n): \(scratch.names())")
                #expect(FileManagerNames.of(scratch.file("records")).isEmpty, "\(operation) #\(n)")
            }
        }
    }

    @Test func aSuccessfulWriteReplacesTheFileWithMode0600EvenUnderUmask0() throws {
        let scratch = try ScratchDirectory()
        scratch.write(Self.oldContents, to: "target", mode: 0o644)
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        // umask is process-wide: keep the window to this one call.
        let saved = umask(0)
        let result = Result {
            try AtomicFile.write(Self.newContents, to: "target", in: fd, displayPath: scratch.file("target"))
        }
        umask(saved)
        try result.get()
        #expect(scratch.bytes("target") == Self.newContents)
        #expect(ScratchDirectory.mode(scratch.file("target")) == 0o600, "the old file's 0644 must not carry over")
        #expect(scratch.names() == ["target"])
    }

    @Test func aSymlinkAtTheTargetNameIsReplacedNeverFollowed() throws {
        let scratch = try ScratchDirectory()
        let outside = try ScratchDirectory()
        outside.write(Self.oldContents, to: "victim", mode: 0o644)
        #expect(symlink(outside.file("victim"), scratch.file("target")) == 0)
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        try AtomicFile.write(Self.newContents, to: "target", in: fd, displayPath: scratch.file("target"))
        var info = stat()
        #expect(lstat(scratch.file("target"), &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFREG, "the name must now be a regular file, not the symlink")
        #expect(scratch.bytes("target") == Self.newContents)
        #expect(outside.bytes("victim") == Self.oldContents, "the symlink's target was written through")
        #expect(ScratchDirectory.mode(outside.file("victim")) == 0o644)
        #expect(scratch.names() == ["target"])
    }

    /// The hook only fails calls made by the task that bound the plan: a
    /// write made on another thread while the plan is bound is untouched.
    @Test func aPlanDoesNotReachOtherThreads() throws {
        let scratch = try ScratchDirectory()
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        let plan = FaultPlan(.write, n: 1, errno: EIO)
        let done = DispatchSemaphore(value: 0)
        let outcome = OutcomeBox()
        let path = scratch.file("other")
        FaultScope.run(plan) {
            Thread {
                outcome.succeeded =
                    (try? AtomicFile.write(
                        Array("x".utf8), to: "other", in: fd,
                        displayPath: path)) != nil
                done.signal()
            }.start()
            done.wait()
        }
        #expect(outcome.succeeded)
        #expect(!plan.fired)
        #expect(scratch.bytes("other") == Array("x".utf8))
    }
}

/// Names in a directory, sorted.
enum FileManagerNames {
    static func of(_ path: String) -> [String] {
        guard let fd = try? Syscall.openDirectory(path) else { return [] }
        defer { Syscall.closeQuietly(fd) }
        return ((try? Syscall.directoryEntries(fd, displayPath: path)) ?? []).sorted()
    }
}

private final class OutcomeBox: @unchecked Sendable { var succeeded = false }
