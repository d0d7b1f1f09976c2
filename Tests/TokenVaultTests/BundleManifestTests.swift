import Testing

@testable import TokenVault

@Suite struct BundleManifestTests {
    static let sample = BundleManifest(
        vaultID: "v1", tokenID: "t1", label: "CI bot/ü", kind: "zbot",
        createdAt: 1_714_564_800, serverURL: "https://z.example/x", agentName: "ci")

    static func text(_ manifest: BundleManifest) throws -> String {
        String(decoding: try manifest.encoded(), as: UTF8.self)
    }

    @Test func roundTrip() throws {
        #expect(try BundleManifest.decode(Self.sample.encoded(), path: "m") == Self.sample)
    }

    @Test func keysAreSortedAndTimesAreRFC3339() throws {
        let text = try Self.text(Self.sample)
        #expect(
            text == """
                {
                  "agent_name" : "ci",
                  "created_at" : "2024-05-01T12:00:00Z",
                  "kind" : "zbot",
                  "label" : "CI bot/ü",
                  "server_url" : "https://z.example/x",
                  "token_id" : "t1",
                  "vault_id" : "v1",
                  "version" : 1
                }

                """)
    }

    @Test(arguments: [0, 2, 99])
    func unknownVersionIsRefused(_ version: Int) throws {
        var manifest = Self.sample
        manifest.version = version
        #expect(throws: VaultError.unsupportedVersion(path: "m", version: version)) {
            try BundleManifest.decode(manifest.encoded(), path: "m")
        }
    }

    @Test func versionIsReadFirst() {
        // A future version with a different shape is reported as a version problem, not as corruption.
        #expect(throws: VaultError.unsupportedVersion(path: "m", version: 2)) {
            try BundleManifest.decode(Array(#"{"version":2,"everything":"else"}"#.utf8), path: "m")
        }
    }

    @Test(arguments: [
        "", "[]", "{}", #"{"version":"1"}"#, #"{"version":1}"#,
        #"{"version":1,"vault_id":"v","token_id":"t","label":"l","kind":"zbot","created_at":"2024-02-30T00:00:00Z","server_url":"u","agent_name":"a"}"#,
        #"{"version":1,"vault_id":"v","token_id":"t","label":"l","kind":"zbot","created_at":"2024-01-01T00:00:00+01:00","server_url":"u","agent_name":"a"}"#,
    ])
    func malformedManifestsAreCorrupt(_ text: String) {
        do {
            _ = try BundleManifest.decode(Array(text.utf8), path: "m")
            Issue.record("accepted \(text)")
        } catch let VaultError.corrupt(path, _) {
            #expect(path == "m")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
