// The plaintext of a zBot bundle, built in memory: zbot/conf/zbot.properties
// (the zBot's configuration, token included) and manifest.json, laid out as a
// deterministic ustar archive (the payload age encrypts) or as a list of files
// for `--plain-dir`. No file I/O here: the caller writes the result atomically
// or encrypts it. Everything holding the token is a `SecureBytes`.

/// zbot.properties: the default layout, or a user's template.
package struct ZBotConfiguration: Sendable {
    /// The zBot's documented key for the server URL.
    package static let serverURLKey = "zephyrServerURL"
    /// Default key for the zBot's name.
    package static let nameKey = "zbotName"
    /// Default key for the API token.
    package static let tokenKey = "zephyrApiToken"

    /// The zBot's name.
    package var name: String
    /// The validated server URL.
    package var serverURL: String
    /// The zBot's API token.
    package var token: SecureBytes

    /// A configuration; throws `VaultError.invalidArgument` for a bad server URL.
    package init(name: String, serverURL: String, token: SecureBytes) throws {
        self.name = name
        self.serverURL = try ServerURL.validate(serverURL)
        self.token = token
    }

    /// The properties file, from `template` if given, else the default
    /// layout with a comment stamped `writtenAt` (Unix seconds, UTC).
    package func render(template: BundleTemplate? = nil, writtenAt: Int64) throws -> SecureBytes {
        if let template {
            return try template.render(name: name, serverURL: serverURL, token: token)
        }
        let comment = Array(
            "# zBot configuration written by ztoken on \(RFC3339.format(secondsSince1970: writtenAt))\n".utf8)
        let nameLine = JavaProperties.line(key: Self.nameKey, value: name) + [UInt8(ascii: "\n")]
        let urlLine = JavaProperties.line(key: Self.serverURLKey, value: serverURL) + [UInt8(ascii: "\n")]
        let tokenKey = JavaProperties.escapedKey(Self.tokenKey) + [UInt8(ascii: "=")]
        return try SecureBytes.assemble { writer in
            writer.append(contentsOf: comment)
            writer.append(contentsOf: nameLine)
            writer.append(contentsOf: urlLine)
            writer.append(contentsOf: tokenKey)
            try token.withUnsafeBytes { try JavaProperties.escape(utf8: $0, as: .value, into: &writer) }
            writer.append(UInt8(ascii: "\n"))
        }
    }
}

/// Everything that goes into one zBot bundle.
package struct ZBotBundle: Sendable {
    /// One file or directory of a bundle, by relative path.
    package typealias File = PlainDirectory.File

    /// Path of the zBot's configuration inside the bundle.
    package static let propertiesPath = "zbot/conf/zbot.properties"
    /// Path of the manifest inside the bundle.
    package static let manifestPath = "manifest.json"

    /// The configuration written to zbot.properties.
    package var configuration: ZBotConfiguration
    /// The user's template, or nil for the default layout.
    package var template: BundleTemplate?
    /// The manifest written to manifest.json.
    package var manifest: BundleManifest
    /// Modification time of every entry and the stamp of the default layout.
    package var modificationTime: Int64

    /// A bundle for the zBot `name` at `serverURL` with `token`; the manifest
    /// takes its server URL and agent name from the same arguments, so the two
    /// files cannot disagree.
    package init(
        name: String, serverURL: String, token: SecureBytes, template: BundleTemplate?,
        vaultID: String, tokenID: String, label: String, kind: String, createdAt: Int64,
        modificationTime: Int64
    ) throws {
        configuration = try ZBotConfiguration(name: name, serverURL: serverURL, token: token)
        self.template = template
        manifest = BundleManifest(
            vaultID: vaultID, tokenID: tokenID, label: label, kind: kind,
            createdAt: createdAt, serverURL: serverURL, agentName: name)
        self.modificationTime = modificationTime
    }

    /// The bundle's directories and files, parents first, for `--plain-dir`.
    package func files() throws -> [File] {
        let properties = try configuration.render(template: template, writtenAt: modificationTime)
        let manifestBytes = try manifest.encoded()
        return [
            File(path: "zbot", mode: 0o700, isDirectory: true, contents: SecureBytes(zeroedCount: 0)),
            File(path: "zbot/conf", mode: 0o700, isDirectory: true, contents: SecureBytes(zeroedCount: 0)),
            File(path: Self.propertiesPath, mode: 0o600, isDirectory: false, contents: properties),
            File(
                path: Self.manifestPath, mode: 0o600, isDirectory: false, contents: SecureBytes(copying: manifestBytes)),
        ]
    }

    /// The bundle as a deterministic ustar archive: the payload to encrypt.
    package func tarPayload() throws -> SecureBytes {
        let entries = try files().map {
            TarArchive.Entry(path: $0.path, mode: $0.mode, isDirectory: $0.isDirectory, contents: $0.contents)
        }
        return try TarArchive.write(entries, modificationTime: modificationTime)
    }
}
