// Replaces a file so that, at every instant, the name holds either the old
// contents or the new, complete and durable: git's lockfile order. Temp files
// are created 0600 with O_EXCL|O_NOFOLLOW in a directory we hold open, written
// whole, fsynced, renamed over the target, and the directory is fsynced. A
// failed step removes the temp file and leaves the old file in place (a failed
// directory fsync, after the rename, puts the old file back); a failed fsync
// is never retried.
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
    static func write(
        _ contents: UnsafeRawBufferPointer,
        to name: String, in directory: Int32,
        temporaryDirectory: Int32? = nil,
        syncTemporaryDirectory: Bool = true,
        displayPath: String
    ) throws {
        try write(
            pieces: [contents], to: name, in: directory, temporaryDirectory: temporaryDirectory,
            syncTemporaryDirectory: syncTemporaryDirectory, displayPath: displayPath)
    }

    /// `write`, of contents given as pieces written one after another.
    static func write(
        pieces: [UnsafeRawBufferPointer],
        to name: String, in directory: Int32,
        temporaryDirectory: Int32? = nil,
        syncTemporaryDirectory: Bool = true,
        displayPath: String
    ) throws {
        let tempDirectory = temporaryDirectory ?? directory
        let tempName = try createTemporary(in: tempDirectory, for: name, pieces: pieces, displayPath: displayPath)
        // The directory fsync comes after the rename, so when it fails the new
        // file is already under the name. Keep the old one reachable under a
        // second temp name (a hard link, swept like any temp file if we die)
        // until the new one is durable, so a failed write can put it back.
        let backupName = temporaryPrefix + name + "-old-" + Hex.encode(Sodium.randomBytes(6))
        let hadOldFile: Bool
        if linkat(directory, name, tempDirectory, backupName, 0) == 0 {
            hadOldFile = true
        } else if errno == ENOENT {
            hadOldFile = false
        } else {
            // Without the backup name a failed directory fsync could not put
            // the old file back: fail now, while nothing has changed.
            let failure = Syscall.fail(displayPath, "link")
            try? Syscall.unlinkAt(tempDirectory, tempName, displayPath: displayPath)
            throw failure
        }
        do {
            try Syscall.renameAt(tempDirectory, tempName, directory, name, displayPath: displayPath)
        } catch {
            try? Syscall.unlinkAt(tempDirectory, tempName, displayPath: displayPath)
            if hadOldFile { try? Syscall.unlinkAt(tempDirectory, backupName, displayPath: displayPath) }
            throw error
        }
        do {
            try Syscall.sync(directory, displayPath: displayPath)
            if tempDirectory != directory && syncTemporaryDirectory {
                try Syscall.sync(tempDirectory, displayPath: displayPath)
            }
        } catch {
            // Best effort, never retrying the fsync: whatever reached the disk,
            // the name shows the old file (or none) to every later reader.
            if hadOldFile {
                try? Syscall.renameAt(tempDirectory, backupName, directory, name, displayPath: displayPath)
            } else {
                try? Syscall.unlinkAt(directory, name, displayPath: displayPath)
            }
            throw error
        }
        if hadOldFile { try? Syscall.unlinkAt(tempDirectory, backupName, displayPath: displayPath) }
    }

    static func write(
        _ bytes: [UInt8], to name: String, in directory: Int32,
        temporaryDirectory: Int32? = nil, syncTemporaryDirectory: Bool = true,
        displayPath: String
    ) throws {
        try bytes.withUnsafeBytes {
            try write(
                $0, to: name, in: directory, temporaryDirectory: temporaryDirectory,
                syncTemporaryDirectory: syncTemporaryDirectory, displayPath: displayPath)
        }
    }

    /// Creates, fills and fsyncs a uniquely named temp file; returns its name.
    /// On any failure the temp file is removed before the error is thrown.
    /// `sync: false` is only for batches that make every temp file durable
    /// with one `syncfs` before renaming any of them.
    static func createTemporary(
        in directory: Int32, for name: String,
        contents: UnsafeRawBufferPointer, displayPath: String,
        sync: Bool = true
    ) throws -> String {
        try createTemporary(in: directory, for: name, pieces: [contents], displayPath: displayPath, sync: sync)
    }

    static func createTemporary(
        in directory: Int32, for name: String,
        pieces: [UnsafeRawBufferPointer], displayPath: String,
        sync: Bool = true
    ) throws -> String {
        let tempName = temporaryPrefix + name + Leftovers.tag()
        guard
            let fd = try Syscall.openAt(
                directory, tempName, flags: O_WRONLY | O_CREAT | O_EXCL,
                mode: 0o600, displayPath: displayPath)
        else {
            throw VaultError.io(path: displayPath, operation: "create", errno: ENOENT)
        }
        do {
            // O_CREAT's mode is filtered by the umask; make 0600 exact.
            if fchmod(fd, 0o600) != 0 { throw Syscall.fail(displayPath, "chmod") }
            for piece in pieces { try Syscall.writeAll(fd, piece, displayPath: displayPath) }
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
