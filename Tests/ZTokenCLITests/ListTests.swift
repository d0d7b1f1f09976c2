// `ztoken list`: the table, --all, --json, and labels printed safely.
import Foundation
import Testing

@_spi(Bench) @testable import TokenVault

@Suite struct ListTests {
    @Test func anEmptyVaultSaysSoOnStandardError() throws {
        let box = try Sandbox()
        try box.initVault()
        let result = try box.run(["list"])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "ztoken: no active tokens\nztoken: hint: make one with 'ztoken create LABEL'\n")
        let json = try box.run(["list", "--json"])
        #expect(json.stdout == "[]\n")
        #expect(json.stderr.isEmpty)
    }

    @Test func theTableShowsActiveTokensAndAllShowsRevokedOnes() throws {
        let box = try Sandbox()
        try box.initVault()
        let one = try box.create("one")
        let two = try box.create("second token")
        #expect(try box.run(["revoke", "one", "--yes"]).status == 0)
        let rows = try box.listJSON()
        let ids = rows.compactMap { $0["id"] as? String }
        try #require(ids.count == 2)

        let active = try box.run(["list"])
        #expect(active.status == 0)
        #expect(active.stderr.isEmpty)
        let lines = active.stdoutLines
        #expect(lines.count == 2)
        #expect(
            lines.first?.split(separator: " ", omittingEmptySubsequences: true) == [
                "ID", "LABEL", "KIND", "CREATED", "LAST4", "STATE",
            ])
        #expect(lines[1].hasPrefix(ids[1] + "  second token  api   "))
        #expect(lines[1].hasSuffix("  \(two.suffix(4))   active"))
        #expect(lines[0].hasPrefix("ID            LABEL         KIND  CREATED               LAST4  STATE"))
        #expect(!active.stdout.contains(ids[0]))
        for line in lines { #expect(!line.hasSuffix(" "), "no trailing spaces") }

        let all = try box.run(["list", "--all"])
        #expect(all.stdoutLines.count == 3)
        #expect(all.stdout.contains(ids[0]))
        let revokedAt = try #require(rows[0]["revokedAt"] as? String)
        #expect(all.stdoutLines[0].hasSuffix("  STATE    REVOKED"), "\(all.stdout)")
        #expect(all.stdoutLines[1].hasSuffix("  \(one.suffix(4))   revoked  \(revokedAt)"), "\(all.stdout)")
        #expect(all.stdoutLines[2].hasSuffix("  \(two.suffix(4))   active   -"), "\(all.stdout)")
    }

    /// Wide (CJK), emoji and combining characters line up by the columns a
    /// terminal gives them, not by characters or bytes: the padding after
    /// each label is the label column's width minus the label's, plus two.
    @Test func columnsAlignByDisplayWidth() throws {
        let box = try Sandbox()
        try box.initVault()
        // Display widths: 6 (three wide), 8 (six plus a two-column emoji),
        // 5 (an e with a combining acute is one column), 2 (a flag).
        let labels = ["日本語", "party 🎉", "cafe\u{301}s", "🇯🇵"]
        for label in labels { _ = try box.create(label) }
        let table = try box.run(["list"])
        #expect(table.status == 0, "\(table)")
        let lines = table.stdoutLines
        try #require(lines.count == 5)
        #expect(lines[0].contains("  LABEL     KIND  "), "the column is 8 wide: \(lines[0])")
        #expect(lines[1].contains("  日本語    api  "), "\(lines[1])")
        #expect(lines[2].contains("  party 🎉  api  "), "\(lines[2])")
        #expect(lines[3].contains("  cafe\u{301}s     api  "), "\(lines[3])")
        #expect(lines[4].contains("  🇯🇵        api  "), "\(lines[4])")
    }

    /// On a terminal, a label too long for it is cut with "…" so each row
    /// fits; off a terminal and in JSON it is whole.
    @Test func longLabelsAreCutToTheTerminalWidthOnlyOnATerminal() throws {
        let box = try Sandbox()
        try box.initVault()
        let long = "a label that goes on and on well past any narrow terminal's edge"
        _ = try box.create(long)
        _ = try box.create("short")
        let narrow = try box.runOnTerminal(["list"], columns: 80)
        #expect(narrow.status == 0, "\(narrow)")
        // Colour sequences (the STATE cell) take no columns on the screen.
        let lines = narrow.screen.replacing(/\x1B\[[0-9]*m/, with: "").split(separator: "\n")
        try #require(lines.count == 3, "\(narrow)")
        #expect(lines.allSatisfy { $0.count <= 80 }, "a row is wider than the terminal: \(narrow)")
        #expect(lines[1].count == 80, "the label takes what is left of the width: \(narrow)")
        #expect(lines[1].contains("  a label that goes on a…  api   "), "\(narrow)")
        #expect(!narrow.screen.contains(long))
        #expect(lines[2].contains("  short  "))

        let wide = try box.runOnTerminal(["list"], columns: 200)
        #expect(wide.screen.contains(long + "  api"), "a wide terminal needs no cut: \(wide)")
        let piped = try box.run(["list"])
        #expect(piped.stdout.contains(long + "  api"), "\(piped)")
        let json = try box.runOnTerminal(["list", "--json"], columns: 40)
        #expect(json.screen.contains("\"" + long + "\""), "\(json)")
    }

    @Test func jsonHasOneObjectPerTokenWithSortedKeys() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        _ = try box.create("b")
        #expect(try box.run(["revoke", "a", "--yes"]).status == 0)
        let result = try box.run(["list", "--json", "--all"])
        #expect(result.stdout.hasPrefix("[{\"createdAt\":"))
        let rows = try box.listJSON()
        #expect(rows.count == 2)
        #expect(rows[0]["state"] as? String == "revoked")
        #expect(rows[0]["revokedAt"] is String)
        #expect(rows[1]["state"] as? String == "active")
        #expect(rows[1]["revokedAt"] == nil)
        #expect(try box.listJSON(all: false).count == 1)
    }

    /// The CLI refuses such labels, so the entry is written through the
    /// library, as a tampered or foreign index would carry it.
    @Test func controlCharactersInLabelsAreEscaped() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("placeholder")
        let vault = try Vault(openingAt: box.vault)
        var index = try vault.readIndex()
        index.tokens[0].label = "evil\u{1b}[2J\u{202e}txt\\"
        try vault.writeIndex(index)

        let table = try box.run(["list"])
        #expect(table.status == 0)
        #expect(!table.stdoutBytes.contains(0x1b), "raw ESC reached the terminal")
        #expect(table.stdout.contains("evil\\u{1b}[2J\\u{202e}txt\\\\"))
        let json = try box.run(["list", "--json"])
        #expect(!json.stdoutBytes.contains(0x1b))
        #expect(json.stdout.contains("evil\\u001b[2J"))
        let rows = try box.listJSON()
        #expect(rows.first?["label"] as? String == "evil\u{1b}[2J\u{202e}txt\\", "JSON round-trips the exact label")
        // Errors that name the label escape it too.
        let revoke = try box.run(["revoke", rows.first?["id"] as? String ?? "", "--yes"])
        #expect(revoke.status == 0)
        #expect(!revoke.stderrBytes.contains(0x1b) && !revoke.stdoutBytes.contains(0x1b))
    }

    /// `--json` escapes quotes, backslashes and the line separators that end
    /// a JavaScript string, and copies everything else (accents, emoji) as is.
    @Test func jsonEscapesQuotesAndLineSeparators() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("plain")
        _ = try box.create("said \"hi\" \\ café 🔑")
        _ = try box.create("third")
        let vault = try Vault(openingAt: box.vault)
        var index = try vault.readIndex()
        index.tokens[2].label = "line\u{2028}para\u{2029}end"
        try vault.writeIndex(index)

        let json = try box.run(["list", "--json"])
        #expect(json.status == 0)
        #expect(json.stdout.contains(#""label":"plain""#))
        #expect(json.stdout.contains(#""label":"said \"hi\" \\ café 🔑""#))
        #expect(json.stdout.contains(#""label":"line\u2028para\u2029end""#))
        let labels = try box.listJSON().map { $0["label"] as? String }
        #expect(labels == ["plain", "said \"hi\" \\ café 🔑", "line\u{2028}para\u{2029}end"])
    }

    /// Every text column comes from a file, not only the label: a tampered
    /// creation time or last-four must not reach the terminal raw either,
    /// and the columns stay aligned by characters.
    @Test func everyTextColumnIsEscapedAndAligned() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("first")
        _ = try box.create("café-second")
        let vault = try Vault(openingAt: box.vault)
        var index = try vault.readIndex()
        index.tokens[0].createdAt = "2026\u{1b}]0;owned\u{07}"
        index.tokens[0].last4 = "\u{9b}2J"
        try vault.writeIndex(index)

        let table = try box.run(["list"])
        #expect(table.status == 0)
        #expect(
            !table.stdoutBytes.contains(0x1b) && !table.stdoutBytes.contains(0x07),
            "a raw control character reached the terminal")
        #expect(table.stdout.contains("2026\\u{1b}]0;owned\\u{7}"))
        #expect(table.stdout.contains("\\u{9b}2J"))
        // Columns line up by characters: STATE starts at the same character
        // offset on every line, "é" (two bytes) included.
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        let stateColumns = lines.map { line in
            line.distance(
                from: line.startIndex, to: line.range(of: "STATE")?.lowerBound ?? line.range(of: "active")!.lowerBound)
        }
        #expect(Set(stateColumns).count == 1, "misaligned: \(stateColumns)")
        #expect(lines.allSatisfy { !$0.hasSuffix(" ") }, "trailing spaces")
    }

    /// A heavy user's vault, and then some: every token once, in order,
    /// escaped where it must be, as table and as JSON.
    @Test func aLargeVaultListsEveryTokenInOrderAsTableAndJSON() throws {
        let box = try Sandbox()
        try box.initVault()
        let vault = try Vault(openingAt: box.vault)
        _ = try vault.createMany(labels: (0..<5_000).map { "token-\($0)" })
        var index = try vault.readIndex()
        for position in [10, 2_600, 4_990] { index.tokens[position].label = "esc\u{1b}[2J\t\\\(position)" }
        index.tokens[3_000].state = .revoked
        index.tokens[3_000].revokedAt = "2026-11-29T00:00:00Z"
        try vault.writeIndex(index)
        let expected = try Vault(openingAt: box.vault).tokens(includeRevoked: true)

        let rows = try box.listJSON()
        #expect(rows.map { $0["id"] as? String ?? "" } == expected.map(\.id))
        #expect(rows.map { $0["label"] as? String ?? "" } == expected.map(\.label))
        #expect(rows.map { $0["state"] as? String ?? "" } == expected.map(\.state.rawValue))

        let table = try box.run(["list"])
        #expect(table.status == 0)
        #expect(!table.stdoutBytes.contains(0x1b))
        let lines = table.stdoutLines
        #expect(lines.count == 1 + 4_999)
        #expect(lines.dropFirst().map { String($0.prefix(12)) } == expected.filter { $0.state == .active }.map(\.id))
        #expect(lines[11].contains("esc\\u{1b}[2J\\t\\\\10"))
        // The KIND column starts at one offset on every line (an id may hold "api" too).
        #expect(
            Set(lines.dropFirst().map { $0.range(of: "  api  ")?.lowerBound.utf16Offset(in: $0) ?? -1 }).count == 1,
            "misaligned")
    }

    @Test func withoutAVaultItIsNotFound() throws {
        let box = try Sandbox()
        let result = try box.run(["list"])
        #expect(result.status == 66)
        #expect(result.stderr.hasPrefix("ztoken: error: no vault at \(box.vault)\n"))
    }
}
