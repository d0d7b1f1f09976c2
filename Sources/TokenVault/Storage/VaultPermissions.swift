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

/// A vault file or directory whose type, owner or mode `doctor` reports.
struct ModeProblem {
    enum Kind: Equatable {
        /// Group or other permission bits are set.
        case loose(mode: UInt32, safe: UInt32)
        /// Someone else owns it: reported, never touched.
        case foreignOwner(UInt32)
        /// A symbolic link where a vault file belongs: reported, never followed.
        case symlink
    }
    var path: String
    var kind: Kind
    var repaired = false
}

extension VaultPermissions {
    /// The vault directory, its own files (those of `checkFiles`) and every
    /// entry of `records/`, each looked at without following a link; with
    /// `repair`, a file or directory the user owns loses its group and other
    /// permission bits (0644 becomes 0600, 0755 0700). The change is made
    /// through a descriptor opened with O_NOFOLLOW and checked with fstat,
    /// so a link swapped in meanwhile is never followed.
    static func survey(_ path: String, repair: Bool) throws -> [ModeProblem] {
        let fd = try Syscall.openDirectory(path)
        defer { Syscall.closeQuietly(fd) }
        var problems: [ModeProblem] = []
        let info = try Syscall.fileStatus(fd, displayPath: path)
        if var problem = problem(info, path: path, isDirectory: true) {
            if repair { problem.repaired = fix(fd, info, problem) }
            problems.append(problem)
            if case .foreignOwner = problem.kind { return problems }
        }
        let files = [
            (VaultLayout.metadata, false), (VaultLayout.wrappedKey, false), (VaultLayout.index, false),
            (VaultLayout.log, false), (FileLock.fileName, false), (VaultLayout.records, true),
        ]
        for (name, isDirectory) in files {
            problems += try survey(name, in: fd, path: path + "/" + name, isDirectory: isDirectory, repair: repair)
        }
        return problems
    }

    /// One entry of `directory`; for `records/`, its entries too.
    private static func survey(
        _ name: String, in directory: Int32, path: String, isDirectory: Bool, repair: Bool
    ) throws -> [ModeProblem] {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return [] }
            throw VaultError.io(path: path, operation: "stat", errno: errno)
        }
        if info.st_mode & S_IFMT == S_IFLNK { return [ModeProblem(path: path, kind: .symlink)] }
        // Another type is a format problem, for the checks that read the file.
        guard info.st_mode & S_IFMT == (isDirectory ? S_IFDIR : S_IFREG) else { return [] }
        var problems: [ModeProblem] = []
        let opened = Syscall.retryingInterrupts {
            openat(
                directory, name,
                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | (isDirectory ? O_DIRECTORY : O_NONBLOCK))
        }
        defer { if opened >= 0 { Syscall.closeQuietly(opened) } }
        if var problem = problem(info, path: path, isDirectory: isDirectory) {
            if repair, opened >= 0, let current = try? Syscall.fileStatus(opened, displayPath: path),
                current.st_ino == info.st_ino, current.st_dev == info.st_dev
            {
                problem.repaired = fix(opened, current, problem)
            }
            problems.append(problem)
            if case .foreignOwner = problem.kind { return problems }
        }
        if isDirectory, opened >= 0 {
            for entry in try Syscall.directoryEntries(opened, displayPath: path) {
                problems += try survey(entry, in: opened, path: path + "/" + entry, isDirectory: false, repair: repair)
            }
        }
        return problems
    }

    private static func problem(_ info: stat, path: String, isDirectory: Bool) -> ModeProblem? {
        if info.st_uid != effectiveUser { return ModeProblem(path: path, kind: .foreignOwner(info.st_uid)) }
        guard info.st_mode & 0o077 != 0 else { return nil }
        return ModeProblem(
            path: path, kind: .loose(mode: info.st_mode & 0o7777, safe: info.st_mode & 0o7700))
    }

    /// Takes group and other bits away from the open `fd`, if it is still
    /// the user's own file of the same type; true when done.
    private static func fix(_ fd: Int32, _ info: stat, _ problem: ModeProblem) -> Bool {
        guard case .loose(_, let safe) = problem.kind, info.st_uid == effectiveUser else { return false }
        return fchmod(fd, safe) == 0
    }
}
