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
    /// The index holds ~300 bytes a token; this allows millions.
    static let indexLimit = 1 << 30
    static let recordLimit = 4096
}

/// Reads the `"version"` of a JSON file before anything else is decoded.
private struct VersionProbe: Decodable { let version: Int }

enum VaultJSON {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var bytes = Array(try encoder.encode(value))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Decodes `T` from `bytes` after checking the version is one of `known`.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], path: String, knownVersions: ClosedRange<Int>) throws -> T {
        let data = Data(bytes)
        let decoder = JSONDecoder()
        let probe: VersionProbe
        do {
            probe = try decoder.decode(VersionProbe.self, from: data)
        } catch {
            throw VaultError.corrupt(path: path, reason: "not a ztoken file (no readable \"version\")")
        }
        guard knownVersions.contains(probe.version) else {
            throw VaultError.unsupportedVersion(path: path, version: probe.version)
        }
        do {
            return try decoder.decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, _) {
            throw VaultError.corrupt(path: path, reason: "missing field \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw VaultError.corrupt(path: path, reason: "field \"\(field)\" has the wrong type")
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError.corrupt(path: path, reason: "malformed JSON")
        }
    }
}

/// `vault.json`: who the vault belongs to and how its key is protected.
struct MetadataFile: Codable, Equatable {
    static let currentVersion = 1

    var version: Int
    var vaultID: String
    var createdAt: String
    var user: String
    var serverURL: String?
    /// The vault's X25519 public key, base64: it seals every token.
    var publicKey: String
    /// "passphrase" (the secret key is in vault-key.json) or "offline".
    var keyProtection: String
    /// Argon2id parameters; absent in offline-key mode.
    var kdf: KDFParameters?

    struct KDFParameters: Codable, Equatable {
        var algorithm: String
        var opsLimit: UInt64
        var memLimit: Int
        var salt: String
    }
}

/// `vault-key.json`: the vault secret key sealed by a passphrase-derived key.
struct WrappedKeyFile: Codable, Equatable {
    static let currentVersion = 1
    var version: Int
    var cipher: String
    var nonce: String
    var ciphertext: String
}

/// `index.json`: the metadata of every token, and a digest for verification.
struct IndexFile: Codable, Equatable {
    static let currentVersion = 1
    var version: Int
    var tokens: [Entry]

    struct Entry: Codable, Equatable {
        var id: String
        var label: String
        var kind: String
        var createdAt: String
        var last4: String
        /// BLAKE2b-256 of the token, hex.
        var digest: String
        var state: String
        var revokedAt: String?
        var agent: String?
        var serverURL: String?
    }

    /// Checks what JSON cannot: known kinds and states, well-formed ids and
    /// digests, unique ids, labels unique among active tokens.
    func validate(path: String) throws {
        var ids = Set<String>(minimumCapacity: tokens.count)
        var activeLabels = Set<String>(minimumCapacity: tokens.count)
        for (position, entry) in tokens.enumerated() {
            func bad(_ reason: String) -> VaultError {
                .corrupt(path: path, reason: "token #\(position + 1): \(reason)")
            }
            guard TokenID.isValid(entry.id) else { throw bad("malformed id") }
            guard ids.insert(entry.id).inserted else { throw bad("duplicate id \(entry.id)") }
            // O(1) on native strings; no label ztoken writes is empty or this long.
            guard !entry.label.isEmpty, entry.label.utf8.count <= LabelRules.maximumBytes else {
                throw bad("the label is empty or longer than \(LabelRules.maximumBytes) bytes")
            }
            guard TokenKind(rawValue: entry.kind) != nil else { throw bad("unknown kind") }
            guard let state = TokenState(rawValue: entry.state) else { throw bad("unknown state") }
            guard entry.digest.utf8.count == 64, entry.digest.utf8.allSatisfy(Hex.isDigit) else { throw bad("malformed digest") }
            if state == .active {
                guard activeLabels.insert(entry.label).inserted else { throw bad("duplicate active label") }
            }
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
        text.utf8.count == length && text.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x32...0x37).contains($0) }
    }
}
