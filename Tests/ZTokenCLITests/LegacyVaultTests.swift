import Foundation
import Testing

// A vault made by ztoken 0.1 (fixtures/legacy-v1, made before the index was
// rewritten) still works with the binary of today: it opens, lists the same
// bytes, verifies every token, exports with its passphrase, and revokes.
#if canImport(Glibc)
import Glibc
#endif

@Suite struct LegacyVaultTests {
    static let fixture = CLIHarness.packageRoot + "/fixtures/legacy-v1"

    /// The fixture copied into a sandbox with the modes git does not keep.
    static func sandbox() throws -> Sandbox {
        let box = try Sandbox()
        #expect(try Sandbox.spawnAndWait(["/bin/cp", "-R", fixture + "/vault", box.vault]) == 0)
        #expect(try Sandbox.spawnAndWait(["/bin/chmod", "-R", "go-rwx", box.vault]) == 0)
        return box
    }

    static func token(_ label: String) throws -> String {
        try String(contentsOfFile: fixture + "/token-\(label).txt", encoding: .utf8)
    }

    /// The JSON of 0.1, with `serverURL` renamed `serverUrl` (0.2's one
    /// naming rule for JSON fields): every other byte is the same.
    @Test func itListsTheSameBytesAsZtoken01() throws {
        let box = try Self.sandbox()
        let json = try box.run(["list", "--all", "--json"])
        #expect(json.status == 0, "\(json)")
        let old = try String(contentsOfFile: Self.fixture + "/list-all.json", encoding: .utf8)
        #expect(old.contains("\"serverURL\":"))
        #expect(json.stdout == old.replacingOccurrences(of: "\"serverURL\":", with: "\"serverUrl\":"))
        #expect(try box.run(["doctor"]).status == 0)
    }

    /// The table of 0.1, with the REVOKED column `list --all` has had since
    /// 0.2 after its last column: every earlier cell is byte for byte the same.
    @Test func itListsTheSameTableAsZtoken01PlusTheRevokedColumn() throws {
        let box = try Self.sandbox()
        let old = try String(contentsOfFile: Self.fixture + "/list-all.txt", encoding: .utf8)
        let expected = old.split(separator: "\n").map { line in
            let state = line.split(separator: " ").last ?? ""
            let cell = state == "STATE" ? "REVOKED" : state == "revoked" ? "2026-12-01T03:31:46Z" : "-"
            return line + String(repeating: " ", count: "revoked".count - state.count + 2) + cell + "\n"
        }.joined()
        let result = try box.run(["list", "--all"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == expected)
    }

    @Test(arguments: [("ci-runner", 0), ("jira", 0), ("build-agent-7", 0), ("old-one", 1)])
    func itVerifiesEveryToken(label: String, status: Int32) throws {
        let box = try Self.sandbox()
        let result = try box.run(["verify"], stdin: try Self.token(label))
        #expect(result.status == status, "\(result)")
        if status == 0 { #expect(result.stdout.hasSuffix("\t\(label)\n")) }
    }

    @Test func itExportsWithItsPassphraseAndRevokes() throws {
        let box = try Self.sandbox()
        let plain = box.root + "/plain"
        let exported = try box.run([
            "export", "build-agent-7", "--vault-passphrase-file", box.passphraseFile,
            "--plain-dir", plain,
        ])
        #expect(exported.status == 0, "\(exported)")
        let properties = try String(contentsOfFile: plain + "/zbot/conf/zbot.properties", encoding: .utf8)
        let expected = try Self.token("build-agent-7").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(properties.contains("zephyrApiToken=" + expected))

        let revoked = try box.run(["revoke", "ci-runner", "--yes"])
        #expect(revoked.status == 0, "\(revoked)")
        #expect(try box.run(["verify"], stdin: try Self.token("ci-runner")).status == 1)
        #expect(try box.run(["verify"], stdin: try Self.token("jira")).status == 0)
        #expect(try box.listJSON(all: false).map { $0["label"] as? String } == ["jira", "build-agent-7"])
        let doctor = try box.run(["doctor"])
        #expect(doctor.status == 0, "\(doctor)")
    }
}
