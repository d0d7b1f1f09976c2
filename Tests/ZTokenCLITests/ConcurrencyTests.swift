// One writer at a time: N concurrent creates make N tokens, none lost, and
// the lock file is never replaced.
import Foundation
import TestSupport
import Testing

@testable import TokenVault

@Suite struct ConcurrencyTests {
    @Test func fortyParallelCreatesAllSucceedAndAllVerify() throws {
        let box = try Sandbox()
        try box.initVault()
        let inode = FileStatus.inode(box.vault + "/.lock")
        let children = try (0..<40).map { try box.spawn(["create", "parallel-\($0)", "--lock-timeout", "60"]) }
        let results = children.map { $0.wait() }
        var tokens: [String] = []
        for (n, result) in results.enumerated() {
            #expect(result.status == 0, "create parallel-\(n): \(result)")
            #expect(result.stdoutLines.count == 1)
            tokens.append(result.stdout.trimmingCharacters(in: .newlines))
        }
        let listed = try box.listJSON()
        #expect(listed.count == 40)
        #expect(Set(listed.compactMap { $0["label"] as? String }) == Set((0..<40).map { "parallel-\($0)" }))
        #expect(Set(tokens).count == 40)
        let vault = try Vault(openingAt: box.vault)
        for token in tokens {
            let answer = try vault.verify(SecureBytes(copying: Array(token.utf8)))
            if case .valid = answer {} else { Issue.record("token …\(token.suffix(4)) does not verify: \(answer)") }
        }
        #expect(box.tree(box.vault + "/records").count == 40)
        #expect(FileStatus.inode(box.vault + "/.lock") == inode)
        #expect(try box.run(["doctor"]).status == 0)
    }

    @Test func parallelRevokesAndCreatesKeepTheIndexConsistent() throws {
        let box = try Sandbox()
        try box.initVault()
        let old = try (0..<6).map { try box.create("old-\($0)") }
        var children = try (0..<6).map { try box.spawn(["revoke", "old-\($0)", "--yes", "--lock-timeout", "60"]) }
        children += try (0..<6).map { try box.spawn(["create", "new-\($0)", "--lock-timeout", "60"]) }
        let results = children.map { $0.wait() }
        #expect(results.allSatisfy { $0.status == 0 }, "\(results.filter { $0.status != 0 })")
        let fresh = results.suffix(6).map { $0.stdout.trimmingCharacters(in: .newlines) }
        try box.checkVaultInvariants(live: fresh, revoked: old, context: "parallel revoke+create")
        #expect(try box.listJSON(all: false).count == 6)
    }
}
