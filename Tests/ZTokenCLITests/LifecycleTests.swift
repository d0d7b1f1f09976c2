// `show`, `rename`, `note`, `expire` and the derived `expired` state end to
// end: happy paths, refusals and exit codes, and that a refused command left
// index.json as it was. Tokens are made expired by writing a past expiry into
// the index through the library (as time passing would), except in one test
// that waits for a one-second expiry for real.
import Foundation
import TestSupport
import Testing

@testable import TokenVault

#if canImport(Glibc)
import Glibc
#endif

@Suite struct LifecycleTests {
    /// A sandbox with a vault and a token `ci` (returns the sandbox, its id, its token).
    static func vaultWithToken(_ extra: [String] = []) throws -> (Sandbox, String, String) {
        let box = try Sandbox()
        try box.initVault()
        let made = try box.run(["create", "ci"] + extra)
        try #require(made.status == 0, "\(made)")
        let id = try #require(try box.listJSON().first?["id"] as? String)
        return (box, id, made.stdout.trimmingCharacters(in: .newlines))
    }

    /// Moves the expiry of token `id` into the past, as if that time had come.
    static func makeExpired(_ box: Sandbox, id: String) throws {
        let vault = try Vault(openingAt: box.vault)
        var index = try vault.readIndex()
        let position = try #require(index.position(ofID: id))
        index.tokens[position].expiresAt = "2020-01-01T00:00:00Z"
        try vault.writeIndex(index)
    }

    func index(_ box: Sandbox) -> [UInt8]? { box.bytes(box.vault + "/index.json") }

    /// An expiry checked before the lock can pass while waiting for it: the
    /// token must not be stored already expired.
    @Test func aDeadlineThatPassesWhileWaitingForTheLockIsRefused() throws {
        let box = try Sandbox()
        try box.initVault()
        // A holder that lets go by itself after 3 s (its sleep holds the lock).
        let flock = try ExternalTools.locate("flock", package: "util-linux")
        let lockFile = box.vault + "/.lock"
        let holder = try box.spawn([lockFile, "-c", "sleep 3"], executable: flock)
        while try Sandbox.spawnAndWait([flock, "-n", lockFile, "true"]) == 0 { usleep(20_000) }
        let waiting = try box.spawn(["create", "brief", "--expires", "2s", "--lock-timeout", "20"])
        _ = holder.wait()
        let result = waiting.wait()
        #expect(result.status == 64, "\(result)")
        #expect(result.stderr.contains("is no longer in the future"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(try box.listJSON().isEmpty, "no token was stored")
    }

    // MARK: show

    @Test func showPrintsEveryKnownFieldButTheToken() throws {
        let box = try Sandbox()
        try box.initVault()
        let made = try box.run(["create", "ci", "--note", "runs the nightly build", "--expires", "2w"])
        #expect(made.status == 0, "\(made)")
        let token = made.stdout.trimmingCharacters(in: .newlines)
        let show = try box.run(["show", "ci"])
        #expect(show.status == 0 && show.stderr.isEmpty, "\(show)")
        let lines = show.stdoutLines
        #expect(
            lines.map { $0.split(separator: " ").first.map(String.init) ?? "" } == [
                "id", "label", "kind", "state", "created", "expires", "last4", "note",
            ])
        #expect(lines[1] == "label    ci")
        #expect(lines[3] == "state    active")
        #expect(lines[7] == "note     runs the nightly build")
        #expect(!show.stdout.contains(token))

        let json = try box.run(["show", "ci", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdoutBytes)) as? [String: Any])
        #expect(object["note"] as? String == "runs the nightly build")
        #expect(object["state"] as? String == "active")
        #expect((object["expiresAt"] as? String)?.count == 20)
        #expect(json.stdout.hasPrefix("{\"createdAt\":"))
        #expect(try box.listJSON().first?["note"] as? String == "runs the nightly build")
    }

    @Test func showFindsRevokedTokensByIdOrByAnUnambiguousLabel() throws {
        let (box, id, _) = try Self.vaultWithToken()
        #expect(try box.run(["revoke", "ci", "--yes"]).status == 0)
        let byLabel = try box.run(["show", "ci"])
        #expect(byLabel.status == 0, "\(byLabel)")
        #expect(byLabel.stdout.contains("state    revoked\n") && byLabel.stdout.contains("\nrevoked  "))
        #expect(try box.run(["show", id]).stdout == byLabel.stdout)

        _ = try box.create("ci")
        #expect(try box.run(["show", "ci"]).stdout.contains("state    active\n"), "the active one is meant")
        #expect(try box.run(["revoke", "ci", "--yes"]).status == 0)
        let ambiguous = try box.run(["show", "ci"])
        #expect(ambiguous.status == 64)
        #expect(ambiguous.stderr.contains("2 revoked tokens are labelled 'ci'"))
    }

    @Test func showOfAZBotTokenNamesItsAgentAndServer() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://zephyr.example.com"])
        let made = try box.run(["zbot", "agent-7", "--plain-dir", box.root + "/plain", "--note", "rack 4"])
        #expect(made.status == 0, "\(made)")
        let show = try box.run(["show", "agent-7"])
        #expect(show.stdout.contains("\nagent    agent-7\n"))
        #expect(show.stdout.contains("\nserver   https://zephyr.example.com\n"))
        #expect(show.stdout.contains("\nnote     rack 4\n"))
        #expect(show.stdout.contains("\nkind     zbot\n"))
    }

    @Test func showPrintsTheRotationLinksWhenTheIndexHasThem() throws {
        let (box, id, _) = try Self.vaultWithToken()
        let vault = try Vault(openingAt: box.vault)
        var index = try vault.readIndex()
        index.tokens[0].rotatedFrom = "aaaaaaaaaaaa"
        index.tokens[0].rotatedTo = "bbbbbbbbbbbb"
        try vault.writeIndex(index)
        let show = try box.run(["show", id])
        #expect(show.stdout.hasSuffix("rotated from  aaaaaaaaaaaa\nrotated to    bbbbbbbbbbbb\n"), "\(show)")
        let json = try box.run(["show", id, "--json"]).stdout
        #expect(json.contains(#""rotatedFrom":"aaaaaaaaaaaa","rotatedTo":"bbbbbbbbbbbb""#))
    }

    @Test func showOfAnUnknownTokenIs66() throws {
        let (box, _, _) = try Self.vaultWithToken()
        let result = try box.run(["show", "nope"])
        #expect(result.status == 66)
        #expect(result.stderr.hasPrefix("ztoken: error: no active token 'nope'\n"))
    }

    @Test func showEscapesControlCharactersFromTheIndex() throws {
        let (box, id, _) = try Self.vaultWithToken()
        let vault = try Vault(openingAt: box.vault)
        var index = try vault.readIndex()
        index.tokens[0].note = "evil\u{1b}[2J"
        try vault.writeIndex(index)
        let show = try box.run(["show", id])
        #expect(!show.stdout.contains("\u{1b}"))
        #expect(show.stdout.contains("note     evil\\u{1B}[2J") || show.stdout.contains("note     evil\\"), "\(show)")
    }

    // MARK: rename

    @Test func renameChangesTheLabelAndKeepsEverythingElse() throws {
        let (box, id, token) = try Self.vaultWithToken(["--note", "n"])
        let result = try box.run(["rename", "ci", "  build  "])
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr == "ztoken: renamed ci to build (id \(id))\n")
        let row = try #require(try box.listJSON().first)
        #expect(row["label"] as? String == "build" && row["id"] as? String == id && row["note"] as? String == "n")
        let verify = try box.run(["verify"], stdin: token + "\n")
        #expect(verify.status == 0 && verify.stdout == "\(id)\tbuild\n")
        #expect(try box.run(["create", "ci"]).status == 0, "the old label is free")
    }

    @Test func renameRefusesALabelInUseABadLabelAndAnUnknownToken() throws {
        let (box, id, _) = try Self.vaultWithToken()
        _ = try box.create("other")
        let before = index(box)
        let taken = try box.run(["rename", "ci", "other"])
        #expect(taken.status == 73)
        #expect(taken.stderr.hasPrefix("ztoken: error: an active token is already labelled 'other'\n"))
        #expect(try box.run(["rename", "ci", "bad\u{7}"]).status == 64)
        #expect(try box.run(["rename", "ci", " "]).status == 64)
        #expect(try box.run(["rename", "ci", String(repeating: "x", count: 101)]).status == 64)
        #expect(try box.run(["rename", "nope", "x"]).status == 66)
        #expect(try box.run(["rename", "ci"]).status == 64)
        #expect(index(box) == before, "a refused rename wrote nothing")

        try Self.makeExpired(box, id: id)
        let expired = try box.run(["rename", "other", "ci"])
        #expect(expired.status == 73, "an expired token keeps its label")
        #expect(expired.stderr.contains("an expired token is still labelled 'ci'"))
        #expect(try box.run(["rename", "ci", "ci-old"]).status == 0, "an expired token may be renamed")
    }

    // MARK: note

    @Test func noteSetsAndClearsTheNote() throws {
        let (box, id, _) = try Self.vaultWithToken()
        let set = try box.run(["note", "ci", "rotates every 90 days ✓"])
        #expect(set.status == 0 && set.stderr == "ztoken: set the note of ci (id \(id))\n", "\(set)")
        #expect(try box.listJSON().first?["note"] as? String == "rotates every 90 days ✓")
        let table = try box.run(["list"]).stdoutLines
        #expect(table[0].hasSuffix("STATE   NOTE") && table[1].hasSuffix("active  rotates every 90 days ✓"))

        let cleared = try box.run(["note", id])
        #expect(cleared.status == 0 && cleared.stderr == "ztoken: removed the note of ci (id \(id))\n")
        #expect(try box.listJSON().first?["note"] == nil)
        #expect(!String(decoding: index(box) ?? [], as: UTF8.self).contains("note"), "a cleared note is not written")
    }

    @Test func aLongNoteIsCutInTheTableAndWholeInShow() throws {
        let (box, _, _) = try Self.vaultWithToken()
        let long = String(repeating: "abcdefghij", count: 100)
        #expect(try box.run(["note", "ci", long]).status == 0)
        let row = try box.run(["list"]).stdoutLines[1]
        #expect(row.hasSuffix("  " + String(long.prefix(39)) + "…"))
        #expect(try box.run(["show", "ci"]).stdout.contains("note     \(long)\n"))
    }

    @Test(arguments: [
        String(repeating: "x", count: 1001), "line\nbreak", "bidi \u{202e}", "", "   ",
        String(repeating: "e\u{301}\u{301}\u{301}\u{301}", count: 1000),
    ])
    func aBadNoteIsRefusedBeforeAnythingIsWritten(note: String) throws {
        let (box, _, _) = try Self.vaultWithToken()
        let before = index(box)
        #expect(try box.run(["note", "ci", note]).status == 64)
        #expect(try box.run(["create", "other", "--note", note]).status == 64)
        #expect(index(box) == before)
    }

    // MARK: expire and the expired state

    @Test func expireSetsChangesAndRemovesTheExpiry() throws {
        let (box, id, _) = try Self.vaultWithToken()
        let set = try box.run(["expire", "ci", "2099-01-01"])
        #expect(set.status == 0, "\(set)")
        #expect(set.stderr == "ztoken: ci (id \(id)) expires at 2099-01-01T00:00:00Z\n")
        #expect(try box.listJSON().first?["expiresAt"] as? String == "2099-01-01T00:00:00Z")
        let never = try box.run(["expire", id, "never"])
        #expect(never.status == 0 && never.stderr == "ztoken: ci (id \(id)) never expires\n")
        #expect(try box.listJSON().first?["expiresAt"] == nil)
        let before = index(box)
        #expect(try box.run(["expire", "ci", "yesterday"]).status == 64)
        #expect(try box.run(["expire", "ci", "2020-01-01"]).status == 64)
        #expect(try box.run(["expire", "ci", "0s"]).status == 64)
        #expect(try box.run(["expire", "nope", "1d"]).status == 66)
        #expect(index(box) == before)
    }

    @Test func anExpiredTokenStaysExpiredAndKeepsItsLabel() throws {
        let (box, id, token) = try Self.vaultWithToken(["--expires", "1d"])
        try Self.makeExpired(box, id: id)
        let before = index(box)

        let row = try #require(try box.listJSON(all: false).first)
        #expect(row["state"] as? String == "expired", "list shows expired tokens by default")
        #expect(try box.run(["list"]).stdoutLines[1].contains("  expired  2020-01-01T00:00:00Z"))
        #expect(try box.run(["show", "ci"]).stdout.contains("state    expired\n"))

        let verify = try box.run(["verify"], stdin: token + "\n")
        #expect(verify.status == 1 && verify.stderr == "ztoken: token not valid: expired\n")
        let verifyJSON = try box.run(["verify", "--json"], stdin: token + "\n")
        #expect(verifyJSON.status == 1)
        #expect(verifyJSON.stdout == "{\"id\":\"\(id)\",\"label\":\"ci\",\"reason\":\"expired\",\"valid\":false}\n")

        for when in ["never", "1d"] {
            let expire = try box.run(["expire", "ci", when])
            #expect(expire.status == 66, "expiry is never undone: \(expire)")
            #expect(expire.stderr.contains("token 'ci' (\(id)) expired at 2020-01-01T00:00:00Z"))
            #expect(expire.stderr.contains("ztoken rotate \(id)"))
        }
        let create = try box.run(["create", "ci"])
        #expect(create.status == 73)
        #expect(create.stderr.hasPrefix("ztoken: error: an expired token is still labelled 'ci'\nztoken: hint: "))
        #expect(create.stderr.contains("ztoken rotate"))
        #expect(
            try box.run(["zbot", "ci", "--server", "https://z.example", "--plain-dir", box.root + "/p"]).status == 73)
        #expect(index(box) == before, "refusals wrote nothing")

        let export = try box.run(["export", "ci", "--plain-dir", box.root + "/e", "--server", "https://z.example"])
        #expect(export.status == 66, "\(export)")
        #expect(export.stderr.contains("expired at 2020-01-01T00:00:00Z") && export.stderr.contains("rotate"))
        #expect(!export.stderr.contains("passphrase"), "refused before asking")
        #expect(!FileManager.default.fileExists(atPath: box.root + "/e"))

        #expect(try box.run(["revoke", "ci", "--yes"]).status == 0, "an expired token can be revoked")
        #expect(try box.run(["create", "ci"]).status == 0, "which frees its label")
    }

    @Test func aTokenExpiresWhenItsTimeComes() throws {
        let (box, _, token) = try Self.vaultWithToken(["--expires", "4s"])
        #expect(try box.run(["verify"], stdin: token + "\n").status == 0)
        usleep(4_500_000)
        #expect(try box.run(["verify"], stdin: token + "\n").status == 1)
        #expect(try box.listJSON().first?["state"] as? String == "expired")
    }

    @Test func createAndZBotTakeAnExpiryAndANote() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://zephyr.example.com"])
        let json = try box.run(["create", "ci", "--expires", "2099-12-31T12:00:00+01:00", "--note", "n", "--json"])
        #expect(json.status == 0)
        #expect(json.stdout.contains(#""expiresAt":"2099-12-31T11:00:00Z","id":"#))
        #expect(json.stdout.contains(#""last4":"#) && json.stdout.contains(#","note":"n","token":"ztk_"#))
        let object = try JSONSerialization.jsonObject(with: Data(json.stdoutBytes)) as? [String: Any]
        #expect(object?["token"] is String)

        let bot = try box.run(["zbot", "bot", "--plain-dir", box.root + "/plain", "--expires", "90d", "--note", "x"])
        #expect(bot.status == 0, "\(bot)")
        let row = try #require(try box.listJSON().last)
        #expect(row["note"] as? String == "x" && (row["expiresAt"] as? String)?.count == 20)

        let before = index(box)
        #expect(try box.run(["create", "late", "--expires", "2001-01-01"]).status == 64)
        #expect(try box.run(["create", "late", "--expires", "soon"]).status == 64)
        let badBot = try box.run(["zbot", "late", "--plain-dir", box.root + "/p2", "--expires", "-1d"])
        #expect(badBot.status == 64)
        #expect(!FileManager.default.fileExists(atPath: box.root + "/p2"))
        #expect(index(box) == before)
    }

    @Test func listExpiringShowsActiveTokensThatExpireWithinTheWindow() throws {
        let box = try Sandbox()
        try box.initVault()
        #expect(try box.run(["create", "soon", "--expires", "2d"]).status == 0)
        #expect(try box.run(["create", "later", "--expires", "30d"]).status == 0)
        _ = try box.create("never")
        #expect(try box.run(["create", "gone", "--expires", "1d"]).status == 0)
        let gone = try #require(try box.listJSON().last?["id"] as? String)
        try Self.makeExpired(box, id: gone)

        let week = try box.run(["list", "--expiring", "7d", "--json"])
        #expect(week.status == 0)
        let labels = (try JSONSerialization.jsonObject(with: Data(week.stdoutBytes)) as? [[String: Any]])?
            .compactMap { $0["label"] as? String }
        #expect(labels == ["soon"])
        #expect(try box.run(["list", "--expiring", "60d"]).stdoutLines.count == 3)
        let none = try box.run(["list", "--expiring", "1h"])
        #expect(none.status == 0 && none.stdout.isEmpty && none.stderr == "ztoken: no active tokens expire within 1h\n")
        #expect(try box.run(["list", "--expiring", "7d", "--all"]).status == 64)
        #expect(try box.run(["list", "--expiring", "week"]).status == 64)
    }

    @Test func revokeExpiredRevokesEveryExpiredTokenAfterConfirmation() throws {
        let box = try Sandbox()
        try box.initVault()
        for label in ["a", "b", "c"] { _ = try box.create(label) }
        let ids = try box.listJSON().compactMap { $0["id"] as? String }
        try Self.makeExpired(box, id: ids[0])
        try Self.makeExpired(box, id: ids[2])

        let refused = try box.run(["revoke", "--expired"])
        #expect(refused.status == 64, "off a terminal --yes is required")
        #expect(refused.stderr.contains("refusing to revoke 2 expired tokens without confirmation"))
        #expect(try box.run(["revoke", "--expired", "a"]).status == 64)
        #expect(try box.run(["revoke", "--expired", "--all"]).status == 64)

        let done = try box.run(["revoke", "--expired", "--yes"])
        #expect(done.status == 0, "\(done)")
        #expect(done.stdout == "\(ids[0])\ta\n\(ids[2])\tc\n")
        #expect(done.stderr == "ztoken: revoked 2 expired tokens\n")
        #expect(try box.listJSON().map { $0["state"] as? String } == ["revoked", "active", "revoked"])
        let again = try box.run(["revoke", "--expired", "--yes"])
        #expect(again.status == 0 && again.stderr == "ztoken: no expired tokens to revoke\n")
    }
}
