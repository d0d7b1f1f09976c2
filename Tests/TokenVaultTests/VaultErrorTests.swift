// The library's errors speak to any program that uses TokenVault: their
// hints name no command-line flag (the CLI adds those, Output.swift).
import Testing

@testable import TokenVault

@Suite struct VaultErrorTests {
    static let every: [VaultError] = [
        .invalidArgument("x"), .corrupt(path: "/v", reason: "r"), .unsupportedVersion(path: "/v", version: 9),
        .weakKeyDerivation(path: "/v", reason: "r"), .vaultNotFound(path: "/v"), .noSuchToken("t"),
        .fileNotFound(path: "/f"), .alreadyExists(path: "/f"), .labelInUse("l"),
        .labelOfExpiredToken("l"), .tokenExpired(label: "l", id: "aaaaaaaaaaaa", expiresAt: "2026-01-01T00:00:00Z"),
        .io(path: "/f", operation: "write", errno: 28),
        .busy(path: "/v", holder: nil, seconds: 10), .vaultReplaced(path: "/v"), .wrongPassphrase(path: "/v"),
        .wrongIdentity(path: "/f"), .unsafePermissions(path: "/v", mode: 0o40755, expected: 0o700),
        .foreignOwner(path: "/v", owner: 0), .symlink(path: "/v"),
        .earlierKeyPair(path: "/b", vaultID: "v"),
        .newPassphraseInEffect(path: "/v/k", cause: "c"), .keyFileNotPutBack(path: "/v/k", cause: "c"),
        .rekeyedDespiteFailure(path: "/v", cause: "c", leftover: "/.v.rekey-1-000000000000"),
        .restoredDespiteFailure(path: "/v", cause: "c", kept: nil),
        .restoredDespiteFailure(path: "/v", cause: "c", kept: "/v.replaced-20260101T000000Z"),
    ]

    @Test(arguments: every)
    func noHintNamesAFlag(_ error: VaultError) {
        let hint = error.hint ?? ""
        #expect(!hint.contains(" --") && !hint.contains(" -i") && !hint.contains("--"), "\(error): \(hint)")
        #expect(!error.message.isEmpty)
    }

    @Test func theLibrarysOwnHintsNameNoFlagEither() throws {
        let scratch = try ScratchDirectory()
        let vault = try TestVault.make(in: scratch)
        #expect(
            throws: VaultError.invalidArgument(
                "no server URL for the zBot",
                hint: "give the zBot's server URL, or set a default server URL for the vault")
        ) {
            _ = try vault.bundleServerURL(nil)
        }
    }
}
