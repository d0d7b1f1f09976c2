// Refuses a vault that someone else could read or write, as ssh refuses a
// private key with loose permissions. Checks are made on the open descriptor
// (open, then fstat — never stat, then open), so a swap in between is useless.
#if canImport(Glibc)
import Glibc
#endif

enum VaultPermissions {
    /// Throws unless `fd` is owned by the effective user and has no group or
    /// other permission bits. Directories must be 0700-ish, files 0600-ish.
    /// Returns the file's status, so a reader need not ask for it again.
    @discardableResult
    static func check(fd: Int32, path: @autoclosure () -> String, isDirectory: Bool) throws -> stat {
        let info = try Syscall.fileStatus(fd, displayPath: path())
        try check(info, path: path(), isDirectory: isDirectory)
        return info
    }

    /// The files every command depends on, whether or not it opens them:
    /// each is checked with one `fstatat` that does not follow a link, so a
    /// symlinked or loose `vault-key.json` is refused by `list` as much as by
    /// `export`. A missing file is left to the command that needs it.
    static func checkFiles(in directory: Int32, path: String) throws {
        let files = [
            (VaultLayout.metadata, false), (VaultLayout.wrappedKey, false), (VaultLayout.index, false),
            (VaultLayout.log, false), (FileLock.fileName, false), (VaultLayout.records, true),
        ]
        for (name, isDirectory) in files {
            let shown = path + "/" + name
            var info = stat()
            guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno == ENOENT { continue }
                throw VaultError.io(path: shown, operation: "stat", errno: errno)
            }
            if info.st_mode & S_IFMT == S_IFLNK { throw VaultError.symlink(path: shown) }
            try check(info, path: shown, isDirectory: isDirectory)
        }
    }

    private static func check(_ info: stat, path: @autoclosure () -> String, isDirectory: Bool) throws {
        let type = info.st_mode & S_IFMT
        if isDirectory ? type != S_IFDIR : type != S_IFREG {
            throw VaultError.corrupt(path: path(), reason: isDirectory ? "not a directory" : "not a regular file")
        }
        if info.st_uid != effectiveUser {
            throw VaultError.foreignOwner(path: path(), owner: info.st_uid)
        }
        if info.st_mode & 0o077 != 0 {
            throw VaultError.unsafePermissions(path: path(), mode: info.st_mode, expected: isDirectory ? 0o700 : 0o600)
        }
    }

    /// Who we are; asked once, since a backup checks every record.
    private static let effectiveUser = geteuid()
}
