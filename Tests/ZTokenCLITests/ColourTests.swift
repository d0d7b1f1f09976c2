// Colour (issue 16, item 10): list's STATE cell and the `error:` and `hint:`
// words are coloured only on a terminal and only while NO_COLOR is unset or
// empty (no-color.org); never in JSON, never through a pipe. Output.colours
// decides; these tests run the real binary on a pseudo-terminal.
import Foundation
import Testing

@Suite struct ColourTests {
    static let escape = "\u{1B}["
    static let green = "\u{1B}[32mactive\u{1B}[0m"
    static let red = "\u{1B}[31mrevoked\u{1B}[0m"
    static let error = "ztoken: \u{1B}[31merror:\u{1B}[0m "
    static let hint = "ztoken: \u{1B}[36mhint:\u{1B}[0m "

    /// A vault with one active and one revoked token.
    static func vault() throws -> Sandbox {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("kept")
        _ = try box.create("gone")
        #expect(try box.run(["revoke", "gone", "--yes"]).status == 0)
        return box
    }

    @Test func aTerminalGetsColouredStatesAndErrorWords() throws {
        let box = try Self.vault()
        let list = try box.runOnTerminal(["list", "--all"], columns: 200)
        #expect(list.status == 0, "\(list)")
        #expect(list.screen.contains(Self.green) && list.screen.contains(Self.red), "\(list)")
        // The header and the other cells stay plain, and columns still line up.
        #expect(list.screen.hasPrefix("ID "), "\(list)")
        let lines = list.screen.split(separator: "\n").map { $0.replacing(/\x1B\[[0-9]*m/, with: "") }
        let stateAt = try #require(lines.first?.firstRange(of: "STATE")?.lowerBound.utf16Offset(in: lines[0]))
        #expect(
            lines.dropFirst().allSatisfy {
                $0.dropFirst(stateAt).hasPrefix("active") || $0.dropFirst(stateAt).hasPrefix("revoked")
            })
        let failed = try box.runOnTerminal(["show", "nothing-here"])
        #expect(failed.status == 66, "\(failed)")
        #expect(failed.screen.contains(Self.error) && failed.screen.contains(Self.hint), "\(failed)")
    }

    @Test(arguments: ["1", "yes"]) func noColourTurnsItOff(value: String) throws {
        let box = try Self.vault()
        for arguments in [["list", "--all"], ["show", "nothing-here"]] {
            let shown = try box.runOnTerminal(arguments, columns: 200, environment: ["NO_COLOR": value])
            #expect(shown.screen.contains("ztoken: error:") || shown.screen.contains("active"), "\(shown)")
            #expect(!shown.screen.contains(Self.escape), "NO_COLOR=\(value) \(arguments): \(shown)")
        }
    }

    @Test func anEmptyNoColourIsUnset() throws {
        let box = try Self.vault()
        let list = try box.runOnTerminal(["list"], columns: 200, environment: ["NO_COLOR": ""])
        #expect(list.screen.contains(Self.green), "\(list)")
    }

    @Test func aPipeAndJSONGetNoColour() throws {
        let box = try Self.vault()
        let piped = try box.run(["list", "--all"])
        #expect(piped.status == 0 && piped.stdout.contains("revoked"), "\(piped)")
        #expect(!piped.stdout.contains(Self.escape))
        let failed = try box.run(["show", "nothing-here"])
        #expect(failed.stderr.hasPrefix("ztoken: error: ") && !failed.stderr.contains(Self.escape), "\(failed)")
        let json = try box.runOnTerminal(["list", "--all", "--json"], columns: 200)
        #expect(json.screen.hasPrefix("[{") && !json.screen.contains(Self.escape), "\(json)")
    }
}
