import Foundation
import Testing

@testable import TokenVault

// Hostile input through the real binary: every case of fixtures/bad/cases.json
// (made by scripts/make-bad-fixtures from a real vault), plus what can only be
// built at test time — planted symlinks, loose modes, foreign owners, labels too
// large to commit. Each must end with the documented exit code (65 bad data,
// 77 unsafe or wrong key, 64 bad label or template), one clear
// `ztoken: error: …` naming the file, the vault byte for byte as it was, and
// nothing written outside the vault: a sentinel directory and every symlink
// target are snapshotted before and after.
#if canImport(Glibc)
import Glibc
#endif

/// One case of fixtures/bad/cases.json.
struct HostileCase: Decodable, Sendable, CustomTestStringConvertible {
    var name: String
    var kind: String
    var command: [String]?
    var exit: Int32
    var names: [String]
    var env: [String: String?]?
    var note: String?
    var replace: [String: String?]?
    var file: String?
    var testDescription: String { name }
}

enum HostileFixtures {
    static let root = CLIHarness.packageRoot + "/fixtures/bad"

    static let cases: [HostileCase] = {
        struct File: Decodable {
            var version: Int
            var cases: [HostileCase]
        }
        guard let data = FileManager.default.contents(atPath: root + "/cases.json"),
            let file = try? JSONDecoder().decode(File.self, from: data), file.version == 1
        else { return [] }
        return file.cases
    }()

    /// Copies the fixture base vault to `sandbox.vault` with the modes ztoken
    /// makes (git keeps none of them) and a sentinel directory beside it.
    static func installBaseVault(_ sandbox: Sandbox) throws {
        try FileManager.default.copyItem(atPath: root + "/base/vault", toPath: sandbox.vault)
        chmodTree(sandbox.vault)
        for name in ["passphrase", "identity.txt"] {
            try? FileManager.default.removeItem(atPath: sandbox.root + "/" + name)
            try FileManager.default.copyItem(atPath: root + "/base/" + name, toPath: sandbox.root + "/" + name)
            chmod(sandbox.root + "/" + name, 0o600)
        }
        // The permanent lock file every vault has once a writer ran.
        sandbox.write("", to: sandbox.vault + "/.lock")
        try FileManager.default.createDirectory(atPath: sandbox.root + "/sentinel", withIntermediateDirectories: true)
        sandbox.write("do not touch\n", to: sandbox.root + "/sentinel/file")
    }

    static func chmodTree(_ path: String) {
        chmod(path, 0o700)
        for relative in FileManager.default.subpaths(atPath: path) ?? [] {
            var info = stat()
            let full = path + "/" + relative
            guard lstat(full, &info) == 0, info.st_mode & S_IFMT != S_IFLNK else { continue }
            chmod(full, info.st_mode & S_IFMT == S_IFDIR ? 0o700 : 0o600)
        }
    }

    /// Every path under `directory` (not following symlinks) with its type,
    /// mode, owner and contents (or link target); the harness's own
    /// stdin/stdout/stderr files and the vault lock's pid text are left out.
    static func snapshot(_ directory: String, excluding: Set<String> = []) -> [String: String] {
        var result: [String: String] = [:]
        for relative in (FileManager.default.subpaths(atPath: directory) ?? []).sorted() {
            let base = (relative as NSString).lastPathComponent
            if base.hasPrefix(".stdin-") || base.hasPrefix(".stdout-") || base.hasPrefix(".stderr-") { continue }
            if excluding.contains(where: { relative == $0 || relative.hasPrefix($0 + "/") }) { continue }
            let full = directory + "/" + relative
            var info = stat()
            guard lstat(full, &info) == 0 else { continue }
            var entry = "mode \(String(info.st_mode, radix: 8)) uid \(info.st_uid)"
            switch info.st_mode & S_IFMT {
            case S_IFLNK: entry += " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? "?")
            case S_IFREG where base == ".lock": break
            case S_IFREG:
                entry +=
                    " "
                    + Hex.encode(Sodium.blake2b256(FileManager.default.contents(atPath: full).map(Array.init) ?? []))
            default: break
            }
            result[relative] = entry
        }
        return result
    }

    static func substitute(_ arguments: [String], _ sandbox: Sandbox) -> [String] {
        arguments.map {
            switch $0 {
            case "@passphrase": return sandbox.root + "/passphrase"
            case "@out": return sandbox.root + "/out"
            default: return $0
            }
        }
    }
}

/// The checks every refused command must pass.
func expectRefusal(
    _ result: CLIResult, exit: Int32, naming names: [String], context: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.status == exit, "\(context): expected exit \(exit): \(result)", sourceLocation: sourceLocation)
    guard exit != 0 else { return }
    let lines = result.stderr.split(separator: "\n").map(String.init)
    #expect(
        lines.first?.hasPrefix("ztoken: error: ") == true, "\(context): no 'ztoken: error:' line: \(result)",
        sourceLocation: sourceLocation)
    #expect(
        lines.count <= 3 && result.stderrBytes.count < 2000,
        "\(context): error is not short: \(result.stderrBytes.count) bytes",
        sourceLocation: sourceLocation)
    for name in names {
        #expect(
            lines.first?.contains(name) == true, "\(context): the error does not name \(name): \(result)",
            sourceLocation: sourceLocation)
    }
    #expect(
        result.stdoutBytes.isEmpty, "\(context): a refused command printed data: \(result)",
        sourceLocation: sourceLocation)
    #expect(
        !result.stderrBytes.contains(0x1B), "\(context): raw escape character in the error",
        sourceLocation: sourceLocation)
}

@Suite("hostile input")
struct HostileInputTests {
    @Test func corpusIsPresent() {
        #expect(
            HostileFixtures.cases.count > 80,
            "fixtures/bad/cases.json is missing or small; run scripts/make-bad-fixtures")
    }

    @Test(arguments: HostileFixtures.cases)
    func fixture(_ hostile: HostileCase) throws {
        let sandbox = try Sandbox()
        try HostileFixtures.installBaseVault(sandbox)
        let fixtures = HostileFixtures.root
        var arguments: [String]
        switch hostile.kind {
        case "vault":
            for (relative, source) in hostile.replace ?? [:] {
                let target = sandbox.vault + "/" + relative
                unlink(target)
                if let source {
                    try FileManager.default.copyItem(atPath: fixtures + "/" + source, toPath: target)
                    chmod(target, 0o600)
                }
            }
            arguments = HostileFixtures.substitute(hostile.command ?? [], sandbox)
        case "restore":
            try FileManager.default.copyItem(
                atPath: fixtures + "/" + (hostile.file ?? ""), toPath: sandbox.root + "/" + hostile.name + ".age")
            arguments = [
                "restore", sandbox.root + "/" + hostile.name + ".age", "-i", sandbox.root + "/identity.txt",
                "--vault", sandbox.root + "/restored", "--vault-passphrase-file", sandbox.root + "/passphrase",
            ]
        case "template":
            let path = sandbox.root + "/" + ((hostile.file ?? "") as NSString).lastPathComponent
            try FileManager.default.copyItem(atPath: fixtures + "/" + (hostile.file ?? ""), toPath: path)
            arguments = ["zbot", "tbot", "--template", path, "--plain-dir", sandbox.root + "/out"]
        default:
            Issue.record("unknown case kind \(hostile.kind)")
            return
        }
        let vaultBefore = HostileFixtures.snapshot(sandbox.vault)
        let outsideBefore = HostileFixtures.snapshot(sandbox.root, excluding: ["vault"])
        var environment: [String: String?] = [:]
        for (key, value) in hostile.env ?? [:] { environment[key] = value }
        let result = try sandbox.run(arguments, environment: environment)

        expectRefusal(result, exit: hostile.exit, naming: hostile.names, context: hostile.name)
        if hostile.exit != 0 {
            #expect(
                HostileFixtures.snapshot(sandbox.vault) == vaultBefore,
                "\(hostile.name): a refused command changed the vault")
        }
        #expect(
            HostileFixtures.snapshot(sandbox.root, excluding: ["vault"]) == outsideBefore,
            "\(hostile.name): something was written outside the vault")
        #expect(!FileManager.default.fileExists(atPath: sandbox.root + "/out"), "\(hostile.name): output written")
        #expect(
            !FileManager.default.fileExists(atPath: sandbox.root + "/restored"),
            "\(hostile.name): restore created the location")
        if hostile.note == "escaped" {
            #expect(
                !result.stdoutBytes.contains(0x1B) && !result.stdoutBytes.contains(0x07),
                "labels printed raw: \(result)")
            #expect(!result.stdout.unicodeScalars.contains("\u{202E}"), "bidi override printed raw: \(result)")
            #expect(
                result.stdout.contains("\\u{1b}") && result.stdout.contains("\\u{202e}"),
                "labels not shown escaped: \(result)")
        }
    }

    // MARK: Symlinks planted in the vault

    /// Runs `arguments` after `plant` changed the vault; expects 77 naming
    /// `named`, and that the sentinel and every symlink target are untouched.
    private func expectSymlinkRefused(
        _ arguments: [String], named: String,
        sourceLocation: SourceLocation = #_sourceLocation,
        plant: (Sandbox) throws -> Void
    ) throws {
        let sandbox = try Sandbox()
        try HostileFixtures.installBaseVault(sandbox)
        try plant(sandbox)
        let outside = HostileFixtures.snapshot(sandbox.root, excluding: ["vault"])
        let inside = HostileFixtures.snapshot(sandbox.vault)
        let result = try sandbox.run(HostileFixtures.substitute(arguments, sandbox))
        expectRefusal(
            result, exit: 77, naming: [named, "symbolic link"], context: arguments.joined(separator: " "),
            sourceLocation: sourceLocation)
        #expect(
            HostileFixtures.snapshot(sandbox.root, excluding: ["vault"]) == outside,
            "\(arguments): something outside the vault changed", sourceLocation: sourceLocation)
        #expect(
            HostileFixtures.snapshot(sandbox.vault) == inside, "\(arguments): the vault changed",
            sourceLocation: sourceLocation)
    }

    @Test(arguments: [["list"], ["create", "new"], ["revoke", "--all", "--yes"], ["doctor", "--repair"]])
    func symlinkedVaultDirectory(_ arguments: [String]) throws {
        try expectSymlinkRefused(arguments, named: "vault") { sandbox in
            try FileManager.default.moveItem(atPath: sandbox.vault, toPath: sandbox.root + "/sentinel/real-vault")
            symlink(sandbox.root + "/sentinel/real-vault", sandbox.vault)
        }
    }

    @Test(arguments: [["list"], ["create", "new"], ["revoke", "--all", "--yes"]])
    func symlinkedIndex(_ arguments: [String]) throws {
        try expectSymlinkRefused(arguments, named: "index.json") { sandbox in
            try FileManager.default.moveItem(
                atPath: sandbox.vault + "/index.json", toPath: sandbox.root + "/sentinel/index.json")
            symlink(sandbox.root + "/sentinel/index.json", sandbox.vault + "/index.json")
        }
    }

    @Test(arguments: [true, false])
    func symlinkedLockFile(targetExists: Bool) throws {
        try expectSymlinkRefused(["create", "new"], named: ".lock") { sandbox in
            unlink(sandbox.vault + "/.lock")
            symlink(
                sandbox.root + (targetExists ? "/sentinel/file" : "/sentinel/made-by-ztoken"), sandbox.vault + "/.lock")
        }
    }

    @Test func symlinkedRecord() throws {
        try expectSymlinkRefused(
            ["export", "alpha", "--vault-passphrase-file", "@passphrase", "--plain-dir", "@out"], named: ".sealed"
        ) { sandbox in
            let records = sandbox.vault + "/records"
            let alpha = try #require(try Vault(openingAt: sandbox.vault).resolve(["alpha"]).first?.id)
            try FileManager.default.moveItem(
                atPath: "\(records)/\(alpha).sealed", toPath: sandbox.root + "/sentinel/alpha.sealed")
            symlink(sandbox.root + "/sentinel/alpha.sealed", "\(records)/\(alpha).sealed")
        }
    }

    /// A `records` link to another directory must not make ztoken write there.
    @Test(arguments: [
        ["create", "new"], ["export", "alpha", "--vault-passphrase-file", "@passphrase", "--plain-dir", "@out"],
        ["revoke", "alpha", "--yes"], ["backup", "--passphrase-file", "@passphrase", "--out", "@out"],
    ])
    func symlinkedRecordsDirectory(_ arguments: [String]) throws {
        try expectSymlinkRefused(arguments, named: "records") { sandbox in
            try FileManager.default.moveItem(
                atPath: sandbox.vault + "/records", toPath: sandbox.root + "/sentinel/records")
            symlink(sandbox.root + "/sentinel/records", sandbox.vault + "/records")
        }
    }

    /// A link planted where a temp file could be named is swept (the link,
    /// never its target) by the next writer, which then succeeds.
    @Test func symlinkAtTemporaryName() throws {
        let sandbox = try Sandbox()
        try HostileFixtures.installBaseVault(sandbox)
        symlink(sandbox.root + "/sentinel/file", sandbox.vault + "/.tmp-index.json-000000000000")
        symlink(sandbox.root + "/sentinel/file", sandbox.vault + "/.tmp-abcdefghijkl.sealed-000000000000")
        let outside = HostileFixtures.snapshot(sandbox.root, excluding: ["vault"])
        let result = try sandbox.run(["create", "new"])
        #expect(result.status == 0, "\(result)")
        #expect(HostileFixtures.snapshot(sandbox.root, excluding: ["vault"]) == outside, "the link target changed")
        #expect(sandbox.temporaries().isEmpty, "planted links left behind: \(sandbox.temporaries())")
    }

    /// A vault.json whose public key is all zeros (or another low-order
    /// point) is corrupt: records sealed to it could never be opened, and
    /// crypto_box_seal refuses it, so `create` must not store one.
    @Test(arguments: ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "7P///////////////////////////////////////38="])
    func lowOrderVaultPublicKey(_ key: String) throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let path = sandbox.vault + "/vault.json"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let edited = text.replacingOccurrences(
            of: #""publicKey" : "[^"]*""#, with: "\"publicKey\" : \"\(key)\"",
            options: .regularExpression)
        #expect(edited != text)
        sandbox.write(edited, to: path)
        for command in [["create", "new"], ["list"], ["doctor"]] {
            let result = try sandbox.run(command)
            expectRefusal(result, exit: 65, naming: [path, "low-order"], context: command.joined(separator: " "))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: sandbox.vault + "/records").isEmpty)
    }

    // MARK: Loose modes and foreign owners

    @Test(arguments: [
        ("", 0o770 as mode_t), ("", 0o705), ("index.json", 0o660), ("vault.json", 0o604),
        ("vault-key.json", 0o640), ("records", 0o750), (".lock", 0o620),
    ])
    func looseMode(_ relative: String, _ mode: mode_t) throws {
        let sandbox = try Sandbox()
        try HostileFixtures.installBaseVault(sandbox)
        let path = relative.isEmpty ? sandbox.vault : sandbox.vault + "/" + relative
        if relative == ".lock" { sandbox.write("", to: path) }
        chmod(path, mode)
        let command =
            relative == "vault-key.json" || relative == "records"
            ? HostileFixtures.substitute(
                ["export", "alpha", "--vault-passphrase-file", "@passphrase", "--plain-dir", "@out"], sandbox)
            : ["create", "new"]
        let before = HostileFixtures.snapshot(sandbox.vault)
        let result = try sandbox.run(command)
        expectRefusal(
            result, exit: 77, naming: [path, "accessible by other users"],
            context: "\(relative) \(String(mode, radix: 8))")
        #expect(result.stderr.contains("ztoken: hint: run: chmod "), "no chmod hint: \(result)")
        #expect(HostileFixtures.snapshot(sandbox.vault) == before)
        #expect(!FileManager.default.fileExists(atPath: sandbox.root + "/out"))
    }

    @Test(arguments: ["", "index.json", "vault.json", "records", ".lock"])
    func foreignOwner(_ relative: String) throws {
        try #require(geteuid() == 0, "chown to another user needs root")
        let sandbox = try Sandbox()
        try HostileFixtures.installBaseVault(sandbox)
        let path = relative.isEmpty ? sandbox.vault : sandbox.vault + "/" + relative
        if relative == ".lock" { sandbox.write("", to: path) }
        #expect(chown(path, 65534, 65534) == 0)
        let before = HostileFixtures.snapshot(sandbox.vault)
        let result = try sandbox.run(["create", "new"])
        expectRefusal(result, exit: 77, naming: [path, "owned by uid 65534"], context: relative)
        #expect(HostileFixtures.snapshot(sandbox.vault) == before)
    }

    // MARK: Labels and templates too large to commit

    @Test func hugeLabelArgument() throws {
        let sandbox = try Sandbox()
        try HostileFixtures.installBaseVault(sandbox)
        // A 10 MB argument never reaches ztoken: the kernel refuses it (E2BIG).
        let tenMB = String(repeating: "L", count: 10_000_000)
        #expect(throws: VaultError.io(path: try CLIHarness.requireBinary(), operation: "posix_spawn", errno: E2BIG)) {
            _ = try sandbox.run(["create", tenMB])
        }
        // The largest one that does (MAX_ARG_STRLEN is 128 KiB), of plain
        // letters and of one letter with combining marks (one "character").
        for label in [String(repeating: "L", count: 131_000), "e" + String(repeating: "\u{301}", count: 60_000)] {
            let result = try sandbox.run(["create", label])
            expectRefusal(
                result, exit: 64, naming: ["label must be at most"], context: "\(label.utf8.count)-byte label")
        }
        #expect(try sandbox.listJSON().count == 4)
    }

    @Test func hugeLabelInIndex() throws {
        let sandbox = try Sandbox()
        try HostileFixtures.installBaseVault(sandbox)
        var index = try Index.decode(sandbox.bytes(sandbox.vault + "/index.json") ?? [], path: "index.json")
        index.tokens[0].label = String(repeating: "L", count: 10_000_000)
        let path = sandbox.vault + "/index.json"
        _ = FileManager.default.createFile(atPath: path, contents: Data(index.encoded()))
        chmod(path, 0o600)
        for command in [["list"], ["create", "new"], ["verify"]] {
            let result = try sandbox.run(command, stdin: "imported-token-0123456789abcdef-x\n")
            expectRefusal(result, exit: 65, naming: ["index.json", "label"], context: "\(command)")
        }
    }

    @Test(arguments: [
        ("a\u{1B}[31mred", "U+1B"), ("evil\u{202E}txt.exe", "U+202E"), ("nul\u{7F}del", "U+7F"),
        ("line\u{2028}sep", "U+2028"), ("c1\u{85}next", "U+85"),
    ])
    func controlCharacterLabel(_ label: String, _ named: String) throws {
        let sandbox = try Sandbox()
        try HostileFixtures.installBaseVault(sandbox)
        let result = try sandbox.run(["create", label])
        expectRefusal(result, exit: 64, naming: [named], context: named)
        #expect(try sandbox.listJSON().count == 4)
    }

    @Test func templateOverOneMiB() throws {
        let sandbox = try Sandbox()
        try HostileFixtures.installBaseVault(sandbox)
        let path = sandbox.root + "/big.properties"
        sandbox.write("zephyrApiToken={{token}}\n" + String(repeating: "#", count: BundleTemplate.maxSize), to: path)
        let result = try sandbox.run(["zbot", "tbot", "--template", path, "--plain-dir", sandbox.root + "/out"])
        expectRefusal(result, exit: 64, naming: ["big.properties", "larger than 1 MiB"], context: "big template")
        #expect(!FileManager.default.fileExists(atPath: sandbox.root + "/out"))
        #expect(try sandbox.listJSON().count == 4)
    }

    /// A template is rendered byte for byte: its final newline is kept.
    @Test func templateKeepsItsLastNewline() throws {
        let sandbox = try Sandbox()
        try HostileFixtures.installBaseVault(sandbox)
        let path = sandbox.root + "/t.properties"
        sandbox.write("zbotName={{name}}\nzephyrApiToken={{token}}\n", to: path)
        let result = try sandbox.run(["zbot", "tbot", "--template", path, "--plain-dir", sandbox.root + "/out"])
        #expect(result.status == 0, "\(result)")
        let written = sandbox.bytes(sandbox.root + "/out/zbot/conf/zbot.properties") ?? []
        #expect(written.last == UInt8(ascii: "\n"), "the template's last newline was dropped")
    }
}
