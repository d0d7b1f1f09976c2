internal import CProcessShims

// Every raw file system call TokenVault makes goes through this file, as in
// swift-system: each wrapper retries EINTR in one place, turns errno into a
// `VaultError` that names the path, and maps ELOOP from O_NOFOLLOW to
// `.symlink`. Nothing outside Storage/ touches Glibc file calls.
#if canImport(Glibc)
import Glibc
#endif

#if DEBUG
/// Test-only fault injection: lets unit tests fail the Nth write, fsync or
/// rename the way strace's `inject=` does for the real binary. Compiled only
/// in debug builds (as swift-system compiles its mocking only under
/// `ENABLE_MOCKING`): a release build has no hook and no check on any call.
enum FaultInjection {
    enum Operation: Sendable { case write, fsync, rename, unlink, open }
    /// Called before each operation; a non-nil errno makes it fail with that errno.
    nonisolated(unsafe) static var hook: (@Sendable (Operation) -> Int32?)? = nil

    @inline(__always)
    static func injected(_ operation: Operation) -> Int32? {
        guard let hook else { return nil }
        return hook(operation)
    }
}
#endif

enum Syscall {
    /// Runs `body` until it does not fail with EINTR.
    @inline(__always)
    static func retryingInterrupts<T: BinaryInteger>(_ body: () -> T) -> T {
        while true {
            let result = body()
            if result == -1 && errno == EINTR { continue }
            return result
        }
    }

    static func fail(_ path: String, _ operation: String, _ code: Int32 = errno) -> VaultError {
        code == ELOOP ? .symlink(path: path) : .io(path: path, operation: operation, errno: code)
    }

    /// `open(2)` of a directory, refusing a symlink as its last component.
    static func openDirectory(_ path: String) throws -> Int32 {
        let fd = retryingInterrupts { open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 {
            if errno == ENOENT { throw VaultError.vaultNotFound(path: path) }
            if errno == ENOTDIR {
                // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR, not
                // ELOOP: tell a symlinked vault (77) from a plain file (65).
                var info = stat()
                if lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK { throw VaultError.symlink(path: path) }
                throw VaultError.corrupt(path: path, reason: "not a directory")
            }
            throw fail(path, "open")
        }
        return fd
    }

    /// `openat(2)` relative to a directory descriptor. ENOENT is returned as nil
    /// so callers decide what a missing file means.
    ///
    /// Here and in the reads below `displayPath` is built only for an error,
    /// since a backup opens every record and most opens succeed.
    static func openAt(
        _ directory: Int32, _ name: String, flags: Int32, mode: mode_t = 0o600,
        displayPath: @autoclosure () -> String
    ) throws -> Int32? {
        #if DEBUG
        if let code = FaultInjection.injected(.open) { throw fail(displayPath(), "open", code) }
        #endif
        let fd = retryingInterrupts { openat(directory, name, flags | O_CLOEXEC | O_NOFOLLOW, mode) }
        if fd < 0 {
            let code = errno
            if code == ENOENT { return nil }
            if code == EEXIST { throw VaultError.alreadyExists(path: displayPath()) }
            if code == ENOTDIR && flags & O_DIRECTORY != 0 {
                // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR, not
                // ELOOP: tell a planted symlink (77) from a plain file (65).
                var info = stat()
                if fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 && info.st_mode & S_IFMT == S_IFLNK {
                    throw VaultError.symlink(path: displayPath())
                }
                throw VaultError.corrupt(path: displayPath(), reason: "not a directory")
            }
            throw fail(displayPath(), "open", code)
        }
        return fd
    }

    static func fileStatus(_ fd: Int32, displayPath: @autoclosure () -> String) throws -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            throw fail(displayPath(), "stat", code)
        }
        return info
    }

    /// Reads a whole file from its descriptor, refusing anything larger than
    /// `limit`. `status`, when the caller has it, saves an fstat.
    /// `sizeIsFinal`: the file cannot grow while it is read (a vault file
    /// under the lock: writers replace them by rename, never append), so
    /// reading stops at the size fstat gave instead of asking once more for
    /// the end of file; other files are read to their end.
    static func readAll(
        _ fd: Int32, limit: Int, displayPath: @autoclosure () -> String, status: stat? = nil,
        sizeIsFinal: Bool = false
    ) throws -> [UInt8] {
        let info = try status ?? fileStatus(fd, displayPath: displayPath())
        guard info.st_size <= limit else {
            throw VaultError.corrupt(path: displayPath(), reason: "file is larger than \(limit) bytes")
        }
        // One byte more than the size, to see end of file in the same read;
        // read straight into uninitialized storage (no zero-fill of a
        // megabytes-large index just to overwrite it).
        let size = max(Int(info.st_size), 0)
        var full = false
        var bytes = try readArray(
            fd, count: size + 1, expecting: sizeIsFinal ? size : nil, displayPath: displayPath(), full: &full)
        // The file grew after fstat: read on, in growing steps, up to the limit.
        while full {
            guard bytes.count < limit + 1 else {
                throw VaultError.corrupt(path: displayPath(), reason: "file is larger than \(limit) bytes")
            }
            let step = min(max(bytes.count, 4096), limit + 1 - bytes.count)
            bytes.append(
                contentsOf: try readArray(fd, count: step, expecting: nil, displayPath: displayPath(), full: &full))
        }
        return bytes
    }

    /// Up to `count` bytes, fewer at end of file; `full` tells whether all came.
    /// Reading stops once `expecting` bytes (a final size) have come, rather
    /// than asking again for the end of the file.
    private static func readArray(
        _ fd: Int32, count: Int, expecting: Int?, displayPath: @autoclosure () -> String, full: inout Bool
    ) throws -> [UInt8] {
        let bytes = try [UInt8](unsafeUninitializedCapacity: count) { buffer, filled in
            filled = try readAvailable(
                fd, into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[..<count])),
                expecting: expecting, displayPath: displayPath())
        }
        full = bytes.count == count
        return bytes
    }

    /// Reads until `buffer` is full, the file ends or `expecting` bytes came; the count read.
    private static func readAvailable(
        _ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, expecting: Int?,
        displayPath: @autoclosure () -> String
    ) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = retryingInterrupts { read(fd, buffer.baseAddress! + filled, buffer.count - filled) }
            if n < 0 {
                let code = errno
                throw fail(displayPath(), "read", code)
            }
            if n == 0 { break }
            filled += n
            if filled == expecting { break }
        }
        return filled
    }

    /// One `read(2)` into `buffer`, EINTR retried; 0 means end of file.
    static func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, displayPath: String) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let n = retryingInterrupts { read(fd, base, buffer.count) }
        if n < 0 { throw fail(displayPath, "read") }
        return n
    }

    /// Writes every byte, looping over short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, displayPath: String) throws {
        var offset = 0
        while offset < bytes.count {
            #if DEBUG
            if let code = FaultInjection.injected(.write) { throw fail(displayPath, "write", code) }
            #endif
            let n = retryingInterrupts { write(fd, bytes.baseAddress! + offset, bytes.count - offset) }
            if n < 0 { throw fail(displayPath, "write") }
            offset += n
        }
    }

    /// `fsync(2)`. A failure is final: the kernel may already have dropped the
    /// dirty pages, so retrying could report success for data that is gone.
    /// EINTR is not a failure but an fsync that did not happen: it is redone
    /// (as SQLite does), never taken for success.
    static func sync(_ fd: Int32, displayPath: String) throws {
        #if DEBUG
        if let code = FaultInjection.injected(.fsync) { throw fail(displayPath, "fsync", code) }
        #endif
        if retryingInterrupts({ fsync(fd) }) != 0 { throw fail(displayPath, "fsync") }
    }

    /// `syncfs(2)`: flushes the whole file system holding `fd` and reports
    /// any write-back error since the descriptor was opened (Linux ≥ 5.8).
    /// Never retried, for the same reason as `sync`.
    static func syncFileSystem(_ fd: Int32, displayPath: String) throws {
        #if DEBUG
        if let code = FaultInjection.injected(.fsync) { throw fail(displayPath, "syncfs", code) }
        #endif
        if retryingInterrupts({ ztoken_syncfs(fd) }) != 0 { throw fail(displayPath, "syncfs") }
    }

    /// `close(2)`, checked: on some file systems the write error surfaces here.
    /// Never retried, as on Linux the descriptor is gone even on EINTR.
    static func closeChecked(_ fd: Int32, displayPath: String) throws {
        if close(fd) != 0 && errno != EINTR { throw fail(displayPath, "close") }
    }

    /// `close(2)` where an error cannot change the outcome (read-only files, cleanup).
    static func closeQuietly(_ fd: Int32) { _ = close(fd) }

    static func renameAt(
        _ fromDirectory: Int32, _ from: String, _ toDirectory: Int32, _ to: String, displayPath: String
    ) throws {
        #if DEBUG
        if let code = FaultInjection.injected(.rename) { throw fail(displayPath, "rename", code) }
        #endif
        if retryingInterrupts({ renameat(fromDirectory, from, toDirectory, to) }) != 0 {
            throw fail(displayPath, "rename")
        }
    }

    /// `renameat2(2)` with RENAME_EXCHANGE: swaps `first` and `second` in
    /// `directory` in one step, or, failing, changes neither.
    static func exchange(_ directory: Int32, _ first: String, _ second: String, displayPath: String) throws {
        #if DEBUG
        if let code = FaultInjection.injected(.rename) { throw fail(displayPath, "exchange", code) }
        #endif
        if ztoken_rename_exchange(directory, first, directory, second) != 0 { throw fail(displayPath, "exchange") }
    }

    /// `unlinkat(2)`; a file that is already gone is not an error.
    static func unlinkAt(_ directory: Int32, _ name: String, isDirectory: Bool = false, displayPath: String) throws {
        #if DEBUG
        if let code = FaultInjection.injected(.unlink) { throw fail(displayPath, "unlink", code) }
        #endif
        if retryingInterrupts({ unlinkat(directory, name, isDirectory ? AT_REMOVEDIR : 0) }) != 0 && errno != ENOENT {
            throw fail(displayPath, "unlink")
        }
    }

    /// `mkdirat(2)` with mode 0700 (then `fchmodat`, so the umask cannot widen or narrow it).
    static func makeDirectoryAt(_ directory: Int32, _ name: String, displayPath: String) throws {
        if retryingInterrupts({ mkdirat(directory, name, 0o700) }) != 0 {
            if errno == EEXIST { throw VaultError.alreadyExists(path: displayPath) }
            throw fail(displayPath, "mkdir")
        }
        if fchmodat(directory, name, 0o700, 0) != 0 { throw fail(displayPath, "chmod") }
    }

    /// The names in a directory, without "." and "..".
    static func directoryEntries(_ directory: Int32, displayPath: String) throws -> [String] {
        let copy = dup(directory)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { closeQuietly(copy) }
            throw fail(displayPath, "opendir")
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
