// manifest.json of a zBot bundle: what the bundle is, never the token itself.
// Versioned JSON in the SwiftPM storage style: `"version": 1` on top,
// decoding reads the version first and refuses one it does not know, keys are
// sorted and snake_case, times are RFC 3339 UTC with whole seconds. Written by
// JSONEncoder, read by the strict reader (Format/JSON.swift).
import FoundationEssentials

/// The description of a bundle's contents, written as `manifest.json`.
public struct BundleManifest: Encodable, Sendable, Equatable, JSONReadable {
    /// The only bundle format version this ztoken writes and reads.
    public static let currentVersion = 1

    /// The bundle format version.
    public var version: Int
    /// The id of the vault the token belongs to.
    public var vaultID: String
    /// The token's id in that vault.
    public var tokenID: String
    /// The token's label.
    public var label: String
    /// The token's kind (`api` or `zbot`).
    public var kind: String
    /// When the token was created, in whole seconds since 1970 (UTC).
    public var createdAt: Int64
    /// The zephyr server the zBot talks to.
    public var serverURL: String
    /// The zBot's name.
    public var agentName: String

    /// A manifest of the current version.
    public init(
        vaultID: String, tokenID: String, label: String, kind: String,
        createdAt: Int64, serverURL: String, agentName: String
    ) {
        self.version = Self.currentVersion
        self.vaultID = vaultID
        self.tokenID = tokenID
        self.label = label
        self.kind = kind
        self.createdAt = createdAt
        self.serverURL = serverURL
        self.agentName = agentName
    }

    enum CodingKeys: String, CodingKey {
        case version
        case vaultID = "vault_id"
        case tokenID = "token_id"
        case label
        case kind
        case createdAt = "created_at"
        case serverURL = "server_url"
        case agentName = "agent_name"
    }

    init(json: JSONObject) throws {
        version = try json.integer("version")
        vaultID = try json.string("vault_id")
        tokenID = try json.string("token_id")
        label = try json.string("label")
        kind = try json.string("kind")
        guard let seconds = RFC3339.parse(try json.string("created_at")) else {
            throw VaultError.corrupt(path: json.file, reason: "field \"created_at\" is not an RFC 3339 UTC time")
        }
        createdAt = seconds
        serverURL = try json.string("server_url")
        agentName = try json.string("agent_name")
    }

    /// Encodes the manifest's JSON keys (`vault_id`, `created_at` as RFC 3339, …).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(vaultID, forKey: .vaultID)
        try container.encode(tokenID, forKey: .tokenID)
        try container.encode(label, forKey: .label)
        try container.encode(kind, forKey: .kind)
        try container.encode(RFC3339.format(secondsSince1970: createdAt), forKey: .createdAt)
        try container.encode(serverURL, forKey: .serverURL)
        try container.encode(agentName, forKey: .agentName)
    }

    /// The manifest as JSON: sorted keys, pretty-printed, ending in a newline.
    public func encoded() throws -> [UInt8] {
        try VaultJSON.encode(self)
    }

    /// Reads a manifest, version first; `path` names it in errors.
    ///
    /// Throws `VaultError.unsupportedVersion` for a version other than 1 and
    /// `VaultError.corrupt` for anything that is not a complete manifest.
    public static func decode<Bytes: Collection>(_ bytes: Bytes, path: String) throws -> BundleManifest
    where Bytes.Element == UInt8 {
        try VaultJSON.decode(
            BundleManifest.self, from: Array(bytes), path: path, knownVersions: currentVersion...currentVersion)
    }
}
