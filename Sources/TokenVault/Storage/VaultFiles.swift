// The vault's files on disk and their JSON models. Every file carries
// "version"; decoding reads the version first and refuses one it does not
// know (exit 65), never guessing. Encoding sorts keys so files are
// deterministic and diff well. No model here ever holds a plaintext token.
import FoundationEssentials

/// File names inside a vault directory. Labels never appear in a path.
enum VaultLayout {
    static let metadata = "vault.json"
    static let wrappedKey = "vault-key.json"
    static let index = "index.json"
    /// The history: one event per line, appended (EventLog.swift).
    static let log = "log.jsonl"
    static let records = "records"
    static let recordSuffix = ".sealed"

    static func recordName(id: String) -> String { id + recordSuffix }

    /// The token id a file name in records/ stands for, or nil if the name
    /// is not a record's (`<id>.sealed`).
    static func recordID(fromName name: String) -> String? {
        guard name.hasSuffix(recordSuffix) else { return nil }
        let id = String(name.dropLast(recordSuffix.count))
        return TokenID.isValid(id) ? id : nil
    }

    /// Files small enough to read whole; anything larger is treated as corrupt.
    static let smallFileLimit = 1 << 20
    /// The index holds about 300 bytes a token: 64 MiB is some 200,000 tokens,
    /// far past what a person holds, and bounds what a hostile index costs.
    static let indexLimit = 64 << 20
    static let recordLimit = 4096
}

enum VaultJSON {
    /// The layout every vault file has: sorted keys, two-space indent, a final newline.
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var bytes = Array(try encoder.encode(value))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Reads `T` from `bytes` with the strict reader (JSON.swift), after
    /// checking that its integer `"version"` is one of `knownVersions`: an
    /// unknown version is reported before any schema problem, since another
    /// version may have another schema.
    static func decode<T: JSONReadable>(
        _ type: T.Type, from bytes: [UInt8], path: String, knownVersions: ClosedRange<Int>
    ) throws -> T {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw VaultError.corrupt(path: path, reason: "malformed JSON (at byte \(error.offset))")
        }
        _ = try version(document["version"], path: path, knownVersions: knownVersions)
        return try T(json: JSONObject(document, file: path))
    }

    /// The file's `"version"` (the value read for it, nil when absent),
    /// which must be an integer among `knownVersions`.
    static func version(_ value: JSONValue?, path: String, knownVersions: ClosedRange<Int>) throws -> Int {
        guard let version = value?.integer else {
            throw VaultError.corrupt(path: path, reason: "not a ztoken file (no readable \"version\")")
        }
        guard knownVersions.contains(version) else {
            throw VaultError.unsupportedVersion(path: path, version: version)
        }
        return version
    }
}

/// `vault.json`: who the vault belongs to and how its key is protected.
/// Version 2 no longer holds the KDF parameters (vault-key.json version 2
/// does); version 1 (ztoken 0.1) holds them and is still read, and is
/// rewritten as version 2 by the first `passwd`.
struct MetadataFile: Codable, Equatable, JSONReadable {
    static let currentVersion = 2

    var version: Int
    var vaultID: String
    var createdAt: String
    var user: String
    var serverURL: String?
    /// The vault's X25519 public key, base64: it seals every token.
    var publicKey: String
    /// "passphrase" (the secret key is in vault-key.json) or "offline".
    var keyProtection: String
    /// Version 1 only: the Argon2id parameters (absent in offline-key mode).
    /// Never written by version 2, whose key file holds them.
    var kdf: KDFParameters?
}

extension KDFParameters: JSONReadable {
    init(json: JSONObject) throws {
        algorithm = try json.string("algorithm")
        let ops = try json.integer("opsLimit")
        guard ops >= 0 else { throw json.wrongType("opsLimit") }
        opsLimit = UInt64(ops)
        memLimit = try json.integer("memLimit")
        salt = try json.string("salt")
    }
}

extension MetadataFile {
    init(json: JSONObject) throws {
        version = try json.integer("version")
        vaultID = try json.string("vaultID")
        createdAt = try json.string("createdAt")
        user = try json.string("user")
        serverURL = try json.optionalString("serverURL")
        publicKey = try json.string("publicKey")
        keyProtection = try json.string("keyProtection")
        // Version 2 keeps no parameters here: a stray "kdf" is not read, so
        // it can never stand in for the key file's.
        kdf = version == 1 ? try json.optionalObject("kdf").map(KDFParameters.init(json:)) : nil
    }
}

extension WrappedKeyFile: JSONReadable {
    init(json: JSONObject) throws {
        version = try json.integer("version")
        cipher = try json.string("cipher")
        nonce = try json.string("nonce")
        ciphertext = try json.string("ciphertext")
        if version >= 2 {
            guard let parameters = try json.optionalObject("kdf") else { throw json.missing("kdf") }
            kdf = try KDFParameters(json: parameters)
        } else {
            kdf = nil
        }
    }
}

/// Token ids: 12 lowercase base32 characters (60 random bits).
enum TokenID {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
    static let length = 12

    static func make() -> String {
        // 32 divides 256, so the low five bits of a random byte are uniform:
        // one call to the system's random source, not one per character.
        String(decoding: Sodium.randomBytes(length).map { alphabet[Int($0 & 31)] }, as: UTF8.self)
    }

    static func isValid(_ text: String) -> Bool {
        text.utf8.count == length && text.allUTF8 { (0x61...0x7A).contains($0) || (0x32...0x37).contains($0) }
    }
}
