// Removing the records of many revoked tokens at once (`revoke --all`).
//
// An unlink costs 50-70 µs on the ext4 this was measured on, and more as the
// directory grows: at 100,000 tokens deleting the records one by one took
// about 80 s after the index revocation was already durable. Revocation is
// the index write; the records only have to leave records/ (so no revoked
// token can be exported or backed up) and then be reclaimed. So a large
// revocation that leaves no active token:
//
//   1. makes an empty directory `.revoked-<pid>-<random>` in the vault and
//      swaps it with records/ in one renameat2(RENAME_EXCHANGE): at every
//      instant there is a records/ directory, and after the swap it is empty;
//   2. moves back anything in the old directory that is not a record revoked
//      now (files a user or another tool left there are not ours to delete);
//   3. fsyncs, then hands the old directory to a detached process that
//      unlinks its records and removes it, holding an flock(2) on it
//      meanwhile. Only names of records (`<id>.sealed`) are ever unlinked:
//      if step 2 failed halfway, what it did not move back stays.
//
// A `.revoked-…` directory whose flock is free is abandoned (the remover was
// killed, or could not start): every writer removes it under the vault lock,
// and `doctor` reports it. A crash between steps 1 and 2 can cost only stray
// files in records/; no active token's record is ever in the old directory,
// because this path is taken only when the index has no active token left.
#if canImport(Glibc)
import Glibc
#endif
internal import CProcessShims

extension VaultDirectory {
    /// The start of the name of a directory of revoked records being removed.
    static let revokedRecordsPrefix = ".revoked-"

    /// Empties records/ of everything `keep` refuses with one exchange of
    /// directories, and removes what was taken out in the background.
    /// Returns false, having changed nothing, when the exchange cannot be
    /// made (no space for the new directory, a file system without
    /// RENAME_EXCHANGE such as NFS or vfat, records/ locked by another tool):
    /// the caller then deletes the records one by one, which works there.
    func removeRecordsInBackground(keeping keep: (String) -> Bool) throws -> Bool {
        let recordsPath = displayPath(VaultLayout.records)
        let old = try recordsDirectory()
        guard flock(old, LOCK_EX | LOCK_NB) == 0 else { return false }
        let name = String(Self.revokedRecordsPrefix.dropLast()) + Leftovers.tag()
        let shown = displayPath(name)
        guard (try? Syscall.makeDirectoryAt(fd, name, displayPath: shown)) != nil else {
            _ = flock(old, LOCK_UN)
            return false
        }
        guard ztoken_rename_exchange(fd, name, fd, VaultLayout.records) == 0 else {
            try? Syscall.unlinkAt(fd, name, isDirectory: true, displayPath: shown)
            _ = flock(old, LOCK_UN)
            return false
        }
        // `old` is now the directory named `name`; records/ is the new one.
        forgetRecordsDirectory()
        defer { Syscall.closeQuietly(old) }
        let fresh = try recordsDirectory()
        var movedBack = false
        for entry in try Syscall.directoryEntries(old, displayPath: shown) where keep(entry) {
            try Syscall.renameAt(old, entry, fresh, entry, displayPath: recordsPath + "/" + entry)
            movedBack = true
        }
        if movedBack { try Syscall.sync(fresh, displayPath: recordsPath) }
        try Syscall.sync(fd, displayPath: path)
        if ztoken_remove_directory_in_background(fd, name, old) != 0 {
            // No process to hand it to: remove it here, as the slow path would.
            Self.removeFlatDirectory(old, named: name, in: fd, displayPath: shown)
        }
        return true
    }

    /// The `.revoked-…` directories nobody is removing (doctor).
    func abandonedRevokedRecords() -> [String] {
        guard let names = try? Syscall.directoryEntries(fd, displayPath: path) else { return [] }
        return names.filter { name in
            guard name.hasPrefix(Self.revokedRecordsPrefix),
                  let directory = try? Syscall.openAt(fd, name, flags: O_RDONLY | O_DIRECTORY, displayPath: displayPath(name))
            else { return false }
            defer { Syscall.closeQuietly(directory) }
            return flock(directory, LOCK_SH | LOCK_NB) == 0
        }
    }

    /// Removes one abandoned `.revoked-…` directory, unless a remover took it
    /// meanwhile. Returns false when it is still there (it held something
    /// other than files, which is not ours to delete).
    @discardableResult
    func removeAbandonedRevokedRecords(named name: String) -> Bool {
        let shown = displayPath(name)
        guard let directory = try? Syscall.openAt(fd, name, flags: O_RDONLY | O_DIRECTORY, displayPath: shown) else { return true }
        defer { Syscall.closeQuietly(directory) }
        guard flock(directory, LOCK_EX | LOCK_NB) == 0 else { return true }
        return Self.removeFlatDirectory(directory, named: name, in: fd, displayPath: shown)
    }

    /// Unlinks the records in an open directory, then the directory itself;
    /// best effort. Anything else (a file a failed move-back left behind, a
    /// subdirectory) is not ours to delete: it stays, and so does the
    /// directory, which `doctor` then reports. Returns true when it is gone.
    @discardableResult
    static func removeFlatDirectory(_ directory: Int32, named name: String, in parent: Int32, displayPath: String) -> Bool {
        for entry in (try? Syscall.directoryEntries(directory, displayPath: displayPath)) ?? []
        where VaultLayout.recordID(fromName: entry) != nil {
            try? Syscall.unlinkAt(directory, entry, displayPath: displayPath + "/" + entry)
        }
        return (try? Syscall.unlinkAt(parent, name, isDirectory: true, displayPath: displayPath)) != nil
    }
}
