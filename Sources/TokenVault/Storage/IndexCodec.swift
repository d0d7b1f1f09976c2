// Reads and writes index.json. One place, so a faster codec can replace the
// Codable one without touching callers.
enum IndexCodec {
    static func encode(_ index: IndexFile) throws -> [UInt8] {
        try VaultJSON.encode(index)
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> IndexFile {
        try VaultJSON.decode(IndexFile.self, from: bytes, path: path, knownVersions: 1...IndexFile.currentVersion)
    }
}
