import Foundation
import Testing

@testable import TokenVault

// A full or read-only file system in the middle of a command: exit 74 with
// the errno named, nothing lost, no partial output file, no staging left
// behind, and the vault usable again once space is freed. Each test mounts
// its own tiny tmpfs (needs root with CAP_SYS_ADMIN, as SafetyTests does).
#if canImport(Glibc)
import Glibc
#endif

/// A tiny tmpfs under the sandbox, unmounted when the sandbox goes.
struct SmallDisk {
    let path: String

    init(_ box: Sandbox, size: String = "256k") throws {
        path = box.root + "/small"
        mkdir(path, 0o700)
        let mounted = try Sandbox.spawnAndWait([
            "/bin/mount", "-t", "tmpfs", "-o", "size=\(size),mode=0700", "tmpfs", path,
        ])
        try #require(
            mounted == 0, "cannot mount a tmpfs at \(path) (exit \(mounted)); this test needs root with CAP_SYS_ADMIN")
        let path = path
        box.cleanups.append { _ = try? Sandbox.spawnAndWait(["/bin/umount", "-l", path]) }
    }

    /// Fills the file system, leaving about `leaving` bytes free.
    func fill(leaving: Int = 0) throws {
        _ = try Sandbox.spawnAndWait(["/bin/dd", "if=/dev/zero", "of=\(path)/filler", "bs=4096"])
        if leaving > 0 {
            var info = stat()
            stat(path + "/filler", &info)
            truncate(path + "/filler", max(0, info.st_size - off_t(leaving)))
        }
    }

    func free() { unlink(path + "/filler") }

    func remount(readOnly: Bool) throws {
        let status = try Sandbox.spawnAndWait(["/bin/mount", "-o", "remount,\(readOnly ? "ro" : "rw")", path])
        try #require(status == 0, "cannot remount \(path)")
    }

    /// Regular files on the disk other than the filler, relative.
    func files() -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return [] }
        return walker.compactMap { $0 as? String }.filter {
            var info = stat()
            return $0 != "filler" && lstat(path + "/" + $0, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
        }.sorted()
    }

    /// Every entry on the disk other than the filler, relative.
    func entries() -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: path) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0 != "filler" }.sorted()
    }
}

@Suite(.serialized) struct DiskFullTests {
    static func expectNoSpace(_ result: CLIResult, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 74, "\(what): \(result)", sourceLocation: sourceLocation)
        #expect(
            result.stderr.hasPrefix("ztoken: error: ") && result.stderr.contains("failed: no space left on device\n"),
            "\(what): \(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test func zbotOutOnAFullDiskDiscardsTheTokenAndLeavesNoBundle() throws {
        let box = try Sandbox()
        try box.initVault()
        let kept = try box.create("kept")
        let disk = try SmallDisk(box)
        let (_, recipient) = try ZBotBundleCLITests.ageKey(box, "zbot.key")
        try disk.fill()
        let bundle = disk.path + "/bot.age"
        let result = try box.run(["zbot", "bot", "--server", "https://z.example.com", "-r", recipient, "--out", bundle])
        Self.expectNoSpace(result, "zbot --out on a full disk")
        #expect(disk.entries().isEmpty, "output left behind: \(disk.entries())")
        #expect(
            try box.listJSON().compactMap { $0["label"] as? String } == ["kept"],
            "the undelivered zbot token must be discarded")
        try box.checkVaultInvariants(live: [kept], revoked: [], context: "zbot --out on a full disk")
        disk.free()
        #expect(
            try box.run(["zbot", "bot", "--server", "https://z.example.com", "-r", recipient, "--out", bundle]).status
                == 0)
        #expect(disk.files() == ["bot.age"])
    }

    @Test func exportToAFullDiskLeavesNoPartialConfiguration() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://z.example.com"])
        let token = try box.create("t1")
        let disk = try SmallDisk(box)
        try disk.fill()
        let plain = disk.path + "/plain"
        let arguments = ["export", "t1", "--vault-passphrase-file", box.passphraseFile, "--plain-dir", plain]
        Self.expectNoSpace(try box.run(arguments), "export --plain-dir on a full disk")
        #expect(disk.files().isEmpty, "partial configuration left behind: \(disk.files())")
        try box.checkVaultInvariants(live: [token], revoked: [], context: "export on a full disk")
        disk.free()
        #expect(try box.run(arguments).status == 0)
        #expect(disk.files() == ["plain/manifest.json", "plain/zbot/conf/zbot.properties"])
        let properties = String(decoding: box.bytes(plain + "/zbot/conf/zbot.properties") ?? [], as: UTF8.self)
        #expect(properties.contains("zephyrApiToken=\(token)\n"))
    }

    @Test func backupFillingTheDiskMidWriteLeavesNoPartialFile() throws {
        let box = try Sandbox()
        try box.initVault()
        let tokens = try (0..<40).map { try box.create("token-\($0)-" + String(repeating: "x", count: 60)) }
        let disk = try SmallDisk(box)
        // Room for the start of the backup, not for all of it.
        try disk.fill(leaving: 8192)
        let out = disk.path + "/vault.age"
        let arguments = ["backup", "--out", out, "--passphrase-file", box.passphraseFile]
        Self.expectNoSpace(try box.run(arguments), "backup on a nearly full disk")
        #expect(disk.entries().isEmpty, "partial backup left behind: \(disk.entries())")
        try box.checkVaultInvariants(live: tokens, revoked: [], context: "backup on a full disk")
        disk.free()
        #expect(try box.run(arguments).status == 0)
        let restored = box.root + "/restored"
        #expect(
            try box.run([
                "restore", out, "--passphrase-file", box.passphraseFile, "--vault", restored,
                "--vault-passphrase-file", box.passphraseFile,
            ]).status == 0)
        #expect(try box.run(["list", "--vault", restored]).status == 0)
    }

    @Test(arguments: [false, true])
    func restoreOntoAFullDiskKeepsTheLocationAsItWas(force: Bool) throws {
        let box = try Sandbox()
        try box.initVault()
        let backedUp = try (0..<30).map { try box.create("backed-up-\($0)") }
        let backup = box.root + "/vault.age"
        #expect(try box.run(["backup", "--out", backup, "--passphrase-file", box.passphraseFile]).status == 0)
        let disk = try SmallDisk(box)
        box.vault = disk.path + "/vault"
        var old: [String] = []
        if force {
            try box.initVault()
            old = [try box.create("old")]
        }
        let before = disk.entries()
        try disk.fill(leaving: 4096)
        var arguments = [
            "restore", backup, "--passphrase-file", box.passphraseFile, "--vault-passphrase-file", box.passphraseFile,
        ]
        // The vault replaced here is another vault than the backup's.
        if force { arguments += ["--force", "--yes", "--replace-different-vault"] }
        Self.expectNoSpace(try box.run(arguments), "restore\(force ? " --force" : "") on a full disk")
        #expect(disk.entries() == before, "the location changed: \(disk.entries())")
        if force {
            try box.checkVaultInvariants(live: old, revoked: [], context: "restore --force on a full disk")
        }
        disk.free()
        #expect(try box.run(arguments).status == 0)
        try box.checkVaultInvariants(live: backedUp, revoked: [], context: "restore after space was freed")
        #expect(!disk.entries().contains { $0.contains(".restore-") || $0.contains(".init-") }, "\(disk.entries())")
    }

    @Test func aReadOnlyVaultRefusesWritersWithEROFSAndServesReaders() throws {
        let box = try Sandbox()
        let disk = try SmallDisk(box)
        box.vault = disk.path + "/vault"
        try box.initVault(["--server", "https://z.example.com"])
        let token = try box.create("t1")
        try disk.remount(readOnly: true)
        defer { try? disk.remount(readOnly: false) }
        let (_, recipient) = try ZBotBundleCLITests.ageKey(box, "ro.key")
        for arguments in [
            ["create", "t2"], ["revoke", "t1", "--yes"], ["revoke", "--all", "--yes"], ["doctor", "--repair"],
            ["zbot", "bot", "-r", recipient, "--out", box.root + "/bot.age"],
            // export records its event first, so it needs a writable vault (SPEC §10).
            ["export", "t1", "--vault-passphrase-file", box.passphraseFile, "--plain-dir", box.root + "/plain"],
        ] {
            let result = try box.run(arguments)
            #expect(result.status == 74, "\(arguments): \(result)")
            #expect(
                result.stderr.hasPrefix("ztoken: error: ") && result.stderr.contains("read-only file system"),
                "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: box.root + "/bot.age"))
        #expect(try box.run(["list"]).status == 0)
        #expect(try box.run(["verify"], stdin: token + "\n").status == 0)
        #expect(try box.run(["doctor"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: box.root + "/plain"))
        try disk.remount(readOnly: false)
        try box.checkVaultInvariants(live: [token], revoked: [], context: "after the read-only remount")
        #expect(try box.run(["create", "t2"]).status == 0)
    }
}
