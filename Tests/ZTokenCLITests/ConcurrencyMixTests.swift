import Foundation
import TestSupport
import Testing

@testable import TokenVault

// Many ztoken processes at once, each doing a mix of creates, revokes,
// exports and backups: the final vault equals a serial replay of the
// operations that reported success, the lock file is never replaced, and a
// writer killed with -9 while holding the lock does not block the next one.
// (scripts/concurrency runs the same mix bigger.)
#if canImport(Glibc)
import Glibc
#endif

/// What the workers reported, collected across threads.
final class Ledger: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var created: [String: String] = [:]  // label → token
    private(set) var revoked: Set<String> = []  // labels
    private(set) var exports: [(label: String, directory: String)] = []
    private(set) var backups: [String] = []
    private(set) var problems: [String] = []

    func record(_ body: (Ledger) -> Void) {
        lock.lock()
        body(self)
        lock.unlock()
    }
    func created(_ label: String, _ token: String) { record { $0.created[label] = token } }
    func revoked(_ label: String) { record { $0.revoked.insert(label) } }
    func exported(_ label: String, to directory: String) { record { $0.exports.append((label, directory)) } }
    func backedUp(_ path: String) { record { $0.backups.append(path) } }
    func problem(_ text: String) { record { $0.problems.append(text) } }
}

@Suite struct ConcurrencyMixTests {
    static let workers = 8
    static let operations = 10

    @Test func aMixOfWritersEqualsASerialReplayOfWhatTheyReported() throws {
        let box = try Sandbox()
        try box.initVault(["--server", "https://z.example.com"])
        let lockInode = FileStatus.inode(box.vault + "/.lock")
        let ledger = Ledger()
        DispatchQueue.concurrentPerform(iterations: Self.workers) { worker in
            var mine: [String] = []
            for step in 0..<Self.operations {
                let label = "w\(worker)-\(step)"
                do {
                    switch step % 5 {
                    case 0, 1, 3:
                        let result = try box.run(["create", label, "--lock-timeout", "120"])
                        if result.status == 0 {
                            ledger.created(label, result.stdout.trimmingCharacters(in: .newlines))
                            mine.append(label)
                        } else {
                            ledger.problem("create \(label): \(result)")
                        }
                    case 2:
                        guard let victim = mine.first else { continue }
                        let result = try box.run(["revoke", victim, "--yes", "--lock-timeout", "120"])
                        if result.status == 0 {
                            ledger.revoked(victim)
                            mine.removeFirst()
                        } else {
                            ledger.problem("revoke \(victim): \(result)")
                        }
                    default:
                        if step % 2 == 0, let label = mine.last {
                            let directory = box.root + "/export-\(worker)-\(step)"
                            let result = try box.run([
                                "export", label, "--vault-passphrase-file", box.passphraseFile,
                                "--plain-dir", directory,
                            ])
                            if result.status == 0 {
                                ledger.exported(label, to: directory)
                            } else {
                                ledger.problem("export \(label): \(result)")
                            }
                        } else {
                            let out = box.root + "/backup-\(worker)-\(step).age"
                            let result = try box.run([
                                "backup", "--out", out, "--passphrase-file", box.passphraseFile,
                                "--lock-timeout", "120",
                            ])
                            if result.status == 0 { ledger.backedUp(out) } else { ledger.problem("backup: \(result)") }
                        }
                    }
                } catch {
                    ledger.problem("\(label): \(error)")
                }
            }
        }
        #expect(ledger.problems.isEmpty, "\(ledger.problems)")
        #expect(
            !ledger.created.isEmpty && !ledger.revoked.isEmpty && !ledger.exports.isEmpty && !ledger.backups.isEmpty)

        // The serial replay: every reported create present unless a reported
        // revoke removed it; every reported revoke revoked.
        let live = ledger.created.filter { !ledger.revoked.contains($0.key) }
        let gone = ledger.created.filter { ledger.revoked.contains($0.key) }
        try box.checkVaultInvariants(live: Array(live.values), revoked: Array(gone.values), context: "after the mix")
        let listed = try box.listJSON(all: true)
        let active = Set(listed.filter { $0["state"] as? String == "active" }.compactMap { $0["label"] as? String })
        #expect(active == Set(live.keys))
        #expect(Set(listed.compactMap { $0["label"] as? String }) == Set(ledger.created.keys))
        #expect(FileStatus.inode(box.vault + "/.lock") == lockInode, "the lock file was replaced")

        for (label, directory) in ledger.exports {
            let properties = String(decoding: box.bytes(directory + "/zbot/conf/zbot.properties") ?? [], as: UTF8.self)
            #expect(properties.contains("zephyrApiToken=\(ledger.created[label] ?? "?")\n"), "export of \(label)")
        }
        for (n, backup) in ledger.backups.enumerated() {
            let restored = box.root + "/restored-\(n)"
            let result = try box.run([
                "restore", backup, "--passphrase-file", box.passphraseFile, "--vault", restored,
                "--vault-passphrase-file", box.passphraseFile,
            ])
            #expect(result.status == 0, "restore \(backup): \(result)")
            #expect(try box.run(["doctor", "--vault", restored]).status == 0)
        }
    }

    @Test func aWriterKilledWhileHoldingTheLockDoesNotBlockTheNextOne() throws {
        let box = try Sandbox()
        try box.initVault()
        let before = try box.create("before")
        let strace = try #require(ExternalTools.find("strace"))
        let lockFile = box.vault + "/.lock"
        let inode = FileStatus.inode(lockFile)
        // Holds the lock, stopped at its first fsync, for up to a minute.
        let holder = try box.spawn(
            [
                "-f", "-qq", "-o", "/dev/null", "-e", "inject=fsync:delay_enter=60000000:when=1",
                try CLIHarness.requireBinary(), "create", "victim",
            ], executable: strace)
        var pid: pid_t?
        for _ in 0..<500 where pid == nil {
            let text = String(decoding: box.bytes(lockFile) ?? [], as: UTF8.self)
            if text.hasPrefix("pid "), let n = pid_t(text.dropFirst(4).trimmingCharacters(in: .newlines)) {
                pid = n
            } else {
                usleep(20_000)
            }
        }
        let victim = try #require(pid, "the writer never took the lock")
        #expect(kill(victim, SIGKILL) == 0)
        kill(holder.pid, SIGKILL)  // strace itself would sit out its delay
        _ = holder.wait()
        let started = Date()
        let next = try box.run(["create", "next"])
        #expect(next.status == 0, "\(next)")
        #expect(Date().timeIntervalSince(started) < 5, "the next writer waited for a dead one")
        #expect(FileStatus.inode(lockFile) == inode)
        try box.checkVaultInvariants(
            live: [before, next.stdout.trimmingCharacters(in: .newlines)], revoked: [],
            context: "after a writer was killed holding the lock")
    }
}
