// A vault directory held open by descriptor. Every file is reached with
// openat from here (never by re-resolving a path), opened O_NOFOLLOW, and
// checked with fstat for owner and mode before it is read. Writes go through
// AtomicFile; temp files live only in the top directory, so one readdir finds
// every leftover of an interrupted write.
#if canImport(Glibc)
import Glibc
#endif

final class VaultDirectory {
    let path: String
    let fd: Int32
    private var recordsFD: Int32 = -1

    /// Opens an existing vault directory and checks it is private to us.
    init(path: String) throws {
        self.path = path
        fd = try Syscall.openDirectory(path)
        do {
            try VaultPermissions.check(fd: fd, path: path, isDirectory: true)
        } catch {
            Syscall.closeQuietly(fd)
            throw error
        }
    }

    deinit {
        if recordsFD >= 0 { Syscall.closeQuietly(recordsFD) }
        Syscall.closeQuietly(fd)
    }

    func displayPath(_ name: String) -> String { path + "/" + name }

    // MARK: Whole files in the top directory

    /// Reads a vault file whole, or nil when it does not exist.
    func read(_ name: String, limit: Int = VaultLayout.smallFileLimit) throws -> [UInt8]? {
        let shown = displayPath(name)
        guard let file = try Syscall.openAt(fd, name, flags: O_RDONLY, displayPath: shown) else { return nil }
        defer { Syscall.closeQuietly(file) }
        let status = try VaultPermissions.check(fd: file, path: shown, isDirectory: false)
        return try Syscall.readAll(file, limit: limit, displayPath: shown, status: status, sizeIsFinal: true)
    }

    /// Atomically replaces (or creates) a vault file.
    func replace(_ name: String, with bytes: [UInt8]) throws {
        try AtomicFile.write(bytes, to: name, in: fd, displayPath: displayPath(name))
    }

    // MARK: Records

    /// The open records/ directory, checked once (its mode, no link), then kept open.
    func recordsDirectory() throws -> Int32 {
        if recordsFD >= 0 { return recordsFD }
        let shown = displayPath(VaultLayout.records)
        guard
            let opened = try Syscall.openAt(fd, VaultLayout.records, flags: O_RDONLY | O_DIRECTORY, displayPath: shown)
        else {
            throw VaultError.corrupt(path: shown, reason: "the records directory is missing")
        }
        do {
            try VaultPermissions.check(fd: opened, path: shown, isDirectory: true)
        } catch {
            Syscall.closeQuietly(opened)
            throw error
        }
        recordsFD = opened
        return opened
    }

    func recordPath(id: String) -> String { displayPath(VaultLayout.records + "/" + VaultLayout.recordName(id: id)) }

    /// Writes a token's sealed record durably: temp file in the top directory,
    /// renamed into records/, records/ fsynced.
    ///
    /// The top directory is not fsynced here: only the temp name left it, and
    /// the index write that always follows fsyncs it (one fsync fewer per
    /// create). The record itself and records/ are durable before returning.
    func writeRecord(id: String, bytes: [UInt8]) throws {
        try AtomicFile.write(
            bytes, to: VaultLayout.recordName(id: id), in: try recordsDirectory(),
            temporaryDirectory: fd, syncTemporaryDirectory: false, displayPath: recordPath(id: id))
    }

    func readRecord(id: String) throws -> [UInt8]? {
        guard
            let file = try Syscall.openAt(
                try recordsDirectory(), VaultLayout.recordName(id: id), flags: O_RDONLY,
                displayPath: recordPath(id: id))
        else {
            return nil
        }
        defer { Syscall.closeQuietly(file) }
        let status = try VaultPermissions.check(fd: file, path: recordPath(id: id), isDirectory: false)
        return try Syscall.readAll(
            file, limit: VaultLayout.recordLimit, displayPath: recordPath(id: id),
            status: status, sizeIsFinal: true)
    }

    /// Removes records; the directory is fsynced once after the batch.
    /// `onProgress`, when given, is told how many are gone: 0 at the start,
    /// then every 256 records, then all of them once records/ is durable.
    func removeRecords(ids: [String], onProgress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws {
        guard !ids.isEmpty else { return }
        let dir = try recordsDirectory()
        onProgress?(0, ids.count)
        for (position, id) in ids.enumerated() {
            try Syscall.unlinkAt(dir, VaultLayout.recordName(id: id), displayPath: recordPath(id: id))
            if position & 255 == 255, position + 1 < ids.count { onProgress?(position + 1, ids.count) }
        }
        try Syscall.sync(dir, displayPath: displayPath(VaultLayout.records))
        onProgress?(ids.count, ids.count)
    }

    /// Names of the files in records/ (for doctor).
    func recordFileNames() throws -> [String] {
        try Syscall.directoryEntries(try recordsDirectory(), displayPath: displayPath(VaultLayout.records))
    }

    /// Removes an arbitrary entry of records/ by name (doctor --repair).
    func removeRecordFile(named name: String) throws {
        let dir = try recordsDirectory()
        try Syscall.unlinkAt(dir, name, displayPath: displayPath(VaultLayout.records + "/" + name))
        try Syscall.sync(dir, displayPath: displayPath(VaultLayout.records))
    }

    // MARK: Leftovers and locking

    /// Temp files left by interrupted writes.
    func leftoverTemporaries() throws -> [String] {
        try Syscall.directoryEntries(fd, displayPath: path).filter { $0.hasPrefix(AtomicFile.temporaryPrefix) }
    }

    /// Removes leftover temp files. Call only under the lock: a temp file of
    /// a live writer exists only while that writer holds it.
    /// Only files are removed: a directory planted under a temp name is not
    /// ours to delete and must not stop every writer; `doctor` reports it.
    /// The records in `.revoked-…` directories of older versions go too.
    func removeLeftoverTemporaries() throws -> [String] {
        var removed: [String] = []
        let entries = try Syscall.directoryEntries(fd, displayPath: path)
        for name in entries where name.hasPrefix(Self.legacyRevokedPrefix) {
            removeLegacyRevokedRecords(named: name)
        }
        for name in entries where name.hasPrefix(AtomicFile.temporaryPrefix) {
            if isDirectory(name) { continue }
            try Syscall.unlinkAt(fd, name, displayPath: displayPath(name))
            removed.append(name)
        }
        if !removed.isEmpty { try Syscall.sync(fd, displayPath: path) }
        return removed
    }

    /// Takes the vault lock, then checks that the directory this object holds
    /// is still the one at `path`: a `restore --force` may have swapped in a
    /// new vault while we waited, and writing into the replaced one would lose
    /// the write when it is removed.
    func lock(timeout: Double, onWaiting: (String?) -> Void) throws -> FileLock {
        let lock: FileLock
        do {
            lock = try FileLock.acquire(in: fd, vaultPath: path, timeout: timeout, onWaiting: onWaiting)
        } catch {
            // A replaced vault that was already removed cannot even be locked.
            if !isStillAtPath() { throw VaultError.vaultReplaced(path: path) }
            throw error
        }
        guard isStillAtPath() else {
            lock.unlock()
            throw VaultError.vaultReplaced(path: path)
        }
        return lock
    }

    /// True while `path` still names the directory this object holds open.
    private func isStillAtPath() -> Bool {
        var held = stat()
        var current = stat()
        return fstat(fd, &held) == 0 && held.st_nlink > 0 && lstat(path, &current) == 0
            && held.st_dev == current.st_dev && held.st_ino == current.st_ino
    }

    /// True when a top-level entry is a directory (not following symlinks).
    func isDirectory(_ name: String) -> Bool {
        entryStatus(name).map { $0.st_mode & S_IFMT == S_IFDIR } ?? false
    }

    /// Status of a top-level entry without following symlinks (doctor).
    func entryStatus(_ name: String) -> stat? {
        var info = stat()
        return fstatat(fd, name, &info, AT_SYMLINK_NOFOLLOW) == 0 ? info : nil
    }
}

extension VaultDirectory {
    /// Writes many sealed records durably with one `syncfs(2)`: all temp
    /// files first, then one flush of the file system, then the renames and
    /// one fsync of each directory. On failure, temp files not yet renamed
    /// are removed; renamed records with no index entry are garbage that
    /// `doctor --repair` removes, as after an interrupted `create`.
    func writeRecords(_ records: [(id: String, bytes: [UInt8])]) throws {
        guard !records.isEmpty else { return }
        let recordsFD = try recordsDirectory()
        var temporaries: [(temp: String, id: String)] = []
        temporaries.reserveCapacity(records.count)
        defer {
            for pending in temporaries {
                try? Syscall.unlinkAt(fd, pending.temp, displayPath: displayPath(pending.temp))
            }
        }
        for record in records {
            let name = try record.bytes.withUnsafeBytes {
                try AtomicFile.createTemporary(
                    in: fd, for: VaultLayout.recordName(id: record.id), contents: $0,
                    displayPath: recordPath(id: record.id), sync: false)
            }
            temporaries.append((name, record.id))
        }
        try Syscall.syncFileSystem(fd, displayPath: path)
        while let pending = temporaries.last {
            try Syscall.renameAt(
                fd, pending.temp, recordsFD, VaultLayout.recordName(id: pending.id),
                displayPath: recordPath(id: pending.id))
            temporaries.removeLast()
        }
        try Syscall.sync(recordsFD, displayPath: displayPath(VaultLayout.records))
        try Syscall.sync(fd, displayPath: path)
    }
}

// MARK: Records moved aside by older versions

extension VaultDirectory {
    /// The start of the name of a directory (`.revoked-<pid>-<hex>`) into
    /// which older versions of ztoken moved the records of a large
    /// revocation, for a detached process to delete while holding its flock.
    static let legacyRevokedPrefix = ".revoked-"

    /// The `.revoked-…` directories that no remover of an older ztoken is
    /// still emptying, each with the names in it that are not records (doctor).
    func legacyRevokedDirectories() -> [(name: String, strangers: [String])] {
        guard let names = try? Syscall.directoryEntries(fd, displayPath: path) else { return [] }
        return names.filter { $0.hasPrefix(Self.legacyRevokedPrefix) }.compactMap { name in
            guard let directory = Self.openDirectory(name, in: fd, displayPath: displayPath(name)) else { return nil }
            defer { Syscall.closeQuietly(directory) }
            guard flock(directory, LOCK_SH | LOCK_NB) == 0 else { return nil }
            let entries = (try? Syscall.directoryEntries(directory, displayPath: displayPath(name))) ?? []
            return (name, entries.filter { VaultLayout.recordID(fromName: $0) == nil }.sorted())
        }
    }

    /// Unlinks the records in one `.revoked-…` directory, then the directory
    /// if nothing else is left in it; best effort. See the static version.
    @discardableResult
    func removeLegacyRevokedRecords(named name: String) -> Bool {
        Self.removeLegacyRevokedRecords(named: name, in: fd, displayPath: displayPath(name))
    }

    /// Unlinks the records (`<id>.sealed`) in the `.revoked-…` directory
    /// `name` of `parent`, then the directory itself. Anything else was not
    /// put there by ztoken: it stays, and so does the directory, for doctor
    /// to report. A directory whose flock a running remover of an older
    /// ztoken holds is left to it. Returns false when it is still there.
    @discardableResult
    static func removeLegacyRevokedRecords(named name: String, in parent: Int32, displayPath: String) -> Bool {
        var status = stat()
        guard fstatat(parent, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { return true }
        guard let directory = openDirectory(name, in: parent, displayPath: displayPath) else { return false }
        defer { Syscall.closeQuietly(directory) }
        guard flock(directory, LOCK_EX | LOCK_NB) == 0 else { return false }
        for entry in (try? Syscall.directoryEntries(directory, displayPath: displayPath)) ?? []
        where VaultLayout.recordID(fromName: entry) != nil {
            try? Syscall.unlinkAt(directory, entry, displayPath: displayPath + "/" + entry)
        }
        return (try? Syscall.unlinkAt(parent, name, isDirectory: true, displayPath: displayPath)) != nil
    }

    /// Opens a directory entry of `parent`, never through a symlink; nil
    /// when it is missing or not a directory.
    private static func openDirectory(_ name: String, in parent: Int32, displayPath: String) -> Int32? {
        try? Syscall.openAt(parent, name, flags: O_RDONLY | O_DIRECTORY, displayPath: displayPath)
    }
}
