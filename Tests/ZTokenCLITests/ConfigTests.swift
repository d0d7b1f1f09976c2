// `ztoken config`: list, read and set the vault's settings; the URL rules of
// --server; vault.json rewritten whole, its other fields untouched.
import Foundation
import TestSupport
import Testing

@testable import TokenVault

@Suite struct ConfigTests {
    @Test func setsPrintsAndListsTheDefaultServerURL() throws {
        let box = try Sandbox()
        try box.initVault()
        let empty = try box.run(["config"])
        #expect(empty.status == 0 && empty.stdout.isEmpty && empty.stderr.isEmpty)
        let unset = try box.run(["config", "server-url"])
        #expect(unset.status == 1 && unset.stdout.isEmpty)
        #expect(unset.stderr.hasPrefix("ztoken: server-url is not set\n"))

        let noServer = try box.run(["zbot", "bot", "--plain-dir", box.root + "/p"])
        #expect(noServer.status == 64)
        #expect(noServer.stderr.contains("ztoken config server-url URL"), "the hint can be followed: \(noServer)")

        let before = try #require(box.bytes(box.vault + "/vault.json"))
        let set = try box.run(["config", "server-url", "https://zephyr.example.com:8443"])
        #expect(set.status == 0, "\(set)")
        #expect(set.stderr == "ztoken: server-url set to https://zephyr.example.com:8443\n")
        #expect(try box.run(["config", "server-url"]).stdout == "https://zephyr.example.com:8443\n")
        #expect(try box.run(["config"]).stdout == "server-url=https://zephyr.example.com:8443\n")
        #expect(FileStatus.mode(box.vault + "/vault.json") == 0o600)

        // Only serverURL changed in vault.json.
        let after = try #require(box.bytes(box.vault + "/vault.json"))
        var old = try Vault.decodeMetadata(before, path: "vault.json")
        old.serverURL = "https://zephyr.example.com:8443"
        #expect(try VaultJSON.encode(old) == after)

        let bot = try box.run(["zbot", "bot", "--plain-dir", box.root + "/p"])
        #expect(bot.status == 0, "\(bot)")
        #expect(try box.listJSON().first?["serverUrl"] as? String == "https://zephyr.example.com:8443")
        #expect(try box.run(["config", "server-url", "http://other.example"]).status == 0)
        #expect(try box.run(["config", "server-url"]).stdout == "http://other.example\n")
    }

    @Test(arguments: [
        "ftp://h", "https://", "https://user:pw@h", "https://h x", "https://h:port", "http://h\u{7}", "",
    ])
    func refusesTheURLsThatServerRefuses(url: String) throws {
        let box = try Sandbox()
        try box.initVault()
        let before = box.bytes(box.vault + "/vault.json")
        let result = try box.run(["config", "server-url", url])
        #expect(result.status == 64, "\(result)")
        #expect(box.bytes(box.vault + "/vault.json") == before)
    }

    @Test func refusesAnUnknownKeyAndANonexistentVault() throws {
        let box = try Sandbox()
        let missing = try box.run(["config"])
        #expect(missing.status == 66)
        try box.initVault()
        let unknown = try box.run(["config", "colour", "blue"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.hasPrefix("ztoken: error: unknown setting 'colour'; settings: server-url\n"))
    }
}
