// `ztoken log` and the vault's history end to end: every mutating command
// adds exactly its event; a token's life reads across a rotation and a
// backup/restore; every kind of tampering with the log, or with the index
// against it, is caught by `doctor` (65, naming the line or the token); an
// interrupted write's tail is cut off; a vault made before the log starts
// one; hostile lines are refused; no secret ever reaches the log.
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct LogTests {
    /// `log --json` as (event, label) pairs.
    static func events(_ box: Sandbox, _ extra: [String] = []) throws -> [[String: String]] {
        let result = try box.run(["log", "--json"] + extra)
        #expect(result.status == 0, "\(result)")
        let parsed = try JSONSerialization.jsonObject(with: Data(result.stdoutBytes))
        return try #require(parsed as? [[String: String]])
    }

    static func kinds(_ box: Sandbox, _ extra: [String] = []) throws -> [String] {
        try events(box, extra).map { $0["event"] ?? "?" }
    }

    static func lines(_ box: Sandbox) -> [String] {
        String(decoding: box.bytes(box.vault + "/log.jsonl") ?? [], as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    static func writeLines(_ box: Sandbox, _ lines: [String]) {
        box.write(lines.map { $0 + "\n" }.joined(), to: box.vault + "/log.jsonl")
    }

    @Test func everyMutatingCommandAddsExactlyItsEvent() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://zephyr.example.com"])
        #expect(try Self.kinds(box) == ["init"])
        let steps: [([String], String?, String)] = [
            (["create", "ci"], nil, "create"),
            (["create", "--stdin", "imported"], "server-made-token-1234567890", "import"),
            (["zbot", "agent-7", "--plain-dir", box.root + "/bundle"], nil, "zbot"),
            (["rename", "ci", "ci-main"], nil, "rename"),
            (["note", "ci-main", "nightly"], nil, "note"),
            (["expire", "ci-main", "30d"], nil, "expire"),
            (["rotate", "ci-main"], nil, "rotate"),
            (
                [
                    "export", "agent-7", "--vault-passphrase-file", box.passphraseFile, "--plain-dir",
                    box.root + "/again",
                ],
                nil, "export"
            ),
            (["config", "server-url", "https://other.example.com"], nil, "config"),
            (["backup", "--out", box.root + "/b.age", "--recipient", try Self.recipient(box)], nil, "backup"),
            (["revoke", "imported", "--yes"], nil, "revoke"),
        ]
        var expected = ["init"]
        for (arguments, stdin, event) in steps {
            let result = try box.run(arguments, stdin: stdin)
            #expect(result.status == 0, "\(arguments): \(result)")
            expected.append(event)
            #expect(try Self.kinds(box) == expected, "\(arguments)")
        }
        // Read-only commands add nothing.
        for arguments in [["list"], ["show", "ci-main"], ["log"], ["doctor"], ["scan", box.root + "/bundle"]] {
            _ = try box.run(arguments)
        }
        #expect(try Self.kinds(box) == expected)
        let doctor = try box.run(["doctor"])
        #expect(doctor.status == 0, "\(doctor)")
    }

    /// An age identity in the sandbox; returns its recipient.
    static func recipient(_ box: Sandbox) throws -> String {
        let identity = box.root + "/id.txt"
        if FileManager.default.fileExists(atPath: identity) {
            let text = try String(contentsOfFile: identity, encoding: .utf8)
            return try #require(text.split(separator: "\n").first { $0.hasPrefix("# public key: ") })
                .dropFirst("# public key: ".count).description
        }
        let made = try box.run(["keygen", "--out", identity])
        #expect(made.status == 0, "\(made)")
        return try recipient(box)
    }

    @Test func aTokensLifeReadsAcrossARotationAndABackupRestore() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("build-agent-7")
        _ = try box.create("other")
        #expect(try box.run(["rotate", "build-agent-7"]).status == 0)
        let backup = box.root + "/b.age"
        #expect(try box.run(["backup", "--out", backup, "--recipient", try Self.recipient(box)]).status == 0)
        #expect(try box.run(["revoke", "other", "--yes"]).status == 0)
        let restored = try box.run([
            "restore", backup, "-i", box.root + "/id.txt", "--force", "--yes",
            "--vault-passphrase-file", box.passphraseFile,
        ])
        #expect(restored.status == 0, "\(restored)")
        #expect(try box.run(["revoke", "build-agent-7", "--yes"]).status == 0)

        // Every build-agent-7 is revoked now, so it is named by the first one's id.
        let first = try #require(try Self.events(box).first { $0["label"] == "build-agent-7" }?["id"])
        let life = try Self.events(box, [first])
        #expect(life.map { $0["event"] ?? "" } == ["create", "rotate", "revoke"], "\(life)")
        #expect(life[1]["replaces"] == life[0]["id"])
        #expect(life[2]["id"] == life[1]["id"])
        // The whole log: the backup's history, the restore naming the
        // backup's time, the revocation it carried over, then the last revoke.
        let all = try Self.events(box)
        #expect(
            all.map { $0["event"] ?? "" } == [
                "init", "create", "create", "rotate", "backup", "restore", "revoke", "revoke",
            ], "\(all)")
        #expect(all[5]["detail"]?.hasPrefix("from a backup made 20") == true)
        #expect(all[6]["label"] == "other" && all[6]["detail"]?.contains("carried over") == true)
        let table = try box.run(["log", first])
        #expect(table.stdoutLines.first?.hasPrefix("TIME ") == true)
        #expect(table.stdoutLines.count == 4, "\(table)")
        #expect(try box.run(["doctor"]).status == 0)
        // --since: a date far ahead shows nothing, a week ago everything.
        #expect(try Self.events(box, ["--since", "2999-01-01"]).isEmpty)
        #expect(try Self.events(box, ["--since", "7d"]).count == all.count)
        #expect(try box.run(["log", "--since", "yesterday"]).status == 64)
        #expect(try box.run(["log", "no-such-token"]).status == 66)
    }

    /// Each tampering is caught by `doctor` (65), which names the line or token.
    @Test(arguments: [
        "edit", "delete", "swap", "truncate", "append-forged", "forge-whole", "flip-state", "rename", "swap-digest",
    ])
    func tamperingIsCaught(_ kind: String) throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        _ = try box.create("b")
        _ = try box.create("c")
        #expect(try box.run(["revoke", "b", "--yes"]).status == 0)
        var lines = Self.lines(box)
        try #require(lines.count == 5)
        let index = box.vault + "/index.json"
        var expected: String
        switch kind {
        case "edit":
            lines[2] = lines[2].replacingOccurrences(of: "\"label\":\"b\"", with: "\"label\":\"x\"")
            Self.writeLines(box, lines)
            expected = "line 4: names a line that is not before it"
        case "delete":
            lines.remove(at: 2)
            Self.writeLines(box, lines)
            expected = "it was truncated or replaced"
        case "swap":
            lines.swapAt(1, 2)
            Self.writeLines(box, lines)
            expected = "line 2: names a line that is not before it"
        case "truncate":
            Self.writeLines(box, Array(lines.dropLast()))
            expected = "it was truncated or replaced"
        case "append-forged":
            // The last line replaced by one of the same length.
            lines[4] = lines[4].replacingOccurrences(of: "\"time\":\"20", with: "\"time\":\"21")
            Self.writeLines(box, lines)
            expected = "does not end where index.json says"
        case "forge-whole":
            // A self-consistent chain in which b was never revoked, with the
            // index's anchor left as it was.
            try Self.forgeChain(box) { $0 == 4 ? nil : $1 }
            expected = "it was truncated or replaced"
        case "flip-state":
            var text = try String(contentsOfFile: index, encoding: .utf8)
            text = text.replacingOccurrences(of: "\"state\" : \"revoked\"", with: "\"state\" : \"active\"")
            box.write(text, to: index)
            expected = "is active in index.json but the log revoked it"
        case "swap-digest":
            // The revoked token's digest given to an active one: verify would
            // then call the revoked token active.
            let tokens = try #require(box.indexTokens() as? [[String: Any]])
            let revokedDigest = try #require(tokens.first { $0["state"] as? String == "revoked" }?["digest"] as? String)
            let activeDigest = try #require(tokens.first { $0["label"] as? String == "a" }?["digest"] as? String)
            var text = try String(contentsOfFile: index, encoding: .utf8)
            text = text.replacingOccurrences(of: activeDigest, with: "SWAP").replacingOccurrences(
                of: revokedDigest, with: activeDigest
            ).replacingOccurrences(of: "SWAP", with: revokedDigest)
            box.write(text, to: index)
            expected = "has another digest in index.json than the log recorded"
        default:
            var text = try String(contentsOfFile: index, encoding: .utf8)
            text = text.replacingOccurrences(of: "\"label\" : \"c\"", with: "\"label\" : \"z\"")
            box.write(text, to: index)
            expected = "is labelled 'c' in the log"
        }
        let doctor = try box.run(["doctor"])
        #expect(doctor.status == 65, "\(doctor)")
        #expect(doctor.stdout.contains(expected) || doctor.stderr.contains(expected), "\(doctor)")
        let repair = try box.run(["doctor", "--repair"])
        #expect(repair.status == 65, "repair never rewrites history: \(repair)")
        if !["flip-state", "rename", "swap-digest"].contains(kind) {
            let log = try box.run(["log"])
            #expect(log.status == 65, "\(log)")
            #expect(log.stderr.contains("log.jsonl: "), "\(log)")
        }
    }

    /// Rewrites the log as a valid chain of its lines as `edit` changes
    /// them (nil drops one), links recomputed, as someone without the index would.
    static func forgeChain(_ box: Sandbox, _ edit: (Int, String) -> String?) throws {
        let meta = try #require(
            try JSONSerialization.jsonObject(with: Data(box.bytes(box.vault + "/vault.json") ?? []))
                as? [String: Any])
        let vaultID = try #require(meta["vaultID"] as? String)
        var previous = blake2b(Array("ztoken-log-v1\n\(vaultID)".utf8))
        var out = ""
        for (number, line) in lines(box).enumerated() {
            guard let edited = edit(number, line) else { continue }
            let body = edited.replacingOccurrences(
                of: #","prev":"[0-9a-f]{64}"\}$"#, with: ",\"prev\":\"\(previous)\"}", options: .regularExpression)
            previous = blake2b(Array(body.utf8))
            out += body + "\n"
        }
        box.write(out, to: box.vault + "/log.jsonl")
    }

    static func blake2b(_ bytes: [UInt8]) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("b2-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/b2sum")
        process.arguments = ["-l", "256", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try? process.run()
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return String(text.prefix(64))
    }

    /// A forged chain of the same length is well formed: only the anchor catches it.
    @Test func aForgedChainIsCaughtOnlyByTheAnchor() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        _ = try box.create("b")
        try Self.forgeChain(box) { $1 }
        #expect(try box.run(["doctor"]).status == 0, "rebuilding the same chain changes nothing")
        try Self.forgeChain(box) { $1.replacingOccurrences(of: "\"label\":\"b\"", with: "\"label\":\"x\"") }
        let doctor = try box.run(["doctor"])
        #expect(doctor.status == 65)
        #expect(doctor.stdout.contains("does not end where index.json says"), "\(doctor)")
    }

    /// A tail past the anchor (a writer killed between its append and its
    /// index) never became history: doctor reports it, repair and the next
    /// writer cut it off; a repair that removed something says so in the log.
    @Test func anUncommittedTailIsCutOff() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        let committed = try #require(box.bytes(box.vault + "/log.jsonl"))
        let tail = #"{"time":"2026-01-01T00:00:00Z","event":"revoke","id":"aaaaaaaaaaaa","prev":"00"}"# + "\n"
        box.write(String(decoding: committed, as: UTF8.self) + tail, to: box.vault + "/log.jsonl")
        let doctor = try box.run(["doctor"])
        #expect(doctor.status != 0)
        #expect(doctor.stdout.contains("never became history"), "\(doctor)")
        let repair = try box.run(["doctor", "--repair"])
        #expect(repair.status == 0, "\(repair)")
        #expect(box.bytes(box.vault + "/log.jsonl")?.starts(with: committed) == true)
        #expect(try Self.kinds(box) == ["init", "create", "repair"])

        box.write(
            String(decoding: box.bytes(box.vault + "/log.jsonl") ?? [], as: UTF8.self) + tail,
            to: box.vault + "/log.jsonl")
        _ = try box.create("b")
        #expect(try Self.kinds(box) == ["init", "create", "repair", "create"])
        #expect(try box.run(["doctor"]).status == 0)
    }

    /// An index turned back into one from before the log (its anchor taken
    /// away) does not make ztoken cut the history away: it is kept aside.
    @Test func aLogNoIndexAnchorsIsKeptAsideNeverCut() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        let history = try #require(box.bytes(box.vault + "/log.jsonl"))
        let index = box.vault + "/index.json"
        let text = try String(contentsOfFile: index, encoding: .utf8)
        box.write(
            text.replacingOccurrences(of: #"  "log" : \{[^}]*\},\n"#, with: "", options: .regularExpression)
                .replacingOccurrences(of: "\"version\" : 2", with: "\"version\" : 1"), to: index)
        let doctor = try box.run(["doctor"])
        #expect(doctor.status != 0)
        #expect(doctor.stdout.contains("a history index.json does not anchor"), "\(doctor)")
        _ = try box.create("b")
        let names = try FileManager.default.contentsOfDirectory(atPath: box.vault)
        let aside = try #require(names.first { $0.hasPrefix("log.jsonl.detached-") })
        #expect(box.bytes(box.vault + "/" + aside) == history, "the old history is kept whole")
        #expect(try Self.kinds(box) == ["start", "create"])
        #expect(try box.run(["doctor"]).status == 0)
    }

    /// A vault made before the log (ztoken 0.1) gets one at its first write,
    /// beginning with a `start` event that records the tokens it had.
    @Test func aVaultFromBeforeTheLogStartsOne() throws {
        let box = try LegacyVaultTests.sandbox()
        #expect(!FileManager.default.fileExists(atPath: box.vault + "/log.jsonl"))
        #expect(try box.run(["log"]).stderr.contains("the log holds no events"))
        #expect(try box.run(["revoke", "ci-runner", "--yes"]).status == 0)
        let events = try Self.events(box)
        #expect(events.map { $0["event"] ?? "" } == ["start", "revoke"])
        #expect(events[0]["detail"]?.contains("history before this event is unknown") == true)
        #expect(try box.run(["doctor"]).status == 0)
        // A token from before the log, flipped to active, is still caught: the log revoked it.
        let index = box.vault + "/index.json"
        let text = try String(contentsOfFile: index, encoding: .utf8)
        box.write(text.replacingOccurrences(of: "\"state\" : \"revoked\"", with: "\"state\" : \"active\""), to: index)
        #expect(try box.run(["doctor"]).status == 65)
    }

    /// Hostile lines are refused, each in well under a second, naming the line.
    @Test(arguments: ["huge", "utf8", "deep", "unknown-field", "no-newline"])
    func hostileLinesAreRefused(_ kind: String) throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        var lines = Self.lines(box).map { Array($0.utf8) + [UInt8(ascii: "\n")] }
        switch kind {
        case "huge": lines[1] = Array(("{\"detail\":\"" + String(repeating: "x", count: 1 << 20) + "\"}\n").utf8)
        case "utf8": lines[1] = Array("{\"detail\":\"".utf8) + [0xFF] + Array("\"}\n".utf8)
        case "deep": lines[1] = Array((String(repeating: "[", count: 1000) + "\n").utf8)
        case "unknown-field": lines[1] = Array("{\"x\":\"1\",".utf8) + lines[1].dropFirst()
        default: lines[1].removeLast()
        }
        let bytes = lines.flatMap { $0 }
        // The anchor's length matches, so only the line rules can refuse it.
        let index = box.vault + "/index.json"
        let indexText = try String(contentsOfFile: index, encoding: .utf8)
        box.write(
            indexText.replacingOccurrences(
                of: #""bytes" : \d+"#, with: "\"bytes\" : \(bytes.count)", options: .regularExpression),
            to: index)
        #expect(FileManager.default.createFile(atPath: box.vault + "/log.jsonl", contents: Data(bytes)))
        chmod(box.vault + "/log.jsonl", 0o600)
        let result = try box.run(["log"])
        #expect(result.status == 65, "\(result)")
        #expect(result.stderr.contains("log.jsonl: line 2: "), "\(result)")
    }

    /// Nothing secret in the log: not the tokens, not the passphrase.
    @Test func theLogHoldsNoSecret() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("ci")
        let rotated = try box.run(["rotate", "ci"])
        let log = try #require(box.bytes(box.vault + "/log.jsonl"))
        let text = String(decoding: log, as: UTF8.self)
        let passphrase = try String(contentsOfFile: box.passphraseFile, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        for secret in [token, rotated.stdout.trimmingCharacters(in: .newlines), passphrase] {
            #expect(!secret.isEmpty && !text.contains(secret))
        }
    }
}
