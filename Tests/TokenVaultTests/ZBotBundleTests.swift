import Foundation
import TestSupport
import Testing

@testable import TokenVault

@Suite struct ZBotBundleTests {
    static let mtime: Int64 = 1_714_564_800  // 2024-05-01T12:00:00Z

    static func bundle(
        name: String = "build-bot", url: String = "https://zephyr.example.com",
        token: String = "ztk_0123456789abcdef", template: BundleTemplate? = nil
    ) throws -> ZBotBundle {
        try ZBotBundle(
            name: name, serverURL: url, token: SecureBytes(copying: Array(token.utf8)), template: template,
            vaultID: "vault123", tokenID: "abcdefghijkl", label: name, kind: "zbot",
            createdAt: mtime - 60, modificationTime: mtime)
    }

    static func text(_ secret: SecureBytes) -> String { secret.withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    @Test func defaultLayout() throws {
        let files = try Self.bundle().files()
        #expect(files.map(\.path) == ["zbot", "zbot/conf", "zbot/conf/zbot.properties", "manifest.json"])
        #expect(files.map(\.mode) == [0o700, 0o700, 0o600, 0o600])
        #expect(files.map(\.isDirectory) == [true, true, false, false])
        #expect(
            Self.text(files[2].contents) == """
                # zBot configuration written by ztoken on 2024-05-01T12:00:00Z
                zbotName=build-bot
                zephyrServerURL=https\\://zephyr.example.com
                zephyrApiToken=ztk_0123456789abcdef

                """)
        let manifest = try BundleManifest.decode(files[3].contents.withUnsafeBytes { Array($0) }, path: "manifest.json")
        #expect(manifest.agentName == "build-bot")
        #expect(manifest.serverURL == "https://zephyr.example.com")
        #expect(manifest.tokenID == "abcdefghijkl")
    }

    @Test func defaultLayoutIsReadByJava() throws {
        let bundle = try Self.bundle(name: "bot: #1 ü", url: "http://[::1]:8080/zephyr", token: " =:#!\\tok")
        let loaded = try ExternalTools.javaLoad(try bundle.files()[2].contents.withUnsafeBytes { Array($0) })
        #expect(
            loaded == [
                "zbotName": "bot: #1 ü", "zephyrServerURL": "http://[::1]:8080/zephyr", "zephyrApiToken": " =:#!\\tok",
            ])
    }

    @Test func templateIsUsed() throws {
        let template = try BundleTemplate(parsing: Array("token={{token}}\n".utf8), path: "t")
        let files = try Self.bundle(template: template).files()
        #expect(Self.text(files[2].contents) == "token=ztk_0123456789abcdef\n")
    }

    @Test func badServerURLIsRefused() {
        #expect(throws: VaultError.self) { try Self.bundle(url: "ftp://x") }
    }

    @Test func tarPayloadExtractsWithGNUTar() throws {
        let tar = try ExternalTools.locate("tar", package: "tar")
        let bundle = try Self.bundle()
        let payload = try bundle.tarPayload()
        #expect(payload.constantTimeEquals(try bundle.tarPayload()))
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(payload.withUnsafeBytes { Array($0) }).write(to: directory.appendingPathComponent("bundle.tar"))
        let out = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: false)
        let result = try ExternalTools.run(tar, ["-x", "-f", "../bundle.tar"], in: out)
        #expect(result.status == 0 && result.stderr.isEmpty, "\(result.stderrText)")
        for file in try bundle.files() {
            let path = out.appendingPathComponent(file.path).path
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == Int(file.mode), "\(file.path)")
            if !file.isDirectory {
                #expect(
                    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
                        == file.contents.withUnsafeBytes { Array($0) })
            }
        }
        let read = try TarArchive.read(
            payload, displayPath: "bundle", limits: .init(maxTotalSize: 1 << 20, maxEntryCount: 8))
        #expect(read.map(\.path) == ["zbot", "zbot/conf", "zbot/conf/zbot.properties", "manifest.json"])
    }
}
