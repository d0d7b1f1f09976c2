// `ztoken create`: the token alone on stdout off a terminal, JSON on request,
// labels checked, files private whatever the umask, no plaintext on disk.
import Foundation
import TestSupport
import Testing

@testable import TokenVault

@Suite struct CreateTests {
    static var mintedShape: Regex<Substring> { /^ztk_[0-9A-Za-z]{33}[0-9A-Za-z]{6}$/ }

    @Test func offATerminalPrintsOnlyTheTokenOnOneLine() throws {
        let box = try Sandbox()
        try box.initVault()
        let result = try box.run(["create", "ci"])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty, "a script capturing $(ztoken create) must see nothing else")
        #expect(result.stdout.hasSuffix("\n"))
        #expect(result.stdoutLines.count == 1)
        let token = result.stdout.trimmingCharacters(in: .newlines)
        #expect(token.wholeMatch(of: Self.mintedShape) != nil, "\(token.count) chars")
        let verify = try box.run(["verify"], stdin: token)
        #expect(verify.status == 0)
        #expect(verify.stdout.hasSuffix("\tci\n"))
    }

    @Test func jsonOutputParsesAndCarriesTheToken() throws {
        let box = try Sandbox()
        try box.initVault()
        let result = try box.run(["create", "ci json", "--json", "--kind", "zbot"])
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdoutBytes)) as? [String: String])
        #expect(Set(object.keys) == ["createdAt", "id", "kind", "label", "last4", "token"])
        #expect(object["label"] == "ci json")
        #expect(object["kind"] == "zbot")
        let token = try #require(object["token"])
        #expect(object["last4"] == String(token.suffix(4)))
        #expect(object["id"]?.wholeMatch(of: /[a-z2-7]{12}/) != nil)
        #expect(object["createdAt"]?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil)
        #expect(try box.run(["verify"], stdin: token).status == 0)
        let listed = try box.listJSON()
        #expect(listed.first?["kind"] as? String == "zbot")
    }

    @Test func labelsAreTrimmedAnd100CharactersIsTheLimit() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("  padded\t")
        _ = try box.create(String(repeating: "x", count: 100))
        let labels = try box.listJSON().compactMap { $0["label"] as? String }
        #expect(labels == ["padded", String(repeating: "x", count: 100)])
    }

    @Test(arguments: [
        ("", "ztoken: error: a label must not be empty\n"),
        ("   ", "ztoken: error: a label must not be empty\n"),
        (
            String(repeating: "y", count: 101),
            "ztoken: error: a label must be at most 100 characters (this one has 101)\n"
        ),
        ("a\u{1b}[31mb", "ztoken: error: label 'a\\u{1b}[31mb' contains the control character U+1B\n"),
        (
            "invoice\u{202e}fdp.exe",
            "ztoken: error: label 'invoice\\u{202e}fdp.exe' contains the control character U+202E\n"
        ),
        ("line\nbreak", "ztoken: error: label 'line\\nbreak' contains the control character U+A\n"),
    ])
    func badLabelsAreUsageErrorsAndChangeNothing(label: String, message: String) throws {
        let box = try Sandbox()
        try box.initVault()
        let before = box.bytes(box.vault + "/index.json")
        let result = try box.run(["create", label])
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix(message), "\(result.stderr)")
        #expect(box.bytes(box.vault + "/index.json") == before)
        #expect(box.tree(box.vault + "/records").isEmpty)
    }

    @Test func aDuplicateActiveLabelCannotBeCreatedUntilRevoked() throws {
        let box = try Sandbox()
        try box.initVault()
        let first = try box.create("ci")
        let before = box.bytes(box.vault + "/index.json")
        let again = try box.run(["create", " ci "])
        #expect(again.status == 73)
        #expect(again.stdout.isEmpty)
        #expect(
            again.stderr
                == "ztoken: error: an active token is already labelled 'ci'\nztoken: hint: choose another label, or revoke the existing token first\n"
        )
        #expect(box.bytes(box.vault + "/index.json") == before)
        #expect(box.tree(box.vault + "/records").count == 1)
        #expect(try box.run(["revoke", "ci", "--yes"]).status == 0)
        let second = try box.create("ci")
        #expect(second != first)
    }

    @Test func withoutAVaultItIsNotFound() throws {
        let box = try Sandbox()
        let result = try box.run(["create", "ci"])
        #expect(result.status == 66)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr
                == "ztoken: error: no vault at \(box.vault)\nztoken: hint: run 'ztoken init' to make one, or pass --vault DIR\n"
        )
        #expect(!FileManager.default.fileExists(atPath: box.vault))
    }

    @Test func badFlagsAreUsageErrors() throws {
        let box = try Sandbox()
        try box.initVault()
        for arguments in [
            ["create"], ["create", "a", "--kind", "robot"], ["create", "a", "--nope"], ["create", "a", "b"],
            ["create", "a", "--lock-timeout", "-1"],
        ] {
            let result = try box.run(arguments)
            #expect(result.status == 64, "\(arguments): \(result)")
            #expect(result.stdout.isEmpty, "\(arguments)")
            #expect(result.stderr.hasPrefix("ztoken: error: "), "\(arguments): \(result.stderr)")
            #expect(
                result.stderr.contains("ztoken: hint: run 'ztoken help' or add --help to the command"), "\(arguments)")
        }
        #expect(try box.listJSON().isEmpty)
    }

    @Test func importsATokenFromStandardInput() throws {
        let box = try Sandbox()
        try box.initVault()
        let imported = "server-made-token-0123456789"
        let result = try box.run(["create", "from server", "--stdin"], stdin: imported + "\n")
        #expect(result.status == 0, "\(result)")
        let id = try #require(try box.listJSON().first?["id"] as? String)
        #expect(result.stdout == id + "\tfrom server\n", "the id and label, never the token given")
        #expect(result.stderr.isEmpty)
        #expect(try box.run(["verify"], stdin: imported).status == 0)
        let listed = try box.listJSON()
        #expect(listed.first?["last4"] as? String == "6789")
        // The same token twice is refused.
        let twice = try box.run(["create", "again", "--stdin"], stdin: imported)
        #expect(twice.status == 64)
        #expect(
            twice.stderr.hasPrefix("ztoken: error: this token is already in the vault as 'from server' (id \(id))\n"),
            "\(twice)")
    }

    @Test func anImportIsTrimmedAndItsJSONHasNoToken() throws {
        let box = try Sandbox()
        try box.initVault()
        let imported = "server-made-token-0123456789"
        let result = try box.run(["create", "pasted", "--stdin", "--json"], stdin: " \t" + imported + "  \r\n\n")
        #expect(result.status == 0, "\(result)")
        #expect(!result.stdout.contains(imported) && !result.stdout.contains("\"token\""), "\(result.stdout)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdoutBytes)) as? [String: Any])
        #expect(object["label"] as? String == "pasted")
        #expect(object["last4"] as? String == "6789", "trailing whitespace is not part of the token")
        #expect(object["id"] as? String == (try box.listJSON().first?["id"] as? String))
        #expect(try box.run(["verify"], stdin: imported).status == 0, "the trimmed token is the one stored")
    }

    @Test(arguments: ["", "\n", "  \t \r\n"])
    func emptyImportIsAUsageError(input: String) throws {
        let box = try Sandbox()
        try box.initVault()
        let result = try box.run(["create", "nothing", "--stdin"], stdin: input)
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("ztoken: error: no token given\n"), "\(result.stderr)")
        #expect(try box.listJSON().isEmpty)
    }

    @Test func anImportOnATerminalSaysNothingAboutCopyingIt() throws {
        let box = try Sandbox()
        try box.initVault()
        let imported = "server-made-token-0123456789"
        // Standard input a pipe (a file), standard output the terminal.
        let result = try box.runOnTerminal(["create", "from server", "--stdin"], stdin: imported)
        #expect(result.status == 0, "\(result)")
        let id = try #require(try box.listJSON().first?["id"] as? String)
        #expect(result.screen == id + "\tfrom server\n", "\(result)")
        // The same for a minted token shows it and the notice, so the check above can fail.
        let minted = try box.runOnTerminal(["create", "minted"])
        #expect(minted.screen.contains("copy the token now"), "\(minted)")
        #expect(try box.run(["create", "x", "--stdin", "--copy"], stdin: imported).status == 64)
    }

    @Test(arguments: ["short", "has a space in it 12345", String(repeating: "z", count: 513)])
    func refusesAnImportThatIsNotAToken(input: String) throws {
        let box = try Sandbox()
        try box.initVault()
        let result = try box.run(["create", "bad", "--stdin"], stdin: input)
        #expect(result.status == 65)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr.hasPrefix(
                "ztoken: error: standard input: a token must be 16 to 512 printable ASCII characters without spaces\n"))
        #expect(try box.listJSON().isEmpty)
    }

    @Test func refusesAnImportedZtkTokenWithABadChecksum() throws {
        let box = try Sandbox()
        try box.initVault()
        var token = Array(try box.create("real").utf8)
        token[10] = token[10] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        let result = try box.run(["create", "fake", "--stdin"], stdin: String(decoding: token, as: UTF8.self))
        #expect(result.status == 65)
        #expect(
            result.stderr.hasPrefix(
                "ztoken: error: standard input: the token looks like a ztoken token but its checksum is wrong\n"))
    }

    @Test func vaultOptionWorksBeforeAndAfterTheSubcommand() throws {
        let box = try Sandbox()
        let dir = box.root + "/elsewhere"
        let noEnv: [String: String?] = ["ZTOKEN_VAULT": nil]
        #expect(
            try box.run(["--vault", dir, "init", "--vault-passphrase-file", box.passphraseFile], environment: noEnv)
                .status == 0)
        let before = try box.run(["--vault", dir, "create", "before"], environment: noEnv)
        let after = try box.run(["create", "after", "--vault", dir], environment: noEnv)
        let equals = try box.run(["--vault=\(dir)", "--lock-timeout", "2", "create", "equals"], environment: noEnv)
        #expect(before.status == 0 && after.status == 0 && equals.status == 0, "\(before)\n\(after)\n\(equals)")
        let list = try box.run(["list", "--vault", dir, "--json"], environment: noEnv)
        #expect(
            list.stdout.contains("\"before\"") && list.stdout.contains("\"after\"")
                && list.stdout.contains("\"equals\""))
        #expect(!FileManager.default.fileExists(atPath: box.vault))
        #expect(!FileManager.default.fileExists(atPath: box.home + "/.local"))
    }

    @Test func theVaultLocationFollowsTheEnvironment() throws {
        let box = try Sandbox()
        let xdg = box.root + "/xdg"
        // $ZTOKEN_VAULT wins over $XDG_DATA_HOME.
        #expect(
            try box.run(["init", "--vault-passphrase-file", box.passphraseFile], environment: ["XDG_DATA_HOME": xdg])
                .status == 0)
        #expect(FileManager.default.fileExists(atPath: box.vault + "/vault.json"))
        #expect(!FileManager.default.fileExists(atPath: xdg))
        // Then $XDG_DATA_HOME/ztoken.
        let xdgOnly: [String: String?] = ["ZTOKEN_VAULT": nil, "XDG_DATA_HOME": xdg]
        #expect(try box.run(["init", "--vault-passphrase-file", box.passphraseFile], environment: xdgOnly).status == 0)
        #expect(FileManager.default.fileExists(atPath: xdg + "/ztoken/vault.json"))
        #expect(try box.run(["create", "x"], environment: xdgOnly).status == 0)
        #expect(box.tree(xdg + "/ztoken/records").count == 1)
        // Then ~/.local/share/ztoken, made 0700 all the way down.
        let homeOnly: [String: String?] = ["ZTOKEN_VAULT": nil, "XDG_DATA_HOME": nil]
        #expect(
            try box.run(["init", "--vault-passphrase-file", box.passphraseFile], environment: homeOnly).status == 0)
        #expect(FileManager.default.fileExists(atPath: box.home + "/.local/share/ztoken/vault.json"))
        #expect(FileStatus.mode(box.home + "/.local/share") == 0o700)
        #expect(try box.run(["list"], environment: homeOnly).status == 0)
        // An empty variable counts as unset.
        #expect(try box.run(["list"], environment: ["ZTOKEN_VAULT": "", "XDG_DATA_HOME": ""]).status == 0)
    }

    @Test func filesArePrivateEvenWithUmask000() throws {
        let box = try Sandbox()
        let initResult = try box.runWithUmask000(["init", "--user", "u", "--vault-passphrase-file", box.passphraseFile])
        try #require(initResult.status == 0, "\(initResult)")
        for label in ["a", "b"] { #expect(try box.runWithUmask000(["create", label]).status == 0) }
        #expect(try box.runWithUmask000(["revoke", "a", "--yes"]).status == 0)
        #expect(try box.runWithUmask000(["doctor", "--repair"]).status == 0)
        for entry in [""] + box.tree() {
            let path = entry.isEmpty ? box.vault : box.vault + "/" + entry
            var info = stat()
            lstat(path, &info)
            let expected: mode_t = info.st_mode & S_IFMT == S_IFDIR ? 0o700 : 0o600
            #expect(
                info.st_mode & 0o7777 == expected,
                "\(entry.isEmpty ? "vault" : entry) is \(String(info.st_mode & 0o7777, radix: 8))")
        }
    }

    @Test func noFileInTheVaultHoldsAPlaintextToken() throws {
        let box = try Sandbox()
        try box.initVault()
        var tokens = try (0..<5).map { try box.create("t\($0)") }
        let imported = "imported-secret-abcdefghijk"
        #expect(try box.run(["create", "imp", "--stdin"], stdin: imported).status == 0)
        tokens.append(imported)
        #expect(try box.run(["revoke", "t1", "--yes"]).status == 0)
        for entry in box.tree() {
            guard let bytes = box.bytes(box.vault + "/" + entry) else { continue }
            let text = String(decoding: bytes, as: UTF8.self)
            for token in tokens {
                #expect(!text.contains(token), "\(entry) contains a plaintext token")
                // Nor the random body without its prefix.
                #expect(!text.contains(String(token.dropFirst(4).prefix(20))), "\(entry) contains part of a token")
            }
        }
    }
}

/// Failures after the token is stored: the reader is gone, or the clipboard is.
@Suite struct CreateDeliveryTests {
    @Test func aReaderThatWentAwayGetsNoTokenStored() throws {
        let box = try Sandbox()
        try box.initVault()
        let binary = try CLIHarness.requireBinary()
        // The pipe's reader exits before ztoken writes: without SIGPIPE
        // ignored the process would die after storing a token nobody saw.
        let result = try box.run(
            ["-c", "(sleep 1; \"$0\" create gone; echo \"exit $?\" >&2) | true", binary],
            executable: "/bin/sh")
        #expect(result.stderr.contains("ztoken: error: standard output: write failed"), "\(result.stderr)")
        #expect(result.stderr.contains("exit 74"), "\(result.stderr)")
        #expect(try box.listJSON().isEmpty, "a token nobody received stayed in the vault")
        #expect(try box.run(["create", "gone"]).status == 0, "the label must be free again")
    }

    @Test func aClipboardThatFailsIsAWarningNotAFailedCreate() throws {
        let box = try Sandbox()
        try box.initVault()
        let binary = try CLIHarness.requireBinary()
        let setsid = try #require(ExternalTools.find("setsid"), "setsid (util-linux) detaches from the terminal")
        // No DISPLAY, no WAYLAND_DISPLAY, no controlling terminal: nothing can take the token.
        let result = try box.run(
            [binary, "create", "copied", "--copy"], environment: ["DISPLAY": nil, "WAYLAND_DISPLAY": nil],
            executable: setsid)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasPrefix("ztk_"), "\(result)")
        #expect(result.stderr.contains("warning: not copied to the clipboard"), "\(result.stderr)")
        #expect(try box.listJSON(all: false).count == 1)
    }

    @Test func anImportedTokenWithQuotesIsStoredExactlyAndNotEchoedInJSON() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = #"quote"and\backslash-0123456789"#
        let result = try box.run(["create", "imported", "--stdin", "--json"], stdin: token + "\n")
        #expect(result.status == 0, "\(result)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdoutBytes)) as? [String: Any])
        #expect(object["token"] == nil)
        #expect(object["label"] as? String == "imported")
        #expect(try box.run(["verify"], stdin: token).status == 0)
    }
}
