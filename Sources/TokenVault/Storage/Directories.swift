// Directories around a vault: its parent and name, making the parents of a
// new vault or output, and removing a tree this process made.
#if canImport(Glibc)
import Glibc
#endif

enum Directories {
    static func splitParent(of path: String) throws -> (String, String) {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", trimmed) }
        let name = String(trimmed[trimmed.index(after: slash)...])
        let parent = slash == trimmed.startIndex ? "/" : String(trimmed[..<slash])
        guard !name.isEmpty, name != ".", name != ".." else {
            throw VaultError.invalidArgument(
                "\(VaultError.quoted(path)) cannot be a vault location",
                hint: "name a directory, e.g. ~/.local/share/ztoken")
        }
        return (parent, name)
    }

    /// `mkdir -p`, creating missing components 0700.
    /// Each directory made is fsynced into its parent, so a vault reported
    /// as made cannot vanish with a parent that never reached the disk.
    static func make(_ path: String) throws {
        var parent = path.hasPrefix("/") ? "/" : "."
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o700) == 0 {
                let parentFD = try Syscall.openDirectory(parent)
                defer { Syscall.closeQuietly(parentFD) }
                try Syscall.sync(parentFD, displayPath: parent)
            } else if errno != EEXIST {
                throw Syscall.fail(current, "mkdir")
            }
            parent = current
        }
    }

    /// Renames a staged vault into the location `name`: rename(2) replaces
    /// an empty directory atomically and fails with ENOTEMPTY/EEXIST if
    /// anything appeared there meanwhile (73). The caller fsyncs `parent`.
    static func renameIntoPlace(_ stagingName: String, as name: String, in parent: Int32, path: String) throws {
        #if DEBUG
        if let code = FaultInjection.injected(.rename) { throw Syscall.fail(path, "rename", code) }
        #endif
        if renameat(parent, stagingName, parent, name) != 0 {
            if errno == ENOTEMPTY || errno == EEXIST { throw VaultError.alreadyExists(path: path) }
            throw Syscall.fail(path, "rename")
        }
    }

    /// How deep `removeTree` goes: a vault is two levels deep and git's
    /// tree under ten; a planted tree deeper than this is left, not walked.
    static let removalDepthLimit = 32

    /// Removes a tree this process made or owns (a staging directory, a
    /// vault swapped aside, a failed clone) through descriptors opened
    /// O_NOFOLLOW from `parent`, so a planted symlink is removed as a name,
    /// never followed. It goes on past a failure, then throws the first one.
    /// With `keepingRepository`, a top-level `.git` and `.gitignore` stay, and
    /// so does the directory: restore and rekey move the vault's repository
    /// into their staging directory, and one they could not give back is the
    /// user's history (SPEC §10).
    static func removeTree(
        parent: Int32, name: String, path: String, keepingRepository: Bool, depth: Int = 0
    ) throws {
        guard let fd = try Syscall.openAt(parent, name, flags: O_RDONLY | O_DIRECTORY, displayPath: path) else {
            return
        }
        var failure: Error?
        func attempt(_ step: () throws -> Void) {
            do { try step() } catch { failure = failure ?? error }
        }
        var entries: [String] = []
        attempt { entries = try Syscall.directoryEntries(fd, displayPath: path) }
        for entry in entries where !(keepingRepository && [".git", ".gitignore"].contains(entry)) {
            var info = stat()
            if fstatat(fd, entry, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFDIR {
                guard depth < removalDepthLimit else {
                    attempt { throw VaultError.corrupt(path: path + "/" + entry, reason: "nested too deep to remove") }
                    continue
                }
                attempt {
                    try removeTree(
                        parent: fd, name: entry, path: path + "/" + entry, keepingRepository: false, depth: depth + 1)
                }
            } else {
                attempt { try Syscall.unlinkAt(fd, entry, displayPath: path + "/" + entry) }
            }
        }
        Syscall.closeQuietly(fd)
        attempt { try Syscall.unlinkAt(parent, name, isDirectory: true, displayPath: path) }
        if let failure { throw failure }
    }
}
