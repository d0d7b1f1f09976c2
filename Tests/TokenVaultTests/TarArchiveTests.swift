import Foundation
import TestSupport
import Testing

@testable import TokenVault

@Suite struct TarArchiveTests {
    static let limits = TarArchive.Limits(maxTotalSize: 1 << 20, maxEntryCount: 16)
    static let mtime: Int64 = 1_714_564_800  // 2024-05-01T12:00:00Z

    static func sampleEntries() -> [TarArchive.Entry] {
        [
            .directory("zbot", mode: 0o700),
            .directory("zbot/conf", mode: 0o700),
            .file(
                "zbot/conf/zbot.properties", mode: 0o600,
                contents: SecureBytes(copying: Array("zephyrApiToken=ztk_secret\n".utf8))),
            .file(
                "manifest.json", mode: 0o600,
                contents: SecureBytes(copying: Array(repeating: UInt8(ascii: "m"), count: 1000))),
            .file("empty", mode: 0o600, contents: SecureBytes(zeroedCount: 0)),
            .file("exactly-512", mode: 0o600, contents: SecureBytes(copying: Array(repeating: 7, count: 512))),
        ]
    }

    static func bytes(_ secret: SecureBytes) -> [UInt8] { secret.withUnsafeBytes { Array($0) } }

    static func tar() throws -> String { try ExternalTools.locate("tar", package: "tar") }

    // MARK: Writer

    @Test func archiveIsDeterministicAndPaddedToARecord() throws {
        let one = try TarArchive.write(Self.sampleEntries(), modificationTime: Self.mtime)
        let two = try TarArchive.write(Self.sampleEntries(), modificationTime: Self.mtime)
        #expect(one.constantTimeEquals(two))
        #expect(one.count % 10_240 == 0)
        #expect(one.count > 0)
    }

    @Test func gnuTarExtractsTheArchiveExactly() throws {
        let tar = try Self.tar()
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let archive = try TarArchive.write(Self.sampleEntries(), modificationTime: Self.mtime)
        try Data(Self.bytes(archive)).write(to: directory.appendingPathComponent("a.tar"))
        let out = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: false)
        let result = try ExternalTools.run(tar, ["-x", "-f", "../a.tar"], in: out)
        #expect(result.status == 0, "tar -x failed: \(result.stderrText)")
        #expect(result.stderr.isEmpty, "tar warned: \(result.stderrText)")
        for entry in Self.sampleEntries() {
            let path = out.appendingPathComponent(entry.path).path
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == Int(entry.mode), "mode of \(entry.path)")
            #expect((attributes[.type] as? FileAttributeType) == (entry.isDirectory ? .typeDirectory : .typeRegular))
            if !entry.isDirectory {
                #expect(
                    Array(try Data(contentsOf: URL(fileURLWithPath: path))) == Self.bytes(entry.contents),
                    "\(entry.path)")
                let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970
                #expect(modified == Double(Self.mtime))
            }
        }
        // And GNU tar's own listing agrees on owner and format.
        let list = try ExternalTools.run(tar, ["-t", "-v", "--numeric-owner", "-f", "a.tar"], in: directory)
        #expect(list.status == 0)
        #expect(String(decoding: list.stdout, as: UTF8.self).contains("-rw------- 0/0"))
    }

    @Test func readerReadsWhatTheWriterWrote() throws {
        let archive = try TarArchive.write(Self.sampleEntries(), modificationTime: Self.mtime)
        let read = try TarArchive.read(archive, displayPath: "test.tar", limits: Self.limits)
        let expected = Self.sampleEntries()
        #expect(read.map(\.path) == expected.map(\.path))
        #expect(read.map(\.mode) == expected.map(\.mode))
        #expect(read.map(\.isDirectory) == expected.map(\.isDirectory))
        #expect(read.map { Self.bytes($0.contents) } == expected.map { Self.bytes($0.contents) })
    }

    @Test func longPathsUseThePrefixField() throws {
        let deep = (0..<12).map { "directory\($0)" }.joined(separator: "/") + "/file"  // > 100 bytes
        let entries: [TarArchive.Entry] = [.file(deep, mode: 0o644, contents: SecureBytes(copying: [1, 2, 3]))]
        let archive = try TarArchive.write(entries, modificationTime: 0)
        let read = try TarArchive.read(archive, displayPath: "t", limits: Self.limits)
        #expect(read.first?.path == deep)
        let tooLong = String(repeating: "x", count: 101)
        #expect(throws: VaultError.self) {
            try TarArchive.write(
                [.file(tooLong, mode: 0o600, contents: SecureBytes(zeroedCount: 0))], modificationTime: 0)
        }
    }

    @Test(arguments: [
        "", "/abs", "../up", "a/../b", "a//b", "./a", "a\u{0}b", "new\nline",
        "a/", "a/.", "a/..", "\u{202E}evil", "a/zero\u{200B}width", "tab\there", "del\u{7F}",
    ])
    func writerRefusesUnsafePaths(_ path: String) {
        #expect(throws: VaultError.self) {
            try TarArchive.write([.file(path, mode: 0o600, contents: SecureBytes(zeroedCount: 0))], modificationTime: 0)
        }
    }

    /// Names that only look like the refused ones are ordinary paths.
    @Test(arguments: [".hidden", "..x", "a/..b", "a./b.", "...", "é/ü.txt", "日本/語"])
    func writerAcceptsUnusualButSafePaths(_ path: String) throws {
        let archive = try TarArchive.write(
            [.file(path, mode: 0o600, contents: SecureBytes(copying: [1, 2, 3]))], modificationTime: 0)
        let entries = try TarArchive.read(archive, displayPath: "t.tar", limits: Self.limits)
        #expect(entries.map(\.path) == [path])
    }

    /// A control character is named before a component problem, whichever comes first.
    @Test func controlCharactersAreReportedFirst() {
        #expect(TarArchive.pathProblem("../a\u{1B}b") == "contains a control character")
        #expect(TarArchive.pathProblem("../é") == "has a '..' component")
        #expect(TarArchive.pathProblem("/a\nb") == "is absolute")
    }

    /// The header checksum, eight bytes at a time, against the plain sum.
    @Test func byteSumIsTheSumOfEveryByte() {
        var generator = SystemRandomNumberGenerator()
        var blocks: [[UInt8]] = [[UInt8](repeating: 0, count: 512), [UInt8](repeating: 0xFF, count: 512)]
        for _ in 0..<50 { blocks.append((0..<512).map { _ in UInt8.random(in: 0...255, using: &generator) }) }
        for block in blocks {
            #expect(block.withUnsafeBytes(TarArchive.byteSum) == block.reduce(0) { $0 + Int($1) })
        }
    }

    // MARK: Reader against GNU tar

    @Test func readerReadsGNUTarUstarArchives() throws {
        let tar = try Self.tar()
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let deep = (0..<12).map { "d\($0)xxxxxxxx" }.joined(separator: "/")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("src/\(deep)"), withIntermediateDirectories: true)
        try Data("hello\n".utf8).write(to: directory.appendingPathComponent("src/a.txt"))
        try Data(repeating: 0xAB, count: 70_000).write(to: directory.appendingPathComponent("src/\(deep)/big.bin"))
        try Data().write(to: directory.appendingPathComponent("src/empty"))
        let result = try ExternalTools.run(
            tar, ["--format=ustar", "-c", "-f", "../a.tar", "a.txt", "empty", "d0xxxxxxxx"],
            in: directory.appendingPathComponent("src"))
        #expect(result.status == 0, "\(result.stderrText)")
        let archive = SecureBytes(copying: try Data(contentsOf: directory.appendingPathComponent("a.tar")))
        let entries = try TarArchive.read(archive, displayPath: "a.tar", limits: Self.limits)
        let byPath = Dictionary(entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath["a.txt"].map { Self.bytes($0.contents) } == Array("hello\n".utf8))
        #expect(byPath["empty"]?.contents.count == 0)
        #expect(byPath["d0xxxxxxxx"]?.isDirectory == true)
        #expect(byPath["\(deep)/big.bin"].map { Self.bytes($0.contents) } == [UInt8](repeating: 0xAB, count: 70_000))
        #expect(entries.count == 3 + 12)
    }

    /// Archives GNU tar makes that the reader must refuse: links, special
    /// formats. Each case is (setup in src, extra tar arguments, members).
    @Test(arguments: [
        ("symlink", ["--format=ustar"], ["link"]),
        ("hardlink", ["--format=ustar"], ["a", "hard"]),
        ("pax", ["--format=pax"], ["a"]),
        ("gnu", ["--format=gnu"], ["a"]),
        ("absolute", ["--format=ustar", "-P"], ["ABS"]),
        ("fifo", ["--format=ustar"], ["fifo"]),
    ])
    func readerRefusesGNUTarSpecials(_ name: String, _ options: [String], _ members: [String]) throws {
        let tar = try Self.tar()
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let src = directory.appendingPathComponent("src")
        try FileManager.default.createDirectory(at: src, withIntermediateDirectories: true)
        try Data("a".utf8).write(to: src.appendingPathComponent("a"))
        try FileManager.default.createSymbolicLink(
            atPath: src.appendingPathComponent("link").path, withDestinationPath: "/etc/passwd")
        try FileManager.default.linkItem(
            atPath: src.appendingPathComponent("a").path, toPath: src.appendingPathComponent("hard").path)
        let mkfifo = try ExternalTools.locate("mkfifo", package: "coreutils")
        #expect(try ExternalTools.run(mkfifo, [src.appendingPathComponent("fifo").path]).status == 0)
        let members = members.map { $0 == "ABS" ? src.appendingPathComponent("a").path : $0 }
        let result = try ExternalTools.run(tar, options + ["-c", "-f", "../x.tar"] + members, in: src)
        #expect(result.status == 0, "\(name): \(result.stderrText)")
        let archive = SecureBytes(copying: try Data(contentsOf: directory.appendingPathComponent("x.tar")))
        #expect(throws: VaultError.self, "\(name) archive was accepted") {
            try TarArchive.read(archive, displayPath: "x.tar", limits: Self.limits)
        }
    }

    // MARK: Reader against hand-made hostile archives

    /// A one-entry archive with a header made field by field.
    static func handMade(
        name: [UInt8], type: UInt8 = UInt8(ascii: "0"), contents: [UInt8] = [],
        prefix: [UInt8] = [], link: [UInt8] = [], magic: [UInt8] = Array("ustar\u{0}00".utf8),
        size: [UInt8]? = nil, fixChecksum: Bool = true
    ) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], _ offset: Int) { for (i, b) in bytes.enumerated() { header[offset + i] = b } }
        func octal(_ value: Int, _ width: Int) -> [UInt8] {
            let digits = Array(String(value, radix: 8).utf8)
            return [UInt8](repeating: 0x30, count: width - 1 - digits.count) + digits + [0]
        }
        put(name, 0)
        put(octal(0o600, 8), 100)
        put(octal(0, 8), 108)
        put(octal(0, 8), 116)
        put(size ?? octal(contents.count, 12), 124)
        put(octal(0, 12), 136)
        header[156] = type
        put(link, 157)
        put(magic, 257)
        put(prefix, 345)
        put([UInt8](repeating: 0x20, count: 8), 148)
        if fixChecksum { put(octal(header.reduce(0) { $0 + Int($1) }, 7) + [0x20], 148) }
        let padding = (512 - contents.count % 512) % 512
        return header + contents + [UInt8](repeating: 0, count: padding) + [UInt8](repeating: 0, count: 1024)
    }

    static func rejects(_ bytes: [UInt8], limits: TarArchive.Limits = limits, reasonContains: String) -> Bool {
        do {
            _ = try TarArchive.read(SecureBytes(copying: bytes), displayPath: "evil.tar", limits: limits)
            return false
        } catch let VaultError.corrupt(path, reason) {
            return path == "evil.tar" && reason.contains(reasonContains)
        } catch {
            return false
        }
    }

    @Test func handMadeBaselineIsAccepted() throws {
        let entries = try TarArchive.read(
            SecureBytes(copying: Self.handMade(name: Array("ok".utf8), contents: [1, 2])),
            displayPath: "t", limits: Self.limits)
        #expect(entries.map(\.path) == ["ok"])
    }

    @Test func hostileArchivesAreRejected() throws {
        let good = Self.bytes(try TarArchive.write(Self.sampleEntries(), modificationTime: Self.mtime))
        var badChecksum = good
        badChecksum[0] ^= 0x01
        #expect(Self.rejects(badChecksum, reasonContains: "checksum"))
        #expect(Self.rejects(Self.handMade(name: Array("../x".utf8)), reasonContains: "'..'"))
        #expect(Self.rejects(Self.handMade(name: Array("a/../../x".utf8)), reasonContains: "'..'"))
        #expect(Self.rejects(Self.handMade(name: Array("/etc/passwd".utf8)), reasonContains: "absolute"))
        #expect(
            Self.rejects(Self.handMade(name: Array("x".utf8), prefix: Array("/etc".utf8)), reasonContains: "absolute"))
        #expect(Self.rejects(Self.handMade(name: []), reasonContains: "empty name"))
        #expect(Self.rejects(Self.handMade(name: Array("ok\u{0}../../evil".utf8)), reasonContains: "NUL"))
        #expect(Self.rejects(Self.handMade(name: Array("a\u{1B}[2Jb".utf8)), reasonContains: "control"))
        #expect(
            Self.rejects(
                Self.handMade(name: Array("l".utf8), type: UInt8(ascii: "2"), link: Array("/etc".utf8)),
                reasonContains: "symbolic"))
        #expect(
            Self.rejects(
                Self.handMade(name: Array("l".utf8), type: UInt8(ascii: "1"), link: Array("a".utf8)),
                reasonContains: "hard"))
        #expect(Self.rejects(Self.handMade(name: Array("d".utf8), type: UInt8(ascii: "3")), reasonContains: "device"))
        #expect(Self.rejects(Self.handMade(name: Array("p".utf8), type: UInt8(ascii: "x")), reasonContains: "pax"))
        #expect(Self.rejects(Self.handMade(name: Array("L".utf8), type: UInt8(ascii: "L")), reasonContains: "'L'"))
        #expect(Self.rejects(Self.handMade(name: Array("f".utf8), link: Array("x".utf8)), reasonContains: "link name"))
        #expect(
            Self.rejects(
                Self.handMade(name: Array("f".utf8), magic: Array("ustar  \u{0}".utf8)), reasonContains: "ustar"))
        #expect(
            Self.rejects(
                Self.handMade(name: Array("f".utf8), size: Array("00000000x12\u{0}".utf8)), reasonContains: "size"))
        #expect(
            Self.rejects(
                Self.handMade(name: Array("f".utf8), size: [0x80] + [UInt8](repeating: 0, count: 10) + [1]),
                reasonContains: "size"))
        #expect(
            Self.rejects(
                Self.handMade(name: Array("d/".utf8), type: UInt8(ascii: "5"), contents: [1]),
                reasonContains: "directory has contents"))
        #expect(Self.rejects(Self.handMade(name: Array("f/".utf8)), reasonContains: "ends with '/'"))
        // Announces more contents than the archive holds.
        #expect(
            Self.rejects(
                Self.handMade(name: Array("f".utf8), size: Array("00000100000\u{0}".utf8)), reasonContains: "truncated")
        )
    }

    @Test func invalidUTF8NameIsRejected() {
        #expect(Self.rejects(Self.handMade(name: [0x61, 0xFF]), reasonContains: "UTF-8"))
    }

    @Test func truncatedArchivesAreRejected() throws {
        let good = Self.bytes(try TarArchive.write(Self.sampleEntries(), modificationTime: Self.mtime))
        #expect(Self.rejects(Array(good.prefix(good.count - 1)), reasonContains: "truncated"))
        #expect(Self.rejects(Array(good.prefix(1024)), reasonContains: "truncated"))  // cut inside contents
        #expect(Self.rejects(Array(good.prefix(512 * 3)), reasonContains: "truncated"))
        #expect(Self.rejects([], reasonContains: "truncated"))
        let oneEntry = Self.handMade(name: Array("f".utf8), contents: [1])
        #expect(Self.rejects(Array(oneEntry.prefix(1024)), reasonContains: "truncated"))  // no end blocks
        #expect(Self.rejects(Array(oneEntry.prefix(1024 + 512)), reasonContains: "one end-of-archive"))
    }

    @Test func trailingGarbageIsRejected() throws {
        let good = Self.bytes(try TarArchive.write(Self.sampleEntries(), modificationTime: Self.mtime))
        var garbage = good
        garbage[garbage.count - 1] = 1
        #expect(Self.rejects(garbage, reasonContains: "trailing data"))
        #expect(Self.rejects(good + [UInt8](repeating: 0x41, count: 512), reasonContains: "trailing data"))
        // Extra zero padding is fine.
        #expect(throws: Never.self) {
            try TarArchive.read(
                SecureBytes(copying: good + [UInt8](repeating: 0, count: 10_240)), displayPath: "t", limits: Self.limits
            )
        }
        // A zero block followed by a header is not an end marker.
        let entry = Self.handMade(name: Array("f".utf8))
        #expect(Self.rejects([UInt8](repeating: 0, count: 512) + entry, reasonContains: "followed by data"))
    }

    @Test func limitsAreEnforced() throws {
        let good = Self.bytes(try TarArchive.write(Self.sampleEntries(), modificationTime: Self.mtime))
        #expect(
            Self.rejects(
                good, limits: .init(maxTotalSize: good.count - 512, maxEntryCount: 100), reasonContains: "limit"))
        #expect(
            Self.rejects(
                good, limits: .init(maxTotalSize: 1 << 20, maxEntryCount: 5), reasonContains: "more than 5 entries"))
        #expect(throws: Never.self) {
            try TarArchive.read(
                SecureBytes(copying: good), displayPath: "t", limits: .init(maxTotalSize: good.count, maxEntryCount: 6))
        }
    }

    @Test func duplicateEntriesAreRejected() throws {
        let entry = Self.handMade(name: Array("f".utf8), contents: [1])
        #expect(Self.rejects(Array(entry.prefix(1024)) + entry, reasonContains: "twice"))
    }

    @Test(arguments: [("0000644\u{0}", 0o644), ("   644 \u{0}", 0o644), ("0000000 ", 0)] as [(String, Int64)])
    func octalFieldsParse(_ text: String, _ value: Int64) {
        #expect(Array(text.utf8).withUnsafeBytes { TarArchive.parseOctal($0) } == value)
    }

    @Test(arguments: ["\u{0}\u{0}\u{0}\u{0}", "12 3\u{0}", "-1\u{0}", "0009\u{0}"])
    func badOctalFieldsAreRejected(_ text: String) {
        #expect(Array(text.utf8).withUnsafeBytes { TarArchive.parseOctal($0) } == nil)
    }
}
