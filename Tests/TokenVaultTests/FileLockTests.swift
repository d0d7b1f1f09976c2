import Foundation
import TestSupport
import Testing

@testable import TokenVault

// FileLock: one writer at a time. A second acquirer (another process, or a
// second open file description in this one: flock locks belong to the open
// file description, so two opens in one process conflict too) is told once
// that it waits, gives up with `.busy` after its timeout, and gets the lock
// once the holder is gone. The lock file keeps its inode for ever (a waiter
// must never lock an orphaned inode) and the holder's pid is cleared on unlock.
#if canImport(Glibc)
import Glibc
#endif

@Suite struct FileLockTests {
    static func now() -> Double {
        var clock = timespec()
        clock_gettime(CLOCK_MONOTONIC, &clock)
        return Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9
    }

    /// Counts `onWaiting` calls and keeps what they were told.
    final class Waits: @unchecked Sendable {
        var holders: [String?] = []
    }

    @Test func aSecondOpenInThisProcessWaitsOnceThenTimesOutBusy() throws {
        let scratch = try ScratchDirectory()
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        let first = try FileLock.acquire(
            in: fd, vaultPath: scratch.path, timeout: 0,
            onWaiting: { _ in
                Issue.record("the first acquirer must not wait")
            })
        defer { first.unlock() }
        let waits = Waits()
        let start = Self.now()
        #expect(throws: VaultError.busy(path: scratch.file(".lock"), holder: "pid \(getpid())", seconds: 0.4)) {
            _ = try FileLock.acquire(
                in: fd, vaultPath: scratch.path, timeout: 0.4, onWaiting: { waits.holders.append($0) })
        }
        let elapsed = Self.now() - start
        #expect(waits.holders == ["pid \(getpid())"], "onWaiting must be called exactly once, naming the holder")
        #expect(elapsed >= 0.4 && elapsed < 2.0, "gave up after \(elapsed) s, not ~0.4 s")
    }

    @Test func timeoutZeroFailsAtOnce() throws {
        let scratch = try ScratchDirectory()
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        let first = try FileLock.acquire(in: fd, vaultPath: scratch.path, timeout: 0, onWaiting: { _ in })
        defer { first.unlock() }
        let start = Self.now()
        let waits = Waits()
        #expect(throws: VaultError.self) {
            _ = try FileLock.acquire(
                in: fd, vaultPath: scratch.path, timeout: 0, onWaiting: { waits.holders.append($0) })
        }
        #expect(waits.holders.count == 1)
        #expect(Self.now() - start < 0.5)
    }

    @Test func anotherProcessHoldingTheLockIsWaitedForThenTheLockIsAcquired() throws {
        let flockTool = try ExternalTools.locate("flock", package: "util-linux")
        let scratch = try ScratchDirectory()
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        // Make the lock file as ztoken does, then let flock(1) hold it.
        try FileLock.acquire(in: fd, vaultPath: scratch.path, timeout: 0, onWaiting: { _ in }).unlock()
        let inode = ScratchDirectory.inode(scratch.file(".lock"))
        let ready = scratch.file("ready")
        let holder = try Self.spawn([flockTool, scratch.file(".lock"), "/bin/sh", "-c", "echo > '\(ready)'; sleep 1.5"])
        defer { Self.reap(holder) }
        let deadline = Self.now() + 10
        while access(ready, F_OK) != 0 && Self.now() < deadline { usleep(10_000) }
        try #require(access(ready, F_OK) == 0, "flock(1) never took the lock")

        // Too short a timeout: busy. flock(1) writes no pid, so no holder is named.
        let waits = Waits()
        #expect(throws: VaultError.busy(path: scratch.file(".lock"), holder: nil, seconds: 0.2)) {
            _ = try FileLock.acquire(
                in: fd, vaultPath: scratch.path, timeout: 0.2, onWaiting: { waits.holders.append($0) })
        }
        #expect(waits.holders.count == 1)

        // Long enough: acquired once the holder exits.
        let longWaits = Waits()
        let start = Self.now()
        let lock = try FileLock.acquire(
            in: fd, vaultPath: scratch.path, timeout: 10, onWaiting: { longWaits.holders.append($0) })
        let elapsed = Self.now() - start
        #expect(longWaits.holders.count == 1, "onWaiting must be called exactly once")
        #expect(elapsed > 0.5 && elapsed < 8, "acquired after \(elapsed) s")
        lock.unlock()
        #expect(ScratchDirectory.inode(scratch.file(".lock")) == inode)
    }

    @Test func theLockFileKeepsItsInodeAndThePidIsClearedOnUnlock() throws {
        let scratch = try ScratchDirectory()
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        let lock = try FileLock.acquire(in: fd, vaultPath: scratch.path, timeout: 0, onWaiting: { _ in })
        let inode = try #require(ScratchDirectory.inode(scratch.file(".lock")))
        #expect(ScratchDirectory.mode(scratch.file(".lock")) == 0o600)
        #expect(scratch.bytes(".lock") == Array("pid \(getpid())\n".utf8))
        lock.unlock()
        #expect(scratch.bytes(".lock") == [], "the holder's pid must be cleared on unlock")
        #expect(
            ScratchDirectory.inode(scratch.file(".lock")) == inode, "unlock must never unlink or replace the lock file")
        for _ in 0..<3 {
            let again = try FileLock.acquire(in: fd, vaultPath: scratch.path, timeout: 0, onWaiting: { _ in })
            #expect(ScratchDirectory.inode(scratch.file(".lock")) == inode)
            again.unlock()
        }
        #expect(scratch.names() == [".lock"])
    }

    @Test func deinitReleasesTheLock() throws {
        let scratch = try ScratchDirectory()
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        do {
            _ = try FileLock.acquire(in: fd, vaultPath: scratch.path, timeout: 0, onWaiting: { _ in })
        }
        let lock = try FileLock.acquire(
            in: fd, vaultPath: scratch.path, timeout: 0,
            onWaiting: { _ in
                Issue.record("the dropped lock was still held")
            })
        lock.unlock()
        #expect(scratch.bytes(".lock") == [])
    }

    @Test func aDeadHoldersPidIsNotNamed() throws {
        let scratch = try ScratchDirectory()
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        // A holder killed with -9 leaves its pid behind; pid 2^22+1 is above
        // Linux's pid_max default, so no live process has it.
        scratch.write(Array("pid 4194305\n".utf8), to: ".lock")
        let holder = try FileLock.acquire(in: fd, vaultPath: scratch.path, timeout: 0, onWaiting: { _ in })
        holder.unlock()
        // Hold it through another open description, with a stale pid in the file.
        let other = open(scratch.file(".lock"), O_RDWR | O_CLOEXEC)
        defer { close(other) }
        #expect(flock(other, LOCK_EX | LOCK_NB) == 0)
        _ = Array("pid 4194305\n".utf8).withUnsafeBytes { pwrite(other, $0.baseAddress, $0.count, 0) }
        let waits = Waits()
        #expect(throws: VaultError.busy(path: scratch.file(".lock"), holder: nil, seconds: 0)) {
            _ = try FileLock.acquire(
                in: fd, vaultPath: scratch.path, timeout: 0, onWaiting: { waits.holders.append($0) })
        }
        #expect(waits.holders == [nil])
    }

    @Test func aLockFileOthersCanReadIsRefused() throws {
        let scratch = try ScratchDirectory()
        let fd = try scratch.open()
        defer { Syscall.closeQuietly(fd) }
        scratch.write([], to: ".lock", mode: 0o644)
        #expect(
            throws: VaultError.unsafePermissions(
                path: scratch.file(".lock"), mode: UInt32(S_IFREG) | 0o644, expected: 0o600)
        ) {
            _ = try FileLock.acquire(in: fd, vaultPath: scratch.path, timeout: 0, onWaiting: { _ in })
        }
    }

    // MARK: Helpers

    static func spawn(_ argv: [String]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for argument in cArgs { free(argument) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        guard status == 0 else { throw VaultError.io(path: argv[0], operation: "posix_spawn", errno: status) }
        return pid
    }

    static func reap(_ pid: pid_t) {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == 0 {
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }
}
