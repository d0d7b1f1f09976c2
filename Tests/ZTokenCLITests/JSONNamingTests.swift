// One naming rule for the JSON of every command (docs/SPEC.md §5):
// camelCase, an acronym written as a word (`serverUrl`), the same name for
// the same thing. Every --json output a vault with every kind of field can
// produce is collected, and each key checked.
import Foundation
import Testing

@Suite struct JSONNamingTests {
    /// camelCase: lowercase words, each later one capitalised; digits may
    /// end a word (`last4`); never two capitals in a row (`URL`, `ID`).
    static var rule: Regex<Substring> { /[a-z][a-z0-9]*(?:[A-Z][a-z0-9]+)*/ }

    static func keys(of value: Any) -> Set<String> {
        if let object = value as? [String: Any] {
            return object.reduce(into: Set(object.keys)) { $0.formUnion(keys(of: $1.value)) }
        }
        if let array = value as? [Any] { return array.reduce(into: []) { $0.formUnion(keys(of: $1)) } }
        return []
    }

    @Test func everyCommandsJSONFollowsTheOneRule() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://zephyr.example.com"])
        let token = try box.create("ci")
        #expect(try box.run(["note", "ci", "a note"]).status == 0)
        #expect(try box.run(["expire", "ci", "30d"]).status == 0)
        #expect(try box.run(["zbot", "bot", "--plain-dir", box.root + "/plain"]).status == 0)
        #expect(try box.run(["create", "old"]).status == 0)
        #expect(try box.run(["rotate", "old"]).status == 0)
        var outputs: [String: String] = [:]
        for arguments in [
            ["list", "--all", "--json"], ["show", "bot", "--json"], ["show", "ci", "--json"],
            ["create", "new", "--json"], ["doctor", "--json"], ["scan", "-", "--json"],
        ] {
            let result = try box.run(arguments, stdin: token + "\n")
            // scan exits 1: it found an active token, which is what it reports.
            #expect(result.status == (arguments[0] == "scan" ? 1 : 0), "\(arguments): \(result)")
            outputs[arguments.joined(separator: " ")] = result.stdout
        }
        let verify = try box.run(["verify", "--json"], stdin: token)
        outputs["verify --json"] = verify.stdout
        var seen: Set<String> = []
        for (command, output) in outputs {
            let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8))
            for key in Self.keys(of: parsed) {
                seen.insert(key)
                #expect(key.wholeMatch(of: Self.rule) != nil, "'\(command)' writes the key '\(key)'")
            }
        }
        // The check saw the keys that once broke the rule, and the common ones.
        #expect(seen.isSuperset(of: ["serverUrl", "createdAt", "expiresAt", "rotatedTo", "last4", "activeTokens"]))
        #expect(!seen.contains("serverURL"))
    }
}
