import Testing

@testable import TokenVault

// OutputFile: a file outside the vault appears under its name only when
// complete. An existing file is refused before anything is written, an
// abandoned or dropped output leaves no temp file, overwrite replaces, and a
// file that appears between start and commit is never overwritten.
#if canImport(Glibc)
import Glibc
#endif

@Suite struct OutputFileTests {
    static let contents = Array("bundle bytes\n".utf8)

    @Test func anExistingFileIsRefusedBeforeAnythingIsWritten() throws {
        let scratch = try ScratchDirectory()
        scratch.write(Array("precious".utf8), to: "out", mode: 0o644)
        #expect(throws: VaultError.alreadyExists(path: scratch.file("out"))) {
            _ = try OutputFile(path: scratch.file("out"), overwrite: false)
        }
        #expect(scratch.names() == ["out"], "no temp file may be made for a refused output")
        #expect(scratch.bytes("out") == Array("precious".utf8))
        // A dangling symlink is an existing name too: never written through.
        #expect(symlink(scratch.file("nowhere"), scratch.file("link")) == 0)
        #expect(throws: VaultError.alreadyExists(path: scratch.file("link"))) {
            _ = try OutputFile(path: scratch.file("link"), overwrite: false)
        }
        #expect(access(scratch.file("nowhere"), F_OK) != 0)
    }

    @Test func commitMakesTheFileAppearWholeWithMode0600() throws {
        let scratch = try ScratchDirectory()
        let output = try OutputFile(path: scratch.file("out"), overwrite: false)
        try output.write(Self.contents)
        #expect(access(scratch.file("out"), F_OK) != 0, "nothing appears under the name before commit")
        #expect(scratch.names().count == 1 && scratch.names()[0].hasPrefix(".out.ztoken-"))
        try output.commit()
        #expect(scratch.names() == ["out"])
        #expect(scratch.bytes("out") == Self.contents)
        #expect(ScratchDirectory.mode(scratch.file("out")) == 0o600)
        try output.commit()
        #expect(scratch.names() == ["out"])
    }

    /// A large output written in many pieces is exactly what was written, in order.
    @Test func aLargeOutputIsWrittenWhole() throws {
        let scratch = try ScratchDirectory()
        let output = try OutputFile(path: scratch.file("big"), overwrite: false)
        var expected: [UInt8] = []
        for round in 0..<10 {
            let bytes = [UInt8](repeating: UInt8(round), count: (1 << 20) + 17)
            try output.write(bytes)
            expected += bytes
        }
        try output.commit()
        #expect(scratch.bytes("big") == expected)
    }

    @Test func abandonLeavesNoTempFile() throws {
        let scratch = try ScratchDirectory()
        let output = try OutputFile(path: scratch.file("out"), overwrite: false)
        try output.write(Self.contents)
        output.abandon()
        #expect(scratch.names().isEmpty)
        output.abandon()
        #expect(scratch.names().isEmpty)
    }

    @Test func droppingAnUncommittedOutputLeavesNoTempFile() throws {
        let scratch = try ScratchDirectory()
        do {
            let output = try OutputFile(path: scratch.file("out"), overwrite: false)
            try output.write(Self.contents)
            #expect(scratch.names().count == 1)
        }
        #expect(scratch.names().isEmpty)
    }

    @Test func commitWithOverwriteReplacesTheFile() throws {
        let scratch = try ScratchDirectory()
        scratch.write(Array("old".utf8), to: "out", mode: 0o644)
        let output = try OutputFile(path: scratch.file("out"), overwrite: true)
        try output.write(Self.contents)
        #expect(scratch.bytes("out") == Array("old".utf8), "the old file stays until commit")
        try output.commit()
        #expect(scratch.names() == ["out"])
        #expect(scratch.bytes("out") == Self.contents)
        #expect(ScratchDirectory.mode(scratch.file("out")) == 0o600)
    }

    /// With overwrite, a failing directory fsync (after the rename) puts the
    /// replaced file back: a failed backup or bundle never leaves the user
    /// with neither the old file nor the new one.
    @Test func aFailedCommitOverAnOldFileKeepsTheOldFile() throws {
        let scratch = try ScratchDirectory()
        scratch.write(Array("old".utf8), to: "out")
        let output = try OutputFile(path: scratch.file("out"), overwrite: true)
        try output.write(Self.contents)
        // The file's fsync is the first, the directory's (after the rename) the second.
        let plan = FaultPlan(.fsync, n: 2, errno: EIO)
        #expect(throws: VaultError.self) { try FaultScope.run(plan) { try output.commit() } }
        #expect(plan.fired)
        #expect(scratch.bytes("out") == Array("old".utf8))
        #expect(scratch.names() == ["out"], "no temp or kept-aside name is left")
    }

    /// A file created between start and commit (another program, a second
    /// ztoken) is not overwritten: commit links, which fails on an existing
    /// name, and the temp file goes away.
    @Test func aFileThatAppearsBeforeCommitWins() throws {
        let scratch = try ScratchDirectory()
        let output = try OutputFile(path: scratch.file("out"), overwrite: false)
        try output.write(Self.contents)
        scratch.write(Array("theirs".utf8), to: "out")
        #expect(throws: VaultError.alreadyExists(path: scratch.file("out"))) { try output.commit() }
        #expect(scratch.names() == ["out"])
        #expect(scratch.bytes("out") == Array("theirs".utf8))
    }

    @Test func aMissingParentDirectoryIsNotFound() throws {
        let scratch = try ScratchDirectory()
        #expect(throws: VaultError.fileNotFound(path: scratch.file("no/such"))) {
            _ = try OutputFile(path: scratch.file("no/such/out"), overwrite: false)
        }
        #expect(throws: VaultError.self) { _ = try OutputFile(path: scratch.file("."), overwrite: false) }
    }

    // Writing through to standard output ("-") is covered end to end by
    // BackupRestoreCLITests.backupToStandardOutputAndRestoreFromStandardInput.
}
