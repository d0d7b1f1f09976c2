// What the Concurrency article promises library users, checked: the value
// types are Sendable (a compile-time check: this file does not build if one
// loses its conformance), and separate `Vault` instances in concurrent tasks
// exclude each other's writes through the vault lock, so none is lost and a
// label is given to one writer only.
import Foundation
import Testing
import TokenVault

@Suite struct ConcurrencyContractTests {
    init() { TestVault.useMinimalKDF() }

    /// Compiles only for Sendable types.
    static func sendable<T: Sendable>(_: T.Type) -> String { String(describing: T.self) }

    @Test func documentedValueTypesAreSendable() {
        let names = [
            Self.sendable(TokenInfo.self), Self.sendable(CreatedToken.self), Self.sendable(Verification.self),
            Self.sendable(TokenKind.self), Self.sendable(TokenState.self), Self.sendable(KDFLevel.self),
            Self.sendable(VaultSetup.self), Self.sendable(VaultError.self), Self.sendable(BackupSummary.self),
            Self.sendable(RestoreOptions.self), Self.sendable(RestoredToken.self),
            Self.sendable(VaultCredential.self), Self.sendable(DoctorReport.self), Self.sendable(DoctorFinding.self),
            Self.sendable(BundleTemplate.self), Self.sendable(BundleManifest.self), Self.sendable(AgeRecipient.self),
            Self.sendable(AgeIdentity.self), Self.sendable(AgeX25519Recipient.self),
            Self.sendable(AgeX25519Identity.self), Self.sendable(SecureBytes.self), Self.sendable(VaultKey.self),
        ]
        #expect(names.count == 22)
    }

    @Test func vaultsInConcurrentTasksLoseNoToken() async throws {
        let scratch = try ScratchDirectory()
        let path = try TestVault.make(in: scratch).path
        let (tasks, perTask) = (4, 8)
        let ids = try await withThrowingTaskGroup(of: [String].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    let vault = try Vault(openingAt: path)  // one Vault per task, as documented
                    return try (0..<perTask).map { try vault.create(label: "task\(task)-\($0)").info.id }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let listed = try Vault(openingAt: path).tokens()
        #expect(Set(ids).count == tasks * perTask)
        #expect(Set(listed.map(\.id)) == Set(ids))
    }

    @Test func aLabelRacedForByTwoVaultsGoesToOne() async throws {
        let scratch = try ScratchDirectory()
        let path = try TestVault.make(in: scratch).path
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    do {
                        _ = try Vault(openingAt: path).create(label: "shared")
                        return true
                    } catch VaultError.labelInUse("shared") {
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(try Vault(openingAt: path).tokens().map(\.label) == ["shared"])
    }
}
