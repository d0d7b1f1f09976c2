// Counts in messages take the right number: "1 active token", "2 active
// tokens" (Output.count is the one place that pluralises).
import Foundation
import Testing

@Suite struct WordsTests {
    @Test func oneIsSingularAndTwoIsPlural() throws {
        let box = try Sandbox()
        try box.initVault()
        let key = try box.run(["keygen", "--out", "key.txt"]).stdout.trimmingCharacters(in: .newlines)
        let token = try box.create("one")
        let single = try box.run(["backup", "-r", key, "--out", "one.age"])
        #expect(single.status == 0, "\(single)")
        #expect(single.stderr.hasPrefix("ztoken: backed up 1 active token ("), "\(single.stderr)")
        let scanned = try box.run(["scan", "-"], stdin: token + "\n")
        #expect(scanned.stderr.contains("scanned 1 file (44 bytes): 1 token found: 1 active"), "\(scanned.stderr)")

        _ = try box.create("two")
        let plural = try box.run(["backup", "-r", key, "--out", "two.age"])
        #expect(plural.stderr.hasPrefix("ztoken: backed up 2 active tokens ("), "\(plural.stderr)")
        #expect(plural.stderr.contains(" files) to "), "\(plural.stderr)")
    }
}
