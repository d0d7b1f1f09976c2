import Foundation
import Testing

@testable import TokenVault

// Every fuzz crash kept in fixtures/bad/fuzz/TARGET/ and every seed that
// fuzz/seeds names for TARGET goes through the fuzz target's entry point
// (FuzzEntryPoints) on every test run: a trap or a failed property check there
// is a regression. Runs without the fuzzer build.
#if canImport(Glibc)
import Glibc
#endif

@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func entry(_ target: String) -> (([UInt8]) -> Void)? {
        switch target {
        case "fuzz-index": return FuzzEntryPoints.indexDecoder
        case "fuzz-age-header": return FuzzEntryPoints.ageHeader
        case "fuzz-age-stream": return FuzzEntryPoints.ageStream
        case "fuzz-template": return FuzzEntryPoints.template
        case "fuzz-backup": return FuzzEntryPoints.backupArchive
        case "fuzz-scanner": return FuzzEntryPoints.scanner
        case "fuzz-log": return FuzzEntryPoints.eventLog
        default: return nil
        }
    }

    /// The lines of fuzz/seeds: a target and a path or shell glob relative to
    /// the repository root (scripts/fuzz reads the same file).
    static func seedLines() throws -> [(target: String, pattern: String)] {
        let text = try String(contentsOfFile: root + "/fuzz/seeds", encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let fields = line.split(separator: " ")
            return (String(fields.first ?? ""), fields.count == 2 ? String(fields[1]) : "")
        }
    }

    /// The files a fuzz/seeds pattern names.
    static func files(matching pattern: String) -> [String] {
        var matches = glob_t()
        defer { globfree(&matches) }
        guard !pattern.isEmpty, glob(root + "/" + pattern, 0, nil, &matches) == 0 else { return [] }
        return (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }
    }

    @Test(arguments: [
        "fuzz-index", "fuzz-age-header", "fuzz-age-stream", "fuzz-template", "fuzz-backup", "fuzz-scanner",
        "fuzz-log",
    ])
    func corpusAndCrashesPassTheEntryPoint(_ target: String) throws {
        let entry = try #require(Self.entry(target))
        let crashes = Self.root + "/fixtures/bad/fuzz/" + target
        let crashFiles = ((try? FileManager.default.contentsOfDirectory(atPath: crashes)) ?? []).map {
            crashes + "/" + $0
        }
        var count = 0
        let seeds = try Self.seedLines().filter { $0.target == target }.flatMap { Self.files(matching: $0.pattern) }
        for path in crashFiles + seeds {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            entry(Array(data))
            count += 1
        }
        #expect(count > 0, "no seeds for \(target); run scripts/make-bad-fixtures")
    }

    /// Every line of fuzz/seeds names at least one file, so a misspelled or
    /// stale path cannot silently drop seeds.
    @Test func everySeedLineMatchesFiles() throws {
        for line in try Self.seedLines() {
            #expect(!Self.files(matching: line.pattern).isEmpty, "fuzz/seeds: nothing matches \(line)")
        }
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
