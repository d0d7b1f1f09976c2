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
        return info
    }

    /// Who we are; asked once (a backup checks 100,000 records).
    private static let effectiveUser = geteuid()
}
