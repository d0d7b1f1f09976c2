// One writer at a time: N concurrent creates make N tokens, none lost, and
// the lock file is never replaced; a bundle is written under the lock that
// checked its token, so a revoke cannot come between the two; and a writer
// whose close of the lock file fails has still released the lock.
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

    // MARK: Bundles under the lock

    /// Starts `arguments` (a command writing a bundle to `--out -`) with a
    /// full pipe as its standard output, so it blocks inside the bundle
    /// write; checks that `revoke` meanwhile gives up busy (exit 75), because
    /// the lock that checked the token is still held; then drains the pipe
    /// and returns the age bundle the command wrote.
    static func revokeWhileTheBundleIsWritten(
        _ box: Sandbox, _ arguments: [String], revoke: [String],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [UInt8] {
        let pipe = try FullPipe(at: box.nextName("pipe"))
        let writer = try box.spawn(arguments, standardOutput: pipe)
        let blocked = FullPipe.waitUntilBlockedWriting(writer.pid)
        var revoked: CLIResult?
        if blocked { revoked = try box.run(["revoke", "--yes", "--lock-timeout", "0.2"] + revoke) }
        let bundle = pipe.drain()
        let result = writer.wait()
        try #require(
            blocked, "\(arguments[0]) never blocked writing its bundle: \(result)", sourceLocation: sourceLocation)
        let refused = try #require(revoked)
        #expect(
            refused.status == 75 && refused.stderr.contains("the vault is locked by another ztoken"),
            "revoke came between \(arguments[0])'s check and its bundle: \(refused)", sourceLocation: sourceLocation)
        #expect(result.status == 0, "\(result)", sourceLocation: sourceLocation)
        #expect(bundle.starts(with: Array("age-encryption.org/v1\n".utf8)), sourceLocation: sourceLocation)
        return bundle
    }

    /// The token in an age bundle, through `age -d` and `tar -x`.
    static func token(in bundle: [UInt8], _ box: Sandbox, key: String) throws -> String {
        let path = box.nextName("bundle")
        _ = FileManager.default.createFile(atPath: path, contents: Data(bundle))
        let properties = try ZBotBundleCLITests.extract(
            box, bundle: path, key: key, member: "zbot/conf/zbot.properties")
        let line = try #require(properties.split(separator: "\n").first { $0.hasPrefix("zephyrApiToken=") })
        return String(line.dropFirst("zephyrApiToken=".count))
    }

    @Test func aRevokeWaitsForTheBundleAnExportIsWriting() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://zephyr.example.com"])
        let (key, recipient) = try ZBotBundleCLITests.ageKey(box, "agent.key")
        let made = try box.run(["zbot", "agent-7", "-r", recipient, "--out", box.root + "/first.age"])
        try #require(made.status == 0, "\(made)")
        let bundle = try Self.revokeWhileTheBundleIsWritten(
            box, ["export", "agent-7", "--vault-passphrase-file", box.passphraseFile, "-r", recipient, "--out", "-"],
            revoke: ["agent-7"])
        let token = try Self.token(in: bundle, box, key: key)
        #expect(try box.run(["verify"], stdin: token + "\n").status == 0, "the exported token is active")
        #expect(try box.run(["log", "agent-7"]).stdout.contains("export"))
        // The lock is free again.
        #expect(try box.run(["revoke", "agent-7", "--yes", "--lock-timeout", "0.2"]).status == 0)
        #expect(try box.run(["verify"], stdin: token + "\n").status == 1)
    }

    @Test func aRevokeAllWaitsForTheBundleOfANewZBot() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://zephyr.example.com"])
        let (key, recipient) = try ZBotBundleCLITests.ageKey(box, "agent.key")
        let bundle = try Self.revokeWhileTheBundleIsWritten(
            box, ["zbot", "agent-7", "-r", recipient, "--out", "-"], revoke: ["--all"])
        let token = try Self.token(in: bundle, box, key: key)
        #expect(try box.run(["verify"], stdin: token + "\n").status == 0, "the new zBot's token is active")
        #expect(try box.run(["revoke", "--all", "--yes", "--lock-timeout", "0.2"]).status == 0)
        #expect(try box.run(["verify"], stdin: token + "\n").status == 1)
    }

    @Test func aRevokeWaitsForTheBundleOfARotatedZBotToken() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://zephyr.example.com"])
        let (key, recipient) = try ZBotBundleCLITests.ageKey(box, "agent.key")
        let first = box.root + "/first.age"
        try #require(try box.run(["zbot", "agent-7", "-r", recipient, "--out", first]).status == 0)
        let old = try Self.token(in: box.bytes(first) ?? [], box, key: key)
        let bundle = try Self.revokeWhileTheBundleIsWritten(
            box, ["rotate", "agent-7", "-r", recipient, "--out", "-"], revoke: ["agent-7"])
        let token = try Self.token(in: bundle, box, key: key)
        #expect(try box.run(["verify"], stdin: token + "\n").status == 0, "the new token is active")
        #expect(try box.run(["verify"], stdin: old + "\n").status == 1, "the old token is revoked")
        #expect(
            !(try box.run(["show", "agent-7", "--json"]).stdout.contains("neverDisplayed")),
            "the new token was marked as shown")
        #expect(try box.run(["revoke", "agent-7", "--yes", "--lock-timeout", "0.2"]).status == 0)
        #expect(try box.run(["verify"], stdin: token + "\n").status == 1)
    }

    // MARK: Releasing the lock

    /// FileLock.unlock releases the flock itself (LOCK_UN) before closing
    /// the lock file: a close that fails without closing must not leave the
    /// vault locked while the process goes on. strace fails every close of
    /// the lock file with EIO (an injected error skips the call, so the
    /// descriptor stays open); `create` then prints its token after unlocking,
    /// into a full pipe, and sits there alive while a second writer runs.
    @Test func aFailedCloseOfTheLockFileDoesNotKeepTheVaultLocked() throws {
        let strace = try ExternalTools.locate("strace", package: "strace")
        let binary = try CLIHarness.requireBinary()
        let box = try Sandbox()
        try box.initVault()
        // -P matches the path the kernel names for the descriptor.
        let resolved = try #require(realpath(box.vault + "/.lock", nil))
        defer { free(resolved) }
        let lockFile = String(cString: resolved)
        let trace = box.root + "/trace.txt"
        let pidFile = box.root + "/pid"
        let pipe = try FullPipe(at: box.nextName("pipe"))
        let first = try box.spawn(
            [
                "-f", "-qq", "-o", trace, "-P", lockFile, "-e", "trace=flock,close", "-e", "inject=close:error=EIO",
                "/bin/sh", "-c", "echo $$ > \"$1\" && exec \"$0\" create first", binary, pidFile,
            ], standardOutput: pipe, executable: strace)
        var pid: pid_t?
        for _ in 0..<1000 where pid == nil {
            let text = String(decoding: box.bytes(pidFile) ?? [], as: UTF8.self)
            pid = text.hasSuffix("\n") ? pid_t(text.dropLast()) : nil
            if pid == nil { usleep(10_000) }
        }
        let blocked = pid.map(FullPipe.waitUntilBlockedWriting) ?? false
        let other = blocked ? try box.run(["create", "second", "--lock-timeout", "0.2"]) : nil
        let printed = String(decoding: pipe.drain(), as: UTF8.self).trimmingCharacters(in: .newlines)
        let result = first.wait()
        try #require(blocked, "create never blocked printing its token: \(result)")
        // The close that failed is that of the descriptor create locked.
        let traced = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        let calls = traced.split(separator: "\n")
        let locked = calls.firstIndex { $0.contains("LOCK_EX") && $0.hasSuffix("= 0") }
        let fd = locked.flatMap { calls[$0].split(separator: "flock(").last?.split(separator: ",").first }
        try #require(
            locked.map { start in
                calls[start...].contains { $0.contains("close(\(fd ?? "?"))") && $0.hasSuffix("(INJECTED)") }
            } ?? false,
            "strace did not fail the close of the locked lock file: \(traced)")
        let made = try #require(other)
        #expect(made.status == 0, "the lock stayed held after its close failed: \(made)")
        #expect(result.status == 0, "\(result)")
        let second = made.status == 0 ? [made.stdout.trimmingCharacters(in: .newlines)] : []
        try box.checkVaultInvariants(
            live: [printed] + second, revoked: [], context: "after a failed close of the lock file")
    }
}
