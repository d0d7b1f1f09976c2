// The safety rules of SPEC §9 that a single command can break: bad data is
// never overwritten (65), unsafe vaults are refused (77), a full disk is an
// I/O error that changes nothing (74), and a held lock makes a writer wait
// and then give up (75).
import Foundation
import TestSupport
import Testing

@testable import TokenVault

@Suite struct SafetyTests {
    // MARK: 65 — corrupt or unknown-version index

    @Test(arguments: [
        ("{ this is not json", "index.json: malformed JSON"),
        ("{\"version\": 99, \"tokens\": []}", "index.json: unknown format version 99"),
        ("{\"version\": 1}", "index.json: missing field \"tokens\""),
        ("{\"version\": 1, \"tokens\": [{\"id\": \"x\"}]}", "index.json: missing field"),
        ("", "index.json: malformed JSON"),
    ])
    func aBadIndexIsReportedAndNeverOverwritten(content: String, message: String) throws {
        let box = try Sandbox()
        try box.initVault()
        box.write(content, to: box.vault + "/index.json")
        let before = box.bytes(box.vault + "/index.json")
        for arguments in [["list"], ["create", "new"], ["revoke", "--all", "--yes"], ["doctor", "--repair"]] {
            let result = try box.run(arguments, stdin: "x")
            #expect(result.status == 65, "\(arguments): \(result)")
            #expect(
                result.stderr.hasPrefix("ztoken: error: \(box.vault)/\(message)") || arguments[0] == "doctor",
                "\(arguments): \(result.stderr)")
            #expect(box.bytes(box.vault + "/index.json") == before, "\(arguments) changed the index")
        }
        #expect(try box.run(["verify"], stdin: "some-token-1234567890").status == 65)
        #expect(box.tree(box.vault + "/records").isEmpty, "create wrote a record for a token it could not index")
        #expect(box.temporaries().isEmpty)
    }

    @Test func aCorruptIndexLeavesNoOrphanRecordBehind() throws {
        // Adding writes the record first: a create that fails on the index
        // must not leave the sealed record of a token that was never shown.
        let box = try Sandbox()
        try box.initVault()
        box.write("{\"version\": 2, \"tokens\": []}", to: box.vault + "/index.json")
        let result = try box.run(["create", "x"])
        #expect(result.status == 65)
        #expect(result.stdout.isEmpty)
        #expect(box.tree(box.vault + "/records").isEmpty)
    }

    @Test func downgradedKeyDerivationIsRefused() throws {
        let box = try Sandbox()
        // A vault made with real presets, then tampered to a cheap KDF.
        try #require(
            try box.run(
                ["init", "--kdf", "interactive", "--vault-passphrase-file", box.passphraseFile],
                environment: [MinimalKDF.environmentName: nil]
            ).status == 0)
        // The parameters live in vault-key.json (version 2); they are checked
        // before any key is derived from them, so export refuses. (--server:
        // an api token has no server URL, and that is checked first.)
        _ = try box.create("a")
        let path = box.vault + "/vault-key.json"
        let text = String(decoding: box.bytes(path) ?? [], as: UTF8.self)
        box.write(text.replacingOccurrences(of: "67108864", with: "8192"), to: path)
        let result = try box.run(
            [
                "export", "a", "--server", "https://zephyr.example.com", "--vault-passphrase-file",
                box.passphraseFile, "--plain-dir", box.root + "/p",
            ],
            environment: [MinimalKDF.environmentName: nil])
        #expect(result.status == 65)
        #expect(
            result.stderr.hasPrefix(
                "ztoken: error: \(path): refusing key-derivation parameters: cost below the interactive minimum\n"))
    }

    // MARK: 77 — unsafe permissions, symlinks

    @Test func aGroupReadableVaultDirectoryIsRefusedWithAChmodHint() throws {
        let box = try Sandbox()
        try box.initVault()
        chmod(box.vault, 0o755)
        let result = try box.run(["list"])
        #expect(result.status == 77)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr
                == "ztoken: error: \(box.vault) is accessible by other users (mode 755)\nztoken: hint: run: chmod 700 '\(box.vault)'\n"
        )
        #expect(try box.run(["create", "x"]).status == 77)
        #expect(FileStatus.mode(box.vault) == 0o755, "ztoken must not silently fix permissions")
    }

    @Test(arguments: ["index.json", "vault.json", ".lock", "records"])
    func anUnsafeFileIsRefused(name: String) throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        let path = box.vault + "/" + name
        let isDirectory = name == "records"
        chmod(path, isDirectory ? 0o755 : 0o644)
        let result = try box.run(name == "vault.json" || name == "index.json" ? ["list"] : ["create", "b"])
        #expect(result.status == 77, "\(result)")
        #expect(
            result.stderr
                == "ztoken: error: \(path) is accessible by other users (mode \(isDirectory ? "755" : "644"))\nztoken: hint: run: chmod \(isDirectory ? "700" : "600") '\(path)'\n"
        )
        chmod(path, isDirectory ? 0o700 : 0o600)
        #expect(try box.listJSON(all: true).count == 1, "nothing changed while refused")
    }

    /// SPEC §9 on every command, not only where a file happens to be opened:
    /// a loose or symlinked wrapped key is refused by `list` and `verify`
    /// too, and a loose `.lock` or records/ by readers too.
    @Test(arguments: ["vault-key.json", "index.json", "vault.json", ".lock", "records"])
    func everyCommandRefusesALooseOrLinkedVaultFile(name: String) throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://z.example"])
        let token = try box.create("a")
        let path = box.vault + "/" + name
        let isDirectory = name == "records"
        let commands: [([String], String?)] = [
            (["list"], nil), (["list", "--json"], nil), (["verify"], token), (["create", "b"], nil),
            (["revoke", "a", "--yes"], nil), (["zbot", "bot", "--plain-dir", box.root + "/plain"], nil),
            (["backup", "--passphrase-file", box.passphraseFile, "--out", box.root + "/b.age"], nil),
        ]
        func expectAllRefused(_ what: String) throws {
            for (arguments, stdin) in commands {
                let result = try box.run(arguments, stdin: stdin)
                #expect(result.status == 77, "\(what) \(name): \(arguments): \(result)")
                #expect(result.stderr.contains(path), "\(arguments): \(result.stderr)")
            }
        }
        chmod(path, isDirectory ? 0o755 : 0o644)
        try expectAllRefused("loose")
        chmod(path, isDirectory ? 0o700 : 0o600)

        rename(path, box.root + "/moved")
        symlink(box.root + "/moved", path)
        try expectAllRefused("linked")
        unlink(path)
        rename(box.root + "/moved", path)
        #expect(try box.listJSON(all: true).count == 1, "nothing changed while refused")
        #expect(try box.run(["doctor"]).status == 0)
    }

    @Test func aSymlinkedVaultIsRefused() throws {
        let box = try Sandbox()
        try box.initVault()
        let link = box.root + "/link"
        symlink(box.vault, link)
        let result = try box.run(["list", "--vault", link])
        #expect(result.status == 77)
        #expect(
            result.stderr
                == "ztoken: error: \(link) is a symbolic link; refusing to follow it\nztoken: hint: ztoken never follows links in a vault: pass the real directory with --vault, or put the real file in place of the link\n"
        )
        #expect(try box.run(["create", "x", "--vault", link]).status == 77)
        // init at a symlink is refused too, and does not write through it.
        let initAtLink = try box.run(["init", "--vault", link, "--vault-passphrase-file", box.passphraseFile])
        #expect(initAtLink.status == 77 || initAtLink.status == 73, "\(initAtLink)")
    }

    @Test func aSymlinkedIndexIsRefused() throws {
        let box = try Sandbox()
        try box.initVault()
        rename(box.vault + "/index.json", box.root + "/real-index.json")
        symlink(box.root + "/real-index.json", box.vault + "/index.json")
        let result = try box.run(["list"])
        #expect(result.status == 77)
        #expect(
            result.stderr.hasPrefix(
                "ztoken: error: \(box.vault)/index.json is a symbolic link; refusing to follow it\n"))
    }

    // MARK: 74 — disk full

    @Test func aFullDiskIsAnIOErrorAndLosesNothing() throws {
        let box = try Sandbox()
        let mountPoint = box.root + "/small"
        mkdir(mountPoint, 0o700)
        let mounted = try Sandbox.spawnAndWait([
            "/bin/mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mountPoint,
        ])
        try #require(
            mounted == 0,
            "cannot mount a tmpfs at \(mountPoint) (exit \(mounted)); this test needs root with CAP_SYS_ADMIN")
        box.cleanups.append { _ = try? Sandbox.spawnAndWait(["/bin/umount", "-l", mountPoint]) }
        box.vault = mountPoint + "/vault"
        try box.initVault()
        let tokens = try (1...3).map { try box.create("t\($0)") }
        // Fill the file system.
        _ = try Sandbox.spawnAndWait(["/bin/dd", "if=/dev/zero", "of=\(mountPoint)/filler", "bs=1024"])
        let before = box.tree().map { ($0, box.bytes(box.vault + "/" + $0)) }
        let result = try box.run(["create", "t4"])
        #expect(result.status == 74, "\(result)")
        #expect(result.stdout.isEmpty, "no token may be shown when it was not stored")
        #expect(result.stderr.contains("failed: no space left on device\n"), "\(result.stderr)")
        #expect(result.stderr.hasSuffix("ztoken: hint: free some disk space and try again; nothing was changed\n"))
        let after = box.tree().map { ($0, box.bytes(box.vault + "/" + $0)) }
        #expect(before.map(\.0) == after.map(\.0), "files changed: \(after.map(\.0))")
        #expect(zip(before, after).allSatisfy { $0.1 == $1.1 || $0.0 == ".lock" })
        // Revoking needs a new index too; it fails cleanly as well.
        let revoke = try box.run(["revoke", "t1", "--yes"])
        #expect(revoke.status == 74 || revoke.status == 0, "\(revoke)")
        let stillLive = revoke.status == 0 ? Array(tokens.dropFirst()) : tokens
        unlink(mountPoint + "/filler")
        try box.checkVaultInvariants(
            live: stillLive, revoked: revoke.status == 0 ? [tokens[0]] : [], context: "after ENOSPC")
        #expect(try box.run(["create", "t4"]).status == 0)
    }

    // MARK: 75 — lock held by another process

    @Test func aHeldLockMakesAWriterWaitThenGiveUp() throws {
        let box = try Sandbox()
        try box.initVault()
        let lockFile = box.vault + "/.lock"
        let inode = FileStatus.inode(lockFile)
        let holder = try box.holdVaultLock()
        defer {
            kill(holder.pid, SIGKILL)
            _ = holder.wait()
        }
        let started = Date()
        let result = try box.run(["create", "x", "--lock-timeout", "0.5"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(result.status == 75, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("ztoken: waiting for the vault lock"), "\(result.stderr)")
        #expect(result.stderr.contains("ztoken: error: the vault is locked by another ztoken"))
        #expect(result.stderr.contains("gave up after 0.5 s waiting for \(lockFile)\n"))
        #expect(result.stderr.hasSuffix("ztoken: hint: wait for the other ztoken to finish, or raise --lock-timeout\n"))
        #expect(elapsed >= 0.5 && elapsed < 5)
        #expect(box.tree(box.vault + "/records").isEmpty)
        #expect(try box.listJSON().isEmpty)
        // Readers do not need the lock.
        #expect(try box.run(["list"]).status == 0)
        #expect(FileStatus.inode(lockFile) == inode, "the lock file must never be replaced")
    }

    @Test func theWaitMessageDoesNotNameAStaleHolder() throws {
        // The lock file keeps "pid N" of the last ztoken that held it; when
        // another process holds the lock now, that pid is not the holder.
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("leaves its pid behind")
        let holder = try box.holdVaultLock()
        defer {
            kill(holder.pid, SIGKILL)
            _ = holder.wait()
        }
        let result = try box.run(["create", "x", "--lock-timeout", "0.2"])
        #expect(result.status == 75)
        // The holder named, if any, must be a live process, never the last
        // ztoken that held the lock and has exited.
        if let range = result.stderr.firstMatch(of: /held by pid (\d+)/) {
            let pid = Int32(range.1)!
            #expect(kill(pid, 0) == 0, "names pid \(pid), which is not running (stale holder)")
        }
    }

    // MARK: leftovers that are not ours

    @Test func aDirectoryPlantedAtATempNameBlocksNoWriterAndDoctorReportsIt() throws {
        let box = try Sandbox()
        try box.initVault()
        let planted = box.vault + "/.tmp-index.json-planted"
        mkdir(planted, 0o700)
        box.write("keep", to: planted + "/inside")
        let created = try box.run(["create", "after"])
        #expect(created.status == 0, "\(created)")
        #expect(box.bytes(planted + "/inside") == Array("keep".utf8), "a writer removed what it did not make")
        let doctor = try box.run(["doctor", "--repair"])
        #expect(doctor.status == 65, "\(doctor)")
        #expect(doctor.stdout.contains("unexpected directory with a temp-file name"), "\(doctor.stdout)")
    }

    @Test(arguments: ["zero\u{200B}width", "\u{FEFF}bom", "joiner\u{200D}"])
    func labelsWithZeroWidthCharactersAreRefused(label: String) throws {
        let box = try Sandbox()
        try box.initVault()
        let result = try box.run(["create", label])
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.hasPrefix("ztoken: error: label "), "\(result.stderr)")
        #expect(try box.listJSON().isEmpty)
    }
}
