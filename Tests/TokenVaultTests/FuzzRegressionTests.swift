// Every fuzz crash kept in fixtures/bad/fuzz/TARGET/ and every seed in
// fuzz/corpus/TARGET/ goes through the fuzz target's entry point
// (FuzzEntryPoints) on every test run: a trap or a failed property check there
// is a regression. Runs without the fuzzer build.
import Foundation
import Testing
@testable import TokenVault

@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static func entry(_ target: String) -> (([UInt8]) -> Void)? {
        switch target {
        case "fuzz-index": return FuzzEntryPoints.indexDecoder
        case "fuzz-age-header": return FuzzEntryPoints.ageHeader
        case "fuzz-age-stream": return FuzzEntryPoints.ageStream
        case "fuzz-template": return FuzzEntryPoints.template
        case "fuzz-backup": return FuzzEntryPoints.backupArchive
        default: return nil
        }
    }

    @Test(arguments: ["fuzz-index", "fuzz-age-header", "fuzz-age-stream", "fuzz-template", "fuzz-backup"])
    func corpusAndCrashesPassTheEntryPoint(_ target: String) throws {
        let entry = try #require(Self.entry(target))
        var count = 0
        for directory in ["fixtures/bad/fuzz/" + target, "fuzz/corpus/" + target] {
            let path = Self.root + "/" + directory
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                guard let data = FileManager.default.contents(atPath: path + "/" + name) else { continue }
                entry(Array(data))
                count += 1
            }
        }
        #expect(count > 0, "no seeds for \(target); run scripts/make-bad-fixtures")
    }

    /// The fixed identity really opens the seeds made for it.
    @Test func fixedIdentityOpensTheSeedBackup() throws {
        let data = try #require(FileManager.default.contents(atPath: Self.root + "/fixtures/bad/base/backup.age"))
        let plaintext = try Age.decrypt(Array(data), with: [.x25519(FuzzEntryPoints.identity)], path: "backup.age")
        FuzzEntryPoints.backupArchive([])  // sets the minimal-KDF hook, as the fuzz target does
        do {
            let checked = try Vault.checkBackupArchive(plaintext.withUnsafeBytes { Array($0) }, shown: "backup.age")
            #expect(checked.activeTokens == 4)
        } catch VaultError.weakKeyDerivation where !KeyWrap.testOnlyMinimalCost {
            // Another test in this process read the hook before it was set.
        }
    }
}
