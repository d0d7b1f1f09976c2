// vault.json's hand-written reader against the Codable model it replaced: it
// must read what JSONDecoder read, and refuse what it refused with the same
// reasons (malformed JSON now names the byte, as index.json's reader does).
import FoundationEssentials
import Testing
@testable import TokenVault

@Suite struct MetadataDecodingTests {
    static let path = "/vault/vault.json"

    static func decode(_ text: String) throws -> MetadataFile {
        try Array(text.utf8).withUnsafeBufferPointer { try IndexReader.decodeMetadata($0, path: path) }
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
    func readsWhatJSONEncoderWroteAsJSONDecoderDid(_ metadata: MetadataFile) throws {
        let text = String(decoding: try VaultJSON.encode(metadata), as: UTF8.self)
        #expect(try Self.decode(text) == metadata)
        #expect(try JSONDecoder().decode(MetadataFile.self, from: Data(text.utf8)) == metadata)
        // Compact, reordered and with unknown members: the same file.
        let compact = #"{"extra":[true,{"x":null}],"version":1,"user":"u","vaultID":"abcdefghijklmnopqrstuvwx","createdAt":"2026-01-01T00:00:00Z","publicKey":"o40lzuXYzWk7JXwJkN6qeDM6PVd7jjVBBAfDoTvEa1Y=","keyProtection":"offline","serverURL":null,"kdf":null}"#
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
        (#"{"version":1,"# + good.replacing(#""user":"u""#, with: #""user":null"#) + "}", "field \"user\" has the wrong type"),
        (#"{"version":1,"serverURL":[],"# + good + "}", "field \"serverURL\" has the wrong type"),
        (#"{"version":1,"kdf":"argon","# + good + "}", "field \"kdf\" has the wrong type"),
        (#"{"version":1,"kdf":{"algorithm":"argon2id13"},"# + good + "}", "missing field \"opsLimit\""),
        (#"{"version":1,"kdf":{"# + goodKDF.replacing(#""opsLimit":2"#, with: #""opsLimit":"2""#) + #"},"# + good + "}",
         "field \"kdf.opsLimit\" has the wrong type"),
        (#"{"version":1,"kdf":{"# + goodKDF.replacing(#""opsLimit":2"#, with: #""opsLimit":-2"#) + #"},"# + good + "}",
         "field \"kdf.opsLimit\" has the wrong type"),
        (#"{"version":1,"kdf":{"# + goodKDF.replacing(#""memLimit":8192"#, with: #""memLimit":8192.5"#) + #"},"# + good + "}",
         "field \"kdf.memLimit\" has the wrong type"),
        (#"{"version":1,"kdf":{"# + goodKDF.replacing(#","salt":"s""#, with: "") + #"},"# + good + "}", "missing field \"salt\""),
        (#"{"version":1,"#, "malformed JSON (at byte 13)"),
        (#"{"version":1,"version":1}"#, "malformed JSON (at byte 23)"),
        (#"{"version":1} x"#, "malformed JSON (at byte 14)"),
        ("", "malformed JSON (at byte 0)"),
    ])
    func refusesWhatJSONDecoderRefused(text: String, reason: String) {
        #expect(throws: VaultError.corrupt(path: Self.path, reason: reason)) { try Self.decode(text) }
        // The Codable path it replaced refused it too, for the same reason,
        // except where this reader is more specific: malformed JSON names the
        // byte (JSONDecoder's probe said "not a ztoken file"), a negative or
        // fractional KDF number is "the wrong type" (JSONDecoder: "malformed
        // JSON"), and a duplicate key is malformed (JSONDecoder kept one).
        var old = reason.hasPrefix("malformed JSON") ? #"not a ztoken file (no readable "version")"# : reason
        if text.contains("-2") || text.contains("8192.5") { old = "malformed JSON" }
        if text == #"{"version":1,"version":1}"# { old = #"missing field "vaultID""# }
        #expect(throws: VaultError.corrupt(path: Self.path, reason: old)) {
            try VaultJSON.decode(MetadataFile.self, from: Array(text.utf8), path: Self.path, knownVersions: 1...MetadataFile.currentVersion)
        }
    }

    @Test func aNewerVersionIsUnsupported() {
        #expect(throws: VaultError.unsupportedVersion(path: Self.path, version: 2)) {
            _ = try Self.decode(#"{"version":2,"whatever":true}"#)
        }
    }
}
