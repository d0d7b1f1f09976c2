// One writer at a time: an exclusive flock on the vault's permanent lock file.
// The lock file is never unlinked (a waiter would lock an orphaned inode), and
// never lives in /tmp. Like SwiftPM, try once without blocking, tell the user
// who holds it and that we are waiting, then poll until the timeout. The
// holder's pid is written into the file only to name it in that message.
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock held on the vault's lock file until `unlock()` or deinit.
final class FileLock {
    static let fileName = ".lock"

    private var fd: Int32
    private let displayPath: String

    private init(fd: Int32, displayPath: String) {
        self.fd = fd
        self.displayPath = displayPath
    }

    deinit { unlock() }

    /// Takes the exclusive lock on `.lock` in `directory`, creating the file
    /// 0600 if needed. Calls `onWaiting` once, with the holder's description,
    /// before it starts to wait; throws `.busy` after `timeout` seconds.
    static func acquire(
        in directory: Int32, vaultPath: String, timeout: Double,
        onWaiting: (String?) -> Void
    ) throws -> FileLock {
        let displayPath = vaultPath + "/" + fileName
        guard
            let fd = try Syscall.openAt(
                directory, fileName, flags: O_RDWR | O_CREAT, mode: 0o600,
                displayPath: displayPath)
        else {
            throw VaultError.io(path: displayPath, operation: "open", errno: ENOENT)
        }
        do {
            try VaultPermissions.check(fd: fd, path: displayPath, isDirectory: false)
            if try tryLock(fd, displayPath: displayPath) {
                return FileLock(fd: fd, displayPath: displayPath).recordingHolder()
            }
            let holder = describeHolder(fd)
            onWaiting(holder)
            var clock = timespec()
            clock_gettime(CLOCK_MONOTONIC, &clock)
            let deadline = Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9 + timeout
            var pause = timespec(tv_sec: 0, tv_nsec: 5_000_000)
            while true {
                if try tryLock(fd, displayPath: displayPath) {
                    return FileLock(fd: fd, displayPath: displayPath).recordingHolder()
                }
                clock_gettime(CLOCK_MONOTONIC, &clock)
                if Double(clock.tv_sec) + Double(clock.tv_nsec) / 1e9 >= deadline {
                    throw VaultError.busy(path: displayPath, holder: describeHolder(fd) ?? holder, seconds: timeout)
                }
                nanosleep(&pause, nil)
                // Back off to 50 ms so dozens of waiters do not spin.
                pause.tv_nsec = min(pause.tv_nsec * 2, 50_000_000)
            }
        } catch {
            Syscall.closeQuietly(fd)
            throw error
        }
    }

    /// Releases the lock, first clearing the holder's pid so a later waiter
    /// does not name it. The flock is released explicitly before the close:
    /// a close that fails must not leave the vault locked while this
    /// process goes on (a long `--out -` export, a library caller).
    func unlock() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        _ = Syscall.retryingInterrupts { flock(fd, LOCK_UN) }
        Syscall.closeQuietly(fd)
        fd = -1
    }

    private static func tryLock(_ fd: Int32, displayPath: String) throws -> Bool {
        if Syscall.retryingInterrupts({ flock(fd, LOCK_EX | LOCK_NB) }) == 0 { return true }
        if errno == EWOULDBLOCK { return false }
        throw Syscall.fail(displayPath, "flock")
    }

    /// Writes "pid N" into the lock file so a waiter can say who holds it.
    /// Best effort: the lock, not this text, is what excludes writers.
    private func recordingHolder() -> FileLock {
        let text = Array("pid \(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 {
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        return self
    }

    private static func describeHolder(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).trimmingSuffix(while: { $0 == "\n" })
        guard text.hasPrefix("pid "), let pid = Int32(text.dropFirst(4)) else { return nil }
        // A holder killed with -9 leaves its pid behind; name only a live one.
        guard kill(pid, 0) == 0 || errno == EPERM else { return nil }
        return text
    }
}

extension String {
    func trimmingSuffix(while predicate: (Character) -> Bool) -> String {
        var copy = self
        while let last = copy.last, predicate(last) { copy.removeLast() }
        return copy
    }
}
