// vault.json through the strict reader: what JSONEncoder wrote reads back,
// reformatted files read the same, and each kind of problem has its reason.
import FoundationEssentials
import Testing

@testable import TokenVault

@Suite struct MetadataDecodingTests {
    static let path = "/vault/vault.json"

    static func decode(_ text: String) throws -> MetadataFile {
        try VaultJSON.decode(
            MetadataFile.self, from: Array(text.utf8), path: path,
            knownVersions: 1...MetadataFile.currentVersion)
    }

    static let passphraseVault = MetadataFile(
        version: 1, vaultID: "mu3ylqk7fpjekqcaz6zbqx5f", createdAt: "2026-11-29T04:10:36Z", user: "ré\"sa\\",
        serverURL: "https://zephyr.example", publicKey: "o40lzuXYzWk7JXwJkN6qeDM6PVd7jjVBBAfDoTvEa1Y=",
        keyProtection: "passphrase",
        kdf: .init(algorithm: "argon2id13", opsLimit: 2, memLimit: 67_108_864, salt: "Il0bttDkkwK4lUhbsZOtOw=="))

    static let offlineVault = MetadataFile(
        version: 1, vaultID: "abcdefghijklmnopqrstuvwx", createdAt: "2026-01-01T00:00:00Z", user: "u",
        serverURL: nil, publicKey: "o40lzuXYzWk7JXwJkN6qeDM6PVd7jjVBBAfDoTvEa1Y=", keyProtection: "offline", kdf: nil)

    @Test(arguments: [passphraseVault, offlineVault])
    func readsWhatJSONEncoderWrote(_ metadata: MetadataFile) throws {
        let text = String(decoding: try VaultJSON.encode(metadata), as: UTF8.self)
        #expect(try Self.decode(text) == metadata)
        // Compact, reordered and with unknown members: the same file.
        let compact =
            #"{"extra":[true,{"x":null}],"version":1,"user":"u","vaultID":"abcdefghijklmnopqrstuvwx","createdAt":"2026-01-01T00:00:00Z","publicKey":"o40lzuXYzWk7JXwJkN6qeDM6PVd7jjVBBAfDoTvEa1Y=","keyProtection":"offline","serverURL":null,"kdf":null}"#
        #expect(try Self.decode(compact) == Self.offlineVault)
    }

    static let good = #""vaultID":"v","createdAt":"c","user":"u","publicKey":"p","keyProtection":"passphrase""#
    static let goodKDF = #""algorithm":"argon2id13","opsLimit":2,"memLimit":8192,"salt":"s""#

    @Test(arguments: [
        (#"{"vaultID":"v"}"#, "not a ztoken file (no readable \"version\")"),
        (#"{"version":"1"}"#, "not a ztoken file (no readable \"version\")"),
        (#"{"version":1.5}"#, "not a ztoken file (no readable \"version\")"),
        (#"[1]"#, "not a ztoken file (no readable \"version\")"),
        (#"{"version":1}"#, "missing field \"vaultID\""),
        (#"{"version":1,"vaultID":7}"#, "field \"vaultID\" has the wrong type"),
        (
            #"{"version":1,"# + good.replacing(#""user":"u""#, with: #""user":null"#) + "}",
            "field \"user\" has the wrong type"
        ),
        (#"{"version":1,"serverURL":[],"# + good + "}", "field \"serverURL\" has the wrong type"),
        (#"{"version":1,"kdf":"argon","# + good + "}", "field \"kdf\" has the wrong type"),
        (#"{"version":1,"kdf":{"algorithm":"argon2id13"},"# + good + "}", "missing field \"opsLimit\""),
        (
            #"{"version":1,"kdf":{"# + goodKDF.replacing(#""opsLimit":2"#, with: #""opsLimit":"2""#) + #"},"# + good
                + "}",
            "field \"kdf.opsLimit\" has the wrong type"
        ),
        (
            #"{"version":1,"kdf":{"# + goodKDF.replacing(#""opsLimit":2"#, with: #""opsLimit":-2"#) + #"},"# + good
                + "}",
            "field \"kdf.opsLimit\" has the wrong type"
        ),
        (
            #"{"version":1,"kdf":{"# + goodKDF.replacing(#""memLimit":8192"#, with: #""memLimit":8192.5"#) + #"},"#
                + good + "}",
            "field \"kdf.memLimit\" has the wrong type"
        ),
        (
            #"{"version":1,"kdf":{"# + goodKDF.replacing(#","salt":"s""#, with: "") + #"},"# + good + "}",
            "missing field \"salt\""
        ),
        (#"{"version":1,"#, "malformed JSON (at byte 13)"),
        (#"{"version":1,"version":1}"#, "malformed JSON (at byte 13)"),
        (#"{"version":1} x"#, "malformed JSON (at byte 14)"),
        ("", "malformed JSON (at byte 0)"),
    ])
    func refusesWithItsReason(text: String, reason: String) {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: reason)) { try Self.decode(text) }
    }

    @Test func aNewerVersionIsUnsupported() {
        #expect(throws: VaultError.unsupportedVersion(path: Self.path, version: 3)) {
            _ = try Self.decode(#"{"version":3,"whatever":true}"#)
        }
    }
}
