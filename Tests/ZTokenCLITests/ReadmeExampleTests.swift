// The README's library example and the example programs, run as users run
// them: the README's block must be the exact text of
// Examples/zbot-bundle/main.swift (which every build compiles), and the built
// examples must make tokens whose bundles the real `age` and `tar` open.
import Foundation
import TestSupport
import Testing
import TokenVault

@Suite("library examples")
struct ReadmeExampleTests {
    static let exampleSource = "Examples/zbot-bundle/main.swift"

    /// The fenced block after README's marker comment that names the example.
    static func readmeBlock() throws -> String {
        let readme = try String(contentsOfFile: CLIHarness.packageRoot + "/README.md", encoding: .utf8)
        let lines = readme.components(separatedBy: "\n")
        let marker = try #require(
            lines.firstIndex { $0.hasPrefix("<!--") && $0.contains(exampleSource) },
            "README.md has no comment naming \(exampleSource) before its example")
        try #require(lines.indices.contains(marker + 1) && lines[marker + 1] == "```swift")
        let end = try #require(lines[(marker + 2)...].firstIndex(of: "```"), "the README's example block never ends")
        return lines[(marker + 2)..<end].map { $0 + "\n" }.joined()
    }

    /// Runs a built example with the sandbox's environment ($ZTOKEN_VAULT, minimal KDF).
    static func runExample(_ name: String, _ arguments: [String], in sandbox: Sandbox) throws -> CLIResult {
        let executable = CLIHarness.builtExecutable(name)
        try #require(!executable.isEmpty, "\(name) was not built; run 'swift build' or 'swift test'")
        return try sandbox.run(arguments, executable: executable)
    }

    @Test func readmeBlockIsTheExampleFileVerbatim() throws {
        let file = try String(contentsOfFile: CLIHarness.packageRoot + "/" + Self.exampleSource, encoding: .utf8)
        #expect(try Self.readmeBlock() == file)
    }

    @Test func readmeExampleWritesABundleAgeOpens() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let (key, recipient) = try ZBotBundleCLITests.ageKey(sandbox, "agent.key")
        let bundle = sandbox.root + "/agent-7.age"

        let result = try Self.runExample(
            "ztoken-example-zbot", ["agent-7", "https://zephyr.example.com", recipient, bundle], in: sandbox)
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr == "")
        let listed = try sandbox.listJSON()
        let entry = try #require(listed.first, "no token in the vault after the example ran")
        let id = try #require(entry["id"] as? String)
        let last4 = try #require(entry["last4"] as? String)
        #expect(entry["kind"] as? String == "zbot" && entry["label"] as? String == "agent-7")
        #expect(result.stdout == "created zBot token agent-7 (id \(id), ends in \(last4)); bundle: \(bundle)\n")

        let properties = try ZBotBundleCLITests.extract(
            sandbox, bundle: bundle, key: key, member: "zbot/conf/zbot.properties")
        #expect(properties.contains("zbotName=agent-7\n"))
        #expect(properties.contains("zephyrServerURL=https\\://zephyr.example.com\n"))
        let tokenLine = try #require(properties.split(separator: "\n").first { $0.hasPrefix("zephyrApiToken=") })
        let token = String(tokenLine.dropFirst("zephyrApiToken=".count))
        #expect(token.hasSuffix(last4))
        let verified = try sandbox.run(["verify"], stdin: token + "\n")
        #expect(verified.status == 0, "\(verified)")

        // An existing output is refused before a token is made (exit 73).
        let again = try Self.runExample(
            "ztoken-example-zbot", ["agent-8", "https://zephyr.example.com", recipient, bundle], in: sandbox)
        #expect(again.status == 73)
        #expect(again.stderr.hasPrefix("make-zbot: error: \(bundle) already exists\n"))
        #expect(try sandbox.listJSON().count == 1)
    }

    @Test func fleetExampleSetsUpEveryListedAgentOrNone() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault()
        let (key1, recipient1) = try ZBotBundleCLITests.ageKey(sandbox, "one.key")
        let (key2, recipient2) = try ZBotBundleCLITests.ageKey(sandbox, "two.key")
        let out = sandbox.root + "/bundles"
        mkdir(out, 0o700)
        let agents = sandbox.root + "/agents.txt"
        try "# agent recipient\nbuild-1 \(recipient1)\n\nbuild-2\t\(recipient2)\n".write(
            toFile: agents, atomically: false, encoding: .utf8)

        let result = try Self.runExample(
            "ztoken-example-fleet", [agents, "https://zephyr.example.com", out], in: sandbox)
        #expect(result.status == 0, "\(result)")
        #expect(result.stdoutLines.count == 2)
        for (name, key) in [("build-1", key1), ("build-2", key2)] {
            let properties = try ZBotBundleCLITests.extract(
                sandbox, bundle: "\(out)/\(name).age", key: key, member: "zbot/conf/zbot.properties")
            #expect(properties.contains("zbotName=\(name)\n"))
        }

        // A bad line anywhere stops the run before any token is made.
        let broken = sandbox.root + "/broken.txt"
        try "build-3 \(recipient1)\nbuild-4 age1notarecipient\n".write(
            toFile: broken, atomically: false, encoding: .utf8)
        let refused = try Self.runExample(
            "ztoken-example-fleet", [broken, "https://zephyr.example.com", out], in: sandbox)
        #expect(refused.status == 64, "\(refused)")
        #expect(try sandbox.listJSON().count == 2)
        #expect(!FileManager.default.fileExists(atPath: out + "/build-3.age"))
    }
}
