// Replaces a file so that, at every instant, the name holds either the old
// contents or the new, complete and durable: git's lockfile order. Temp files
// are created 0600 with O_EXCL|O_NOFOLLOW in a directory we hold open, written
// whole, fsynced, renamed over the target, and the directory is fsynced. A
// failed step removes the temp file and leaves the old file in place; a failed
// fsync is never retried.
#if canImport(Glibc)
import Glibc
#endif

enum AtomicFile {
    /// Prefix of every temp file; `doctor` and the next writer sweep leftovers.
    static let temporaryPrefix = ".tmp-"

    /// Writes `contents` to a new temp file in `temporaryDirectory`, then
    /// renames it to `name` in `directory` (the same directory unless the two
    /// descriptors differ, always on one file system), then fsyncs the
    /// directories involved.
    static func write(_ contents: UnsafeRawBufferPointer,
                      to name: String, in directory: Int32,
                      temporaryDirectory: Int32? = nil,
                      displayPath: String) throws {
        let tempDirectory = temporaryDirectory ?? directory
        let tempName = try createTemporary(in: tempDirectory, for: name, contents: contents, displayPath: displayPath)
        do {
            try Syscall.renameAt(tempDirectory, tempName, directory, name, displayPath: displayPath)
        } catch {
            try? Syscall.unlinkAt(tempDirectory, tempName, displayPath: displayPath)
            throw error
        }
        try Syscall.sync(directory, displayPath: displayPath)
        if tempDirectory != directory {
            try Syscall.sync(tempDirectory, displayPath: displayPath)
        }
    }

    static func write(_ bytes: [UInt8], to name: String, in directory: Int32,
                      temporaryDirectory: Int32? = nil, displayPath: String) throws {
        try bytes.withUnsafeBytes {
            try write($0, to: name, in: directory, temporaryDirectory: temporaryDirectory, displayPath: displayPath)
        }
    }

    /// Creates, fills and fsyncs a uniquely named temp file; returns its name.
    /// On any failure the temp file is removed before the error is thrown.
    /// `sync: false` is only for batches that make every temp file durable
    /// with one `syncfs` before renaming any of them.
    static func createTemporary(in directory: Int32, for name: String,
                                contents: UnsafeRawBufferPointer, displayPath: String,
                                sync: Bool = true) throws -> String {
        let tempName = temporaryPrefix + name + Leftovers.tag()
        guard let fd = try Syscall.openAt(directory, tempName, flags: O_WRONLY | O_CREAT | O_EXCL,
                                          mode: 0o600, displayPath: displayPath) else {
            throw VaultError.io(path: displayPath, operation: "create", errno: ENOENT)
        }
        do {
            // O_CREAT's mode is filtered by the umask; make 0600 exact.
            if fchmod(fd, 0o600) != 0 { throw Syscall.fail(displayPath, "chmod") }
            try Syscall.writeAll(fd, contents, displayPath: displayPath)
            if sync { try Syscall.sync(fd, displayPath: displayPath) }
        } catch {
            Syscall.closeQuietly(fd)
            try? Syscall.unlinkAt(directory, tempName, displayPath: displayPath)
            throw error
        }
        do {
            try Syscall.closeChecked(fd, displayPath: displayPath)
        } catch {
            try? Syscall.unlinkAt(directory, tempName, displayPath: displayPath)
            throw error
        }
        return tempName
    }
}
