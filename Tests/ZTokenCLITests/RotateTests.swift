// `rotate` end to end: an api token's replacement is printed once under the
// same label and the old one is revoked in the same rewrite, linked both
// ways; a zBot token's replacement goes into a new bundle written with the
// options of `zbot`; refusals (unknown, revoked, bundle options that do not
// fit the kind, an existing output) change nothing.
import Foundation
import TestSupport
import Testing

@testable import TokenVault

@Suite struct RotateTests {
    static func entries(_ box: Sandbox) throws -> [[String: Any]] {
        let index = try #require(
            try JSONSerialization.jsonObject(with: Data(box.bytes(box.vault + "/index.json") ?? []))
                as? [String: Any])
        return try #require(index["tokens"] as? [[String: Any]])
    }

    @Test func anApiTokenIsReplacedUnderTheSameLabel() throws {
        let box = try Sandbox()
        try box.initVault()
        let old = try box.create("ci")
        let result = try box.run(["rotate", "ci"])
        #expect(result.status == 0, "\(result)")
        let new = result.stdout.trimmingCharacters(in: .newlines)
        #expect(new.hasPrefix("ztk_") && new != old)
        #expect(result.stdout == new + "\n", "the token alone on one line off a terminal")
        #expect(result.stderr.hasPrefix("ztoken: rotated ci: revoked id "))

        #expect(try box.run(["verify"], stdin: new).status == 0)
        let verifyOld = try box.run(["verify"], stdin: old)
        #expect(verifyOld.status == 1)
        #expect(verifyOld.stderr.contains("revoked"))

        let entries = try Self.entries(box)
        try #require(entries.count == 2)
        #expect(entries[0]["state"] as? String == "revoked")
        #expect(entries[1]["state"] as? String == "active")
        #expect(entries[1]["label"] as? String == "ci")
        #expect(entries[0]["rotatedTo"] as? String == entries[1]["id"] as? String)
        #expect(entries[1]["rotatedFrom"] as? String == entries[0]["id"] as? String)
        #expect(entries[1]["neverDisplayed"] == nil, "shown, so the mark is cleared")
        let records = try FileManager.default.contentsOfDirectory(atPath: box.vault + "/records")
        #expect(records == [(entries[1]["id"] as? String ?? "") + ".sealed"])
        #expect(try box.run(["doctor"]).status == 0)

        // Rotating by id works as well, and again.
        let again = try box.run(["rotate", try #require(entries[1]["id"] as? String)])
        #expect(again.status == 0, "\(again)")
        #expect(try box.listJSON(all: false).count == 1)
    }

    /// The replacement keeps the note and the lifetime (counted from now),
    /// unless --expires says otherwise; an expired token can be rotated,
    /// which is what its label waits for.
    @Test func aReplacementKeepsTheNoteAndTheLifetime() throws {
        let box = try Sandbox()
        try box.initVault()
        let made = try box.run(["create", "ci", "--note", "for the nightly job", "--expires", "30d"])
        try #require(made.status == 0, "\(made)")
        let rotated = try box.run(["rotate", "ci"])
        #expect(rotated.status == 0, "\(rotated)")
        var entries = try Self.entries(box)
        let new = entries[1]
        #expect(new["note"] as? String == "for the nightly job")
        let created = try #require(new["createdAt"] as? String)
        let expires = try #require(new["expiresAt"] as? String)
        func seconds(_ text: String) -> TimeInterval? { ISO8601DateFormatter().date(from: text)?.timeIntervalSince1970 }
        let lifetime = try #require(seconds(expires)) - (try #require(seconds(created)))
        #expect(abs(lifetime - 30 * 86_400) <= 2, "lifetime \(lifetime)")

        let until = try box.run(["rotate", "ci", "--expires", "2099-01-01"])
        #expect(until.status == 0, "\(until)")
        entries = try Self.entries(box)
        #expect(entries[2]["expiresAt"] as? String == "2099-01-01T00:00:00Z")

        // Expired: still rotatable, and the replacement is active.
        let vault = try Vault(openingAt: box.vault)
        var index = try vault.readIndex()
        index.tokens[2].expiresAt = "2020-01-01T00:00:00Z"
        try vault.writeIndex(index)
        #expect(try box.listJSON(all: false).first?["state"] as? String == "expired")
        let renewed = try box.run(["rotate", "ci", "--expires", "90d"])
        #expect(renewed.status == 0, "\(renewed)")
        #expect(try box.run(["verify"], stdin: renewed.stdout).status == 0)
        #expect(try box.listJSON(all: false).map { $0["state"] as? String } == ["active"])
    }

    /// A rotation stopped between storing the new token and showing it
    /// leaves a token nobody has: show says so, in text and JSON.
    @Test func showNamesATokenThatWasNeverDisplayed() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("ci")
        // The rotation is durable, then printing the new token fails: the
        // mark that rotate set stays, as after a crash at that instant.
        let binary = try CLIHarness.requireBinary()
        let failed = try box.run(["-c", "exec \"$0\" rotate ci >/dev/full", binary], executable: "/bin/sh")
        #expect(failed.status != 0, "\(failed)")
        #expect(failed.stderr.contains("could not be shown"), "\(failed)")
        let show = try box.run(["show", "ci"])
        #expect(
            show.stdout.contains("displayed     never: ztoken stopped before showing it; rotate it again\n"), "\(show)")
        let json = try box.run(["show", "ci", "--json"])
        #expect(json.stdout.contains("\"neverDisplayed\":true"))
    }

    @Test func aZBotTokenGetsANewBundleWithTheSameSettings() throws {
        let box = try Sandbox()
        try box.initVault()
        let (key, recipient) = try ZBotBundleCLITests.ageKey(box, "agent.key")
        let bundle = box.root + "/agent.age"
        #expect(
            try box.run(["zbot", "agent-7", "--server", "https://zephyr.example.com", "-r", recipient, "--out", bundle])
                .status == 0)
        let first = try ZBotBundleCLITests.extract(box, bundle: bundle, key: key, member: "zbot/conf/zbot.properties")

        // Without --force the existing bundle is refused before anything changes.
        let index = box.bytes(box.vault + "/index.json")
        let refused = try box.run(["rotate", "agent-7", "-r", recipient, "--out", bundle])
        #expect(refused.status == 73, "\(refused)")
        #expect(box.bytes(box.vault + "/index.json") == index)

        let result = try box.run(["rotate", "agent-7", "-r", recipient, "--out", bundle, "--force"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.isEmpty, "the token goes into the bundle only")
        let second = try ZBotBundleCLITests.extract(box, bundle: bundle, key: key, member: "zbot/conf/zbot.properties")
        #expect(second != first)
        #expect(second.contains("zephyrServerURL=https\\://zephyr.example.com"))
        #expect(second.contains("zbotName=agent-7"))
        let token = try #require(
            second.split(separator: "\n").first { $0.hasPrefix("zephyrApiToken=") }?.dropFirst(15))
        let verified = try box.run(["verify"], stdin: String(token))
        #expect(verified.status == 0, "\(verified)")
        let active = try box.listJSON(all: false)
        #expect(active.count == 1)
        #expect(active.first?["kind"] as? String == "zbot")
    }

    @Test func refusals() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("ci")
        #expect(
            try box.run(["zbot", "bot", "--server", "https://z.example", "--plain-dir", box.root + "/p"]).status == 0)
        _ = try box.create("gone")
        #expect(try box.run(["revoke", "gone", "--yes"]).status == 0)
        let index = box.bytes(box.vault + "/index.json")
        for (arguments, status) in [
            (["rotate", "nothing"], 66),
            (["rotate", "gone"], 66),
            (["rotate", "ci", "--plain-dir", box.root + "/x"], 64),
            (["rotate", "bot"], 64),
            (["rotate", "bot", "--out", box.root + "/b.age"], 64),
            (["rotate", "bot", "--plain-dir", box.root + "/p"], 73),
            (["rotate"], 64),
        ] {
            let result = try box.run(arguments)
            #expect(result.status == Int32(status), "\(arguments): \(result)")
            #expect(result.stdout.isEmpty)
            #expect(box.bytes(box.vault + "/index.json") == index, "\(arguments) changed the index")
        }
        #expect(!FileManager.default.fileExists(atPath: box.root + "/x"))
    }
}
