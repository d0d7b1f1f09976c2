// Crash and fault tests the SQLite way: kill ztoken (or fail one syscall) at
// the Nth call of a kind, N = 1, 2, 3 … until the command completes, and
// check the vault after every run: it opens, `doctor --repair` then `doctor`
// pass, every token whose creation was reported verifies, and no token whose
// revocation was reported is active. strace injects the faults at exact
// syscalls in the real binary.
import Foundation
import TestSupport
import Testing

@testable import TokenVault

enum Strace {
    static let syscalls: [(name: String, set: String)] = [
        ("rename", "rename,renameat,renameat2"),
        ("fsync", "fsync,fdatasync"),
        ("write", "write,pwrite64"),
        ("unlink", "unlink,unlinkat"),
        ("openat", "open,openat"),
    ]

    /// Runs ztoken under strace with one injection; trace output is discarded.
    static func run(_ box: Sandbox, inject: String, _ arguments: [String]) throws -> CLIResult {
        let strace = try #require(ExternalTools.find("strace"), "strace is needed for crash tests")
        return try box.run(
            ["-f", "-qq", "-o", "/dev/null", "-e", "inject=\(inject)", try CLIHarness.requireBinary()] + arguments,
            executable: strace)
    }

    static func isActive(_ token: String, in path: String) throws -> Bool {
        if case .valid = try Vault(openingAt: path).verify(SecureBytes(copying: Array(token.utf8))) { return true }
        return false
    }
}

/// Counts what the loops covered, for the report.
final class Coverage: @unchecked Sendable {
    private let lock = NSLock()
    private var points: [String: Int] = [:]
    func add(_ key: String) {
        lock.lock()
        points[key, default: 0] += 1
        lock.unlock()
    }
    var summary: String {
        lock.lock()
        defer { lock.unlock() }
        return points.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

@Suite struct CrashTests {
    /// Printing a new token fails (stdout is /dev/full) and so does taking
    /// it out again (every fsync after create's own fails): the error names
    /// the token left active that nobody has, and how to get rid of it.
    @Test func aTokenLeftActiveByAFailedRollBackIsNamed() throws {
        let strace = try ExternalTools.locate("strace", package: "strace")
        let binary = try CLIHarness.requireBinary()
        let box = try Sandbox()
        try box.initVault()
        let trace = box.root + "/fsyncs.txt"
        #expect(
            try box.run(["-f", "-qq", "-e", "trace=fsync", "-o", trace, binary, "create", "probe"], executable: strace)
                .status == 0)
        let creates = try String(contentsOfFile: trace, encoding: .utf8).components(separatedBy: "fsync(").count - 1
        try #require(creates > 0)
        let result = try box.run(
            [
                "-f", "-qq", "-e", "trace=fsync", "-e", "inject=fsync:error=EIO:when=\(creates + 1)+", "-o",
                "/dev/null",
                "sh", "-c", "exec \"$0\" create unseen >/dev/full", binary,
            ], executable: strace)
        #expect(result.status == 74, "\(result)")
        let left = try #require(try box.listJSON().first { $0["label"] as? String == "unseen" }, "\(result)")
        let id = try #require(left["id"] as? String)
        #expect(
            result.stderr.contains("the new token 'unseen' (\(id)) could not be removed again"), "\(result)")
        #expect(result.stderr.contains("ztoken: hint: run 'ztoken revoke \(id)'"), "\(result)")
    }

    static let limit = 150
    /// Most openat calls are the dynamic loader's: every third is sampled.
    static let openatStride = 3

    @Test(arguments: Strace.syscalls.map(\.name))
    func killDuringCreate(syscall: String) throws {
        let set = try #require(Strace.syscalls.first { $0.name == syscall }?.set)
        let box = try Sandbox()
        try box.initVault()
        var live = [try box.create("before")]
        var crashes = 0
        var completed = false
        for n in stride(from: 1, through: Self.limit, by: syscall == "openat" ? Self.openatStride : 1) {
            let result = try Strace.run(box, inject: "\(set):signal=KILL:when=\(n)", ["create", "\(syscall)-\(n)"])
            let printed = result.stdout.trimmingCharacters(in: .newlines)
            if !printed.isEmpty { live.append(printed) }
            if result.status == 0 {
                completed = true
                break
            }
            crashes += 1
            #expect(result.signal == SIGKILL, "\(syscall) #\(n): \(result)")
            try box.checkVaultInvariants(live: live, revoked: [], context: "create killed at \(syscall) #\(n)")
        }
        #expect(completed, "create never completed within \(Self.limit) \(syscall) calls")
        try box.checkVaultInvariants(live: live, revoked: [], context: "create \(syscall) after completion")
        print("crash points (create, \(syscall)): \(crashes)")
    }

    @Test(arguments: Strace.syscalls.map(\.name))
    func killDuringRevokeAll(syscall: String) throws {
        let set = try #require(Strace.syscalls.first { $0.name == syscall }?.set)
        let box = try Sandbox()
        try box.initVault()
        var revoked: [String] = []
        var live: [String] = []
        var crashes = 0
        var completed = false
        for n in stride(from: 1, through: Self.limit, by: syscall == "openat" ? Self.openatStride : 1) {
            live += [try box.create("a\(n)"), try box.create("b\(n)")]
            let result = try Strace.run(box, inject: "\(set):signal=KILL:when=\(n)", ["revoke", "--all", "--yes"])
            let active = try live.filter { try Strace.isActive($0, in: box.vault) }
            // One atomic rewrite: all or nothing.
            #expect(
                active.isEmpty || active.count == live.count,
                "\(syscall) #\(n): \(active.count) of \(live.count) still active")
            if result.status == 0 || !result.stdout.isEmpty {
                #expect(active.isEmpty, "\(syscall) #\(n): revocation was reported but tokens are active")
            }
            if active.isEmpty {
                revoked += live
                live = []
            }
            if result.status == 0 {
                completed = true
                break
            }
            crashes += 1
            #expect(result.signal == SIGKILL, "\(syscall) #\(n): \(result)")
            try box.checkVaultInvariants(
                live: live, revoked: revoked, context: "revoke --all killed at \(syscall) #\(n)")
        }
        #expect(completed, "revoke --all never completed within \(Self.limit) \(syscall) calls")
        try box.checkVaultInvariants(live: live, revoked: revoked, context: "revoke \(syscall) after completion")
        print("crash points (revoke --all, \(syscall)): \(crashes)")
    }

    /// A failing fsync or write (EIO, ENOSPC) is exit 74 naming the errno,
    /// shows no token, and leaves the vault as it was.
    @Test(arguments: [
        ("fsync", "EIO", "input/output error"), ("write", "ENOSPC", "no space left on device"),
        ("rename", "EIO", "input/output error"),
    ])
    func failingSyscallDuringCreate(syscall: String, error: String, text: String) throws {
        let set = try #require(Strace.syscalls.first { $0.name == syscall }?.set)
        let box = try Sandbox()
        try box.initVault()
        var live = [try box.create("before")]
        var faults = 0
        for n in 1...Self.limit {
            let indexBefore = box.indexTokens()
            let recordsBefore = box.tree(box.vault + "/records")
            let result = try Strace.run(box, inject: "\(set):error=\(error):when=\(n)", ["create", "\(syscall)-\(n)"])
            if result.status == 0 {
                live.append(result.stdout.trimmingCharacters(in: .newlines))
                break
            }
            faults += 1
            #expect(result.status == 74, "\(syscall)=\(error) #\(n): \(result)")
            #expect(
                result.stderr.hasPrefix("ztoken: error: ") && result.stderr.contains(" failed: \(text)\n"),
                "\(syscall)=\(error) #\(n): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(syscall)=\(error) #\(n): a token was shown by a failed create")
            #expect(box.temporaries().isEmpty, "\(syscall)=\(error) #\(n): temp files left: \(box.temporaries())")
            let labels = try box.listJSON().compactMap { $0["label"] as? String }
            let unchanged: () -> Void = {
                // The tokens, not the bytes: a token discarded after a failed
                // display leaves its create and discard events in the log.
                #expect(box.indexTokens() == indexBefore, "\(syscall)=\(error) #\(n): the index changed")
                #expect(box.tree(box.vault + "/records") == recordsBefore, "\(syscall)=\(error) #\(n): records changed")
                // The label is free again: nothing half-made holds it.
                #expect(
                    !labels.contains("\(syscall)-\(n)"),
                    "\(syscall)=\(error) #\(n): the failed create left an active token nobody has seen")
            }
            // Also when printing the token fails: create discards the token
            // nobody has seen, so the vault is as before.
            unchanged()
            try box.checkVaultInvariants(live: live, revoked: [], context: "create with \(syscall)=\(error) #\(n)")
        }
        print("fault points (create, \(syscall)=\(error)): \(faults)")
        #expect(faults > 0)
    }

    @Test(arguments: [("fsync", "EIO"), ("write", "ENOSPC"), ("rename", "EIO")])
    func failingSyscallDuringRevoke(syscall: String, error: String) throws {
        let set = try #require(Strace.syscalls.first { $0.name == syscall }?.set)
        let box = try Sandbox()
        try box.initVault()
        var faults = 0
        for n in 1...Self.limit {
            let tokens = [try box.create("a\(n)"), try box.create("b\(n)")]
            let result = try Strace.run(box, inject: "\(set):error=\(error):when=\(n)", ["revoke", "--all", "--yes"])
            let active = try tokens.filter { try Strace.isActive($0, in: box.vault) }
            if result.status == 0 {
                #expect(active.isEmpty)
                break
            }
            faults += 1
            #expect(result.status == 74, "\(syscall)=\(error) #\(n): \(result)")
            #expect(active.isEmpty || active.count == tokens.count)
            try box.checkVaultInvariants(
                live: active, revoked: active.isEmpty ? tokens : [], context: "revoke with \(syscall)=\(error) #\(n)")
            if !active.isEmpty { #expect(try box.run(["revoke", "--all", "--yes"]).status == 0) }
        }
        print("fault points (revoke --all, \(syscall)=\(error)): \(faults)")
        #expect(faults > 0)
    }

    /// fsync interrupted by a signal has not made the data durable: it must
    /// be retried (or fail), never taken for success.
    @Test func anInterruptedFsyncIsNotTakenForSuccess() throws {
        let box = try Sandbox()
        try box.initVault()
        let strace = try #require(ExternalTools.find("strace"))
        let binary = try CLIHarness.requireBinary()
        func fsyncCount(_ inject: String?) throws -> (Int, CLIResult) {
            let log = box.root + "/fsync-\(UUID().uuidString).log"
            var arguments = ["-f", "-qq", "-o", log, "-e", "trace=fsync"]
            if let inject { arguments += ["-e", "inject=fsync:\(inject)"] }
            let result = try box.run(
                arguments + [binary, "create", "c-\(UUID().uuidString.prefix(8))"], executable: strace)
            let lines = String(decoding: box.bytes(log) ?? [], as: UTF8.self).split(separator: "\n").filter {
                $0.contains("fsync(")
            }
            return (lines.count, result)
        }
        let (baseline, _) = try fsyncCount(nil)
        let (interrupted, result) = try fsyncCount("error=EINTR:when=1")
        #expect(
            result.status == 74 || interrupted == baseline + 1,
            "fsync returned EINTR once, yet create reported success after \(interrupted) fsyncs (normally \(baseline)) — the interrupted one was never redone"
        )
    }
}
