// `ztoken scan` end to end: real files in a temp directory, real git
// repositories, the built binary. Where each token is found (line, byte
// column), with which state, the exit codes 0/1/74 and --strict, and that
// no output (--json included) ever carries a token.
import Foundation
import Testing

@testable import TokenVault

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ScanTests {
    /// The 1-based line and byte column of every occurrence of `token` in `text`.
    static func places(of token: String, in text: String) -> [String] {
        var places: [String] = []
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (number, line) in lines.enumerated() {
            let bytes = Array(line.utf8)
            for start in 0..<bytes.count where bytes[start...].starts(with: token.utf8) {
                places.append("\(number + 1):\(start + 1)")
            }
        }
        return places
    }

    static func expectNoSecret(
        _ result: CLIResult, _ tokens: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        for token in tokens {
            #expect(!result.stdout.contains(token), "a token in stdout", sourceLocation: sourceLocation)
            #expect(!result.stderr.contains(token), "a token in stderr", sourceLocation: sourceLocation)
            #expect(
                !result.stdout.contains(String(token.dropFirst(4).dropLast(4))), "part of a token in stdout",
                sourceLocation: sourceLocation)
        }
    }

    static func mkdir(_ path: String) { _ = Glibc.mkdir(path, 0o700) }

    /// A vault with an active, a revoked and an imported token.
    static func vault(_ box: Sandbox) throws -> (active: String, revoked: String, imported: String) {
        try box.initVault()
        let active = try box.create("ci")
        let revoked = try box.create("old")
        #expect(try box.run(["revoke", "old", "--yes"]).status == 0)
        let imported = "srv_Imported.Token-value/0123456789"
        #expect(try box.run(["create", "jira", "--stdin"], stdin: imported).status == 0)
        return (active, revoked, imported)
    }

    static func ids(_ box: Sandbox) throws -> [String: String] {
        var ids: [String: String] = [:]
        for token in try box.listJSON() { ids[token["label"] as? String ?? ""] = token["id"] as? String }
        return ids
    }

    @Test func findsEachTokenWhereItIsWithItsState() throws {
        let box = try Sandbox()
        let (active, revoked, imported) = try Self.vault(box)
        let ids = try Self.ids(box)
        let stranger = TokenFormat.mint().unsafeRevealedString()
        let tree = box.root + "/tree"
        Self.mkdir(tree)
        Self.mkdir(tree + "/sub")
        let crlf = "# deploy\r\nexport ZTOKEN=\(active)\r\n"
        box.write(crlf, to: tree + "/deploy.sh")
        box.write("old\rcurl 'https://z.example/api?token=\(revoked)&page=2'\n", to: tree + "/sub/notes.txt")
        box.write(
            "{\n  \"jira\": {\"token\": \"\(imported)\"},\n  \"other\": \"\(stranger)\"\n}\n", to: tree + "/sub/c.json")
        let result = try box.run(["scan", tree])
        #expect(result.status == 1, "\(result)")
        #expect(
            result.stdoutLines == [
                "\(tree)/deploy.sh:\(Self.places(of: active, in: crlf)[0]): ztk_…\(active.suffix(4)) active \(ids["ci"]!) ci",
                "\(tree)/sub/c.json:2:22: …6789 active \(ids["jira"]!) jira",
                "\(tree)/sub/c.json:3:13: ztk_…\(stranger.suffix(4)) unknown",
                "\(tree)/sub/notes.txt:2:35: ztk_…\(revoked.suffix(4)) revoked \(ids["old"]!) old",
            ])
        #expect(Self.places(of: active, in: crlf) == ["2:15"], "the place counted by hand: line 2, byte 15")
        #expect(result.stderr.contains("ztoken: scanned 3 files"))
        #expect(result.stderr.contains("4 tokens found: 2 active, 1 revoked, 1 unknown"))
        #expect(result.stderr.contains("ztoken: hint: revoke"))
        Self.expectNoSecret(result, [active, revoked, imported, stranger])

        let json = try box.run(["scan", "--json", tree])
        #expect(json.status == 1)
        Self.expectNoSecret(json, [active, revoked, imported, stranger])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdoutBytes)) as? [String: Any])
        #expect(object["files"] as? Int == 3)
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.map { $0["state"] as? String } == ["active", "active", "unknown", "revoked"])
        #expect(findings.map { $0["label"] as? String } == ["ci", "jira", nil, "old"])
        #expect(findings.map { $0["line"] as? Int } == [2, 2, 3, 2])
        #expect(findings.map { $0["form"] as? String } == ["ztk", "imported", "ztk", "ztk"])
        #expect(findings[0]["last4"] as? String == String(active.suffix(4)))
        #expect(Set(findings[0].keys) == ["column", "file", "form", "id", "label", "last4", "line", "state"])
    }

    /// An expired token is reported as expired; being no longer valid, it
    /// does not fail the scan on its own.
    @Test func anExpiredTokenIsReportedAsExpired() throws {
        let box = try Sandbox()
        try box.initVault()
        let made = try box.run(["create", "short", "--expires", "1h"])
        try #require(made.status == 0, "\(made)")
        let token = made.stdout.trimmingCharacters(in: .newlines)
        let vault = try Vault(openingAt: box.vault)
        var index = try vault.readIndex()
        index.tokens[0].expiresAt = "2020-01-01T00:00:00Z"
        try vault.writeIndex(index)
        box.write("T=\(token)\n", to: box.root + "/leak.env")
        let result = try box.run(["scan", box.root + "/leak.env"])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdoutLines == [
                "\(box.root)/leak.env:1:3: ztk_…\(token.suffix(4)) expired \(index.tokens[0].id) short"
            ])
        #expect(result.stderr.contains("1 token found: 0 active, 1 expired, 0 revoked, 0 unknown"), "\(result.stderr)")
        Self.expectNoSecret(result, [token])
    }

    /// With no path, scan reads the current directory: the harness runs
    /// the binary in the directory a test names.
    @Test func noPathMeansTheCurrentDirectory() throws {
        let box = try Sandbox()
        let here = box.root + "/here"
        Self.mkdir(here)
        let stranger = TokenFormat.mint().unsafeRevealedString()
        box.write("T=\(stranger)\n", to: here + "/leak.env")
        let result = try box.run(["scan"], directory: here)
        #expect(result.stdoutLines == ["./leak.env:1:3: ztk_…\(stranger.suffix(4)) unknown"], "\(result)")
        Self.expectNoSecret(result, [stranger])
    }

    @Test func exitCodesAndStrict() throws {
        let box = try Sandbox()
        let (_, revoked, _) = try Self.vault(box)
        let stranger = TokenFormat.mint().unsafeRevealedString()
        box.write("r=\(revoked)\n", to: box.root + "/revoked.txt")
        box.write("u=\(stranger)\n", to: box.root + "/unknown.txt")
        box.write("nothing here\n", to: box.root + "/clean.txt")
        #expect(try box.run(["scan", box.root + "/clean.txt"]).status == 0)
        #expect(try box.run(["scan", box.root + "/revoked.txt"]).status == 0)
        #expect(try box.run(["scan", box.root + "/revoked.txt", "--strict"]).status == 0)
        #expect(try box.run(["scan", box.root + "/unknown.txt"]).status == 0)
        #expect(try box.run(["scan", box.root + "/unknown.txt", "--strict"]).status == 1)
        // Nothing readable: 74. One path missing among readable ones: noted, not fatal.
        let missing = try box.run(["scan", box.root + "/no-such-file"])
        #expect(missing.status == 74)
        #expect(missing.stderr.contains("no-such-file: no such file (skipped)"))
        #expect(missing.stderr.contains("ztoken: error: nothing could be read"))
        let mixed = try box.run(["scan", box.root + "/no-such-file", box.root + "/clean.txt"])
        #expect(mixed.status == 0)
        #expect(mixed.stderr.contains("no-such-file: no such file (skipped)"))
        #expect(try box.run(["scan", "--git-staged", "--git-history"]).status == 64)
        #expect(try box.run(["scan", "--git-staged", "x"]).status == 64)
        if getuid() != 0 {
            // Root reads a mode-000 file anyway.
            box.write("u=\(stranger)\n", to: box.root + "/locked.txt", mode: 0)
            let locked = try box.run(["scan", box.root + "/locked.txt"])
            #expect(locked.status == 74)
            #expect(locked.stderr.contains("locked.txt: open failed: permission denied (skipped)"))
        }
    }

    @Test func withoutAVaultEveryTokenIsUnknown() throws {
        let box = try Sandbox()
        let token = TokenFormat.mint().unsafeRevealedString()
        box.write("token: \(token)\n", to: box.root + "/ci.log")
        let result = try box.run(["scan", box.root + "/ci.log"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines == ["\(box.root)/ci.log:1:8: ztk_…\(token.suffix(4)) unknown"])
        #expect(try box.run(["scan", "--strict", box.root + "/ci.log"]).status == 1)
        // A vault that is there but broken is an error, not "no vault".
        try box.initVault()
        box.write("{", to: box.vault + "/index.json")
        #expect(try box.run(["scan", box.root + "/ci.log"]).status == 65)
    }

    @Test func binaryUTF16VeryLongLinesAndSplitTokens() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("ci")
        let dir = box.root + "/files"
        Self.mkdir(dir)
        var binary: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 0, 0, 0x0A, 0xFF, 0]
        binary += Array(token.utf8) + [0, 0, 0x0D, 0x0A, 0x80]
        _ = FileManager.default.createFile(atPath: dir + "/a.bin", contents: Data(binary))
        var utf16: [UInt8] = [0xFF, 0xFE]
        for unit in "key=\(token)\n".utf16 { utf16 += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        _ = FileManager.default.createFile(atPath: dir + "/b.txt", contents: Data(utf16))
        let long = String(repeating: "0123456789", count: 200_000) + " \(token)\n"
        box.write(long, to: dir + "/c.min.js")
        box.write(
            "t=\(token.prefix(21))\n\(token.dropFirst(21))\nu=\(token.prefix(9))\r\n\(token.dropFirst(9))\n",
            to: dir + "/d.txt")
        let result = try box.run(["scan", dir])
        #expect(result.status == 1)
        #expect(
            result.stdoutLines.map { $0.split(separator: " ").first.map(String.init) ?? "" } == [
                "\(dir)/a.bin:2:3:", "\(dir)/c.min.js:1:2000002:",
            ])
        #expect(result.stderr.contains("ztoken: skipped \(dir)/b.txt: utf-16 text"))
        #expect(result.stderr.contains("scanned 3 files"))
        Self.expectNoSecret(result, [token])
    }

    @Test func aZBotPropertiesFileAndStandardInput() throws {
        let box = try Sandbox()
        try box.initVault()
        let dir = box.root + "/zbot"
        #expect(
            try box.run(["zbot", "agent-7", "--server", "https://z.example:8443/x", "--plain-dir", dir]).status == 0)
        let result = try box.run(["scan", dir])
        #expect(result.status == 1, "\(result)")
        let line = try #require(result.stdoutLines.first)
        #expect(line.hasPrefix("\(dir)/zbot/conf/zbot.properties:"))
        #expect(line.hasSuffix(" active \(try Self.ids(box)["agent-7"]!) agent-7"))
        let properties = try #require(box.bytes(dir + "/zbot/conf/zbot.properties"))
        let fromStandardInput = try box.run(["scan", "-"], stdin: String(decoding: properties, as: UTF8.self))
        #expect(fromStandardInput.status == 1)
        #expect(fromStandardInput.stdoutLines.first?.hasPrefix("-:") == true)
        // An imported token with characters properties escapes, in the escaped form, is not found (SPEC §5).
        let escaped = "a:b=c!d#e\\f-0123456789"
        #expect(try box.run(["create", "odd", "--stdin"], stdin: escaped).status == 0)
        box.write(
            "zephyrApiToken=a\\:b\\=c\\!d\\#e\\\\f-0123456789\nraw=\(escaped)\n", to: box.root + "/odd.properties")
        let odd = try box.run(["scan", box.root + "/odd.properties"])
        #expect(odd.stdoutLines.count == 1)
        #expect(odd.stdoutLines.first?.hasPrefix("\(box.root)/odd.properties:2:5: …6789 active") == true)
    }

    @Test func symlinksBelowANamedPathAreNotFollowed() throws {
        let box = try Sandbox()
        let token = TokenFormat.mint().unsafeRevealedString()
        Self.mkdir(box.root + "/outside")
        box.write("t=\(token)\n", to: box.root + "/outside/secret.txt")
        Self.mkdir(box.root + "/tree")
        symlink(box.root + "/outside/secret.txt", box.root + "/tree/file-link")
        symlink(box.root + "/outside", box.root + "/tree/dir-link")
        mkfifo(box.root + "/tree/fifo", 0o600)
        let result = try box.run(["scan", box.root + "/tree"])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("scanned 0 files"))
        // A link named on the command line is the user's choice, and is read.
        let named = try box.run(["scan", box.root + "/tree/file-link"])
        #expect(named.stdoutLines.count == 1)
    }

    // MARK: git

    static func git(_ box: Sandbox, _ repository: String, _ arguments: [String]) throws {
        let result = try box.spawn(
            ["-C", repository, "-c", "user.name=t", "-c", "user.email=t@example.com"] + arguments,
            executable: "/usr/bin/git"
        ).wait()
        try #require(result.status == 0, "git \(arguments): \(result)")
    }

    /// `ztoken ARGS` run in `directory` (the sandbox starts children in its own).
    static func scan(_ box: Sandbox, in directory: String, _ arguments: [String]) throws -> CLIResult {
        try box.run(
            ["-c", "cd \"$1\" && shift && exec \"$0\" \"$@\"", try CLIHarness.requireBinary(), directory] + arguments,
            executable: "/bin/sh")
    }

    @Test func gitStagedAndHistory() throws {
        let box = try Sandbox()
        try box.initVault()
        let committed = try box.create("committed")
        let staged = try box.create("staged")
        let repository = box.root + "/repo"
        Self.mkdir(repository)
        try Self.git(box, repository, ["init", "-q"])
        box.write("a\nkey=\(committed)\n", to: repository + "/old.txt")
        try Self.git(box, repository, ["add", "old.txt"])
        try Self.git(box, repository, ["commit", "-q", "-m", "one"])
        box.write("clean\n", to: repository + "/old.txt")
        try Self.git(box, repository, ["commit", "-q", "-am", "two"])
        Self.mkdir(repository + "/dir")
        box.write("x\n\n  \(staged)\n", to: repository + "/dir/new file.txt")
        try Self.git(box, repository, ["add", "."])
        // The work tree changes after staging: the staged content is what counts.
        box.write("clean now\n", to: repository + "/dir/new file.txt")

        let hook = try Self.scan(box, in: repository, ["scan", "--git-staged"])
        #expect(hook.status == 1, "\(hook)")
        #expect(
            hook.stdoutLines == [
                "dir/new file.txt:3:3: ztk_…\(staged.suffix(4)) active \(try Self.ids(box)["staged"]!) staged"
            ])
        let history = try Self.scan(box, in: repository, ["scan", "--git-history", "--json"])
        #expect(history.status == 1, "\(history)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(history.stdoutBytes)) as? [String: Any])
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.count == 1)
        #expect(findings.first?["file"] as? String == "old.txt")
        #expect(findings.first?["label"] as? String == "committed")
        #expect((findings.first?["blob"] as? String)?.count == 40)
        Self.expectNoSecret(hook, [committed, staged])
        Self.expectNoSecret(history, [committed, staged])
        // Outside a repository: git's own complaint, exit 64.
        let outside = try Self.scan(box, in: box.home, ["scan", "--git-staged"])
        #expect(outside.status == 64)
        #expect(outside.stderr.contains("ztoken: error: git diff failed:"))
    }
}
