// Files ztoken writes outside the vault (bundles, backups, identity files,
// plain zBot configurations). Output is written to a 0600 temp file beside
// the target and appears under its name only when complete and fsynced:
// linked into place (so an existing file is never overwritten unless asked)
// or renamed over it with `overwrite`. A failed or abandoned write removes the
// temp file, so a failed command leaves no partial output behind.
#if canImport(Glibc)
import Glibc
#endif

/// An output file that appears only when `commit()` succeeds. The path "-"
/// means standard output, which is written through directly.
public final class OutputFile {
    /// The path as the user gave it.
    public let path: String
    private let directory: Int32
    private let name: String
    private let tempName: String
    private let overwrite: Bool
    private var fd: Int32
    private var finished = false

    /// True for "-" (standard output).
    package var isStandardOutput: Bool { directory < 0 }

    /// Starts writing `path`. Fails at once with `.alreadyExists` when the
    /// file exists and `overwrite` is false, before any work is done.
    public init(path: String, overwrite: Bool) throws {
        self.path = path
        self.overwrite = overwrite
        if path == "-" {
            directory = -1
            name = "-"
            tempName = ""
            fd = STDOUT_FILENO
            return
        }
        var parentPath = "."
        var base = path
        if let slash = path.lastIndex(of: "/") {
            parentPath = slash == path.startIndex ? "/" : String(path[..<slash])
            base = String(path[path.index(after: slash)...])
        }
        guard !base.isEmpty, base != ".", base != ".." else {
            throw VaultError.invalidArgument("\(VaultError.quoted(path)) is not a file name")
        }
        name = base
        let dirFD = Syscall.retryingInterrupts { open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard dirFD >= 0 else {
            if errno == ENOENT { throw VaultError.fileNotFound(path: parentPath) }
            throw Syscall.fail(parentPath, "open")
        }
        directory = dirFD
        var info = stat()
        if !overwrite && fstatat(dirFD, base, &info, AT_SYMLINK_NOFOLLOW) == 0 {
            Syscall.closeQuietly(dirFD)
            throw VaultError.alreadyExists(path: path)
        }
        // Temp files of earlier writers of this name that were killed.
        Leftovers.sweepFiles(in: dirFD, displayPath: parentPath) { $0.hasPrefix("." + base + ".ztoken-") }
        tempName = "." + base + ".ztoken" + Leftovers.tag()
        do {
            guard
                let opened = try Syscall.openAt(
                    dirFD, tempName, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600, displayPath: path)
            else {
                throw VaultError.fileNotFound(path: parentPath)
            }
            fd = opened
            _ = fchmod(opened, 0o600)
        } catch {
            Syscall.closeQuietly(dirFD)
            throw error
        }
    }

    deinit {
        if !finished { abandon() }
        if directory >= 0 { Syscall.closeQuietly(directory) }
    }

    /// Appends bytes.
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        try Syscall.writeAll(fd, bytes, displayPath: path)
    }

    package func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    package func write(_ secret: SecureBytes) throws {
        try secret.withUnsafeBytes { try write($0) }
    }

    /// Makes the file appear under its name, durably.
    public func commit() throws {
        guard !finished else { return }
        if isStandardOutput {
            finished = true
            return
        }
        var published = false
        // With overwrite, the file being replaced stays reachable under a
        // swept temp name until the new one is durable, so a failure after
        // the rename puts it back rather than leaving no file at all.
        var replaced: String?
        do {
            try Syscall.sync(fd, displayPath: path)
            let descriptor = fd
            fd = -1
            try Syscall.closeChecked(descriptor, displayPath: path)
            if overwrite {
                let keep = "." + name + ".ztoken-old" + Leftovers.tag()
                if linkat(directory, name, directory, keep, 0) == 0 {
                    replaced = keep
                } else if errno != ENOENT {
                    throw Syscall.fail(path, "link")
                }
                try Syscall.renameAt(directory, tempName, directory, name, displayPath: path)
                published = true
            } else {
                // link(2) fails with EEXIST rather than replace a file that
                // appeared meanwhile; then the temp name is dropped.
                if linkat(directory, tempName, directory, name, 0) != 0 {
                    if errno == EEXIST { throw VaultError.alreadyExists(path: path) }
                    throw Syscall.fail(path, "link")
                }
                published = true
                try Syscall.unlinkAt(directory, tempName, displayPath: path)
            }
            try Syscall.sync(directory, displayPath: path)
            finished = true
            if let replaced { try? Syscall.unlinkAt(directory, replaced, displayPath: path) }
        } catch {
            // The name may already show the file (a failed directory fsync
            // comes after the rename or link). The command fails, so the
            // file must go too: a caller that rolls back (zbot discards the
            // token) would otherwise leave a complete bundle nobody may use.
            if published {
                if let replaced {
                    try? Syscall.renameAt(directory, replaced, directory, name, displayPath: path)
                } else {
                    try? Syscall.unlinkAt(directory, name, displayPath: path)
                }
                try? Syscall.sync(directory, displayPath: path)
            } else if let replaced {
                try? Syscall.unlinkAt(directory, replaced, displayPath: path)
            }
            abandon()
            throw error
        }
    }

    /// Removes the temp file; nothing appears under the name.
    public func abandon() {
        guard !finished else { return }
        finished = true
        guard !isStandardOutput else { return }
        if fd >= 0 {
            Syscall.closeQuietly(fd)
            fd = -1
        }
        try? Syscall.unlinkAt(directory, tempName, displayPath: path)
    }

    /// Writes `contents` to `path` in one step (identity files, small outputs).
    package static func write(_ contents: SecureBytes, to path: String, overwrite: Bool) throws {
        let file = try OutputFile(path: path, overwrite: overwrite)
        try file.write(contents)
        try file.commit()
    }
}

/// Writes a zBot configuration as plain files under a directory (0700
/// directories, 0600 files). All files are first written to durable temp
/// files beside their targets, then renamed into place; a failure removes
/// every temp file and every file this call put in place, so a failed command
/// leaves no part of a configuration behind. Temp files of killed writers
/// (see `Leftovers`) are swept from each directory written to.
package enum PlainDirectory {
    /// One file or directory to write, by relative path.
    package struct File: Sendable {
        /// Path relative to the root, `/`-separated, no trailing slash.
        package var path: String
        /// Permission bits: 0o700 for directories, 0o600 for files.
        package var mode: UInt32
        /// True for a directory (then `contents` is empty).
        package var isDirectory: Bool
        /// The file's bytes.
        package var contents: SecureBytes
    }

    /// Throws `.alreadyExists` if any of `paths` (relative to `root`) exists.
    package static func refuseExisting(_ paths: [String], under root: String) throws {
        for relative in paths {
            var info = stat()
            if lstat(root + "/" + relative, &info) == 0 { throw VaultError.alreadyExists(path: root + "/" + relative) }
        }
    }

    private struct Staged {
        let directory: Int32
        let temp: String
        let name: String
        let shown: String
        /// With `overwrite`: a second name for the file this one replaces, so
        /// a failed write can put it back.
        var backup: String? = nil
    }

    /// Writes `files` (paths relative to `root`). Unless `overwrite`, refuses
    /// with `.alreadyExists` before writing anything if any file exists.
    package static func write(_ files: [File], to root: String, overwrite: Bool) throws {
        try Directories.make(root)
        let rootFD = try Syscall.openDirectory(root)
        var opened: [Int32] = [rootFD]
        defer { opened.forEach(Syscall.closeQuietly) }
        if !overwrite { try refuseExisting(files.filter { !$0.isDirectory }.map(\.path), under: root) }
        var staged: [Staged] = []
        var placed: [Staged] = []
        do {
            // 1. Directories, and each file as a durable temp file.
            for file in files {
                let components = file.path.split(separator: "/").map(String.init)
                var dir = rootFD
                var shown = root
                for component in components.dropLast() {
                    shown += "/" + component
                    dir = try openOrMakeDirectory(component, in: dir, shown: shown)
                    opened.append(dir)
                    try VaultPermissions.check(fd: dir, path: shown, isDirectory: true)
                }
                guard let last = components.last else { continue }
                let parentShown = shown
                shown += "/" + last
                if file.isDirectory {
                    opened.append(try openOrMakeDirectory(last, in: dir, shown: shown))
                } else {
                    Leftovers.sweepFiles(in: dir, displayPath: parentShown) { $0.hasPrefix(AtomicFile.temporaryPrefix) }
                    let temp = try file.contents.withUnsafeBytes {
                        try AtomicFile.createTemporary(in: dir, for: last, contents: $0, displayPath: shown)
                    }
                    staged.append(Staged(directory: dir, temp: temp, name: last, shown: shown))
                }
            }
            // 2. Every file into place, then each directory fsynced once.
            //    Without `overwrite`, link(2) refuses a file that appeared
            //    since the check (a second ztoken writing the same directory);
            //    with it, the replaced file keeps a backup name until the end.
            for var file in staged {
                if overwrite {
                    let backup = AtomicFile.temporaryPrefix + file.name + "-old-" + Hex.encode(Sodium.randomBytes(6))
                    if linkat(file.directory, file.name, file.directory, backup, 0) == 0 {
                        file.backup = backup
                    } else if errno != ENOENT {
                        throw Syscall.fail(file.shown, "link")
                    }
                    do {
                        try Syscall.renameAt(
                            file.directory, file.temp, file.directory, file.name, displayPath: file.shown)
                    } catch {
                        if let backup = file.backup {
                            try? Syscall.unlinkAt(file.directory, backup, displayPath: file.shown)
                        }
                        throw error
                    }
                } else {
                    if linkat(file.directory, file.temp, file.directory, file.name, 0) != 0 {
                        throw errno == EEXIST
                            ? VaultError.alreadyExists(path: file.shown) : Syscall.fail(file.shown, "link")
                    }
                    try? Syscall.unlinkAt(file.directory, file.temp, displayPath: file.shown)
                }
                placed.append(file)
            }
            var synced = Set<Int32>()
            for file in placed where synced.insert(file.directory).inserted {
                try Syscall.sync(file.directory, displayPath: file.shown)
            }
        } catch {
            for file in staged { try? Syscall.unlinkAt(file.directory, file.temp, displayPath: file.shown) }
            for file in placed {
                if let backup = file.backup {
                    try? Syscall.renameAt(file.directory, backup, file.directory, file.name, displayPath: file.shown)
                } else {
                    try? Syscall.unlinkAt(file.directory, file.name, displayPath: file.shown)
                }
            }
            for directory in Set(staged.map(\.directory)) { try? Syscall.sync(directory, displayPath: root) }
            throw error
        }
        for file in placed {
            if let backup = file.backup { try? Syscall.unlinkAt(file.directory, backup, displayPath: file.shown) }
        }
    }

    /// Opens the directory `name` in `directory`, making it (0700, durably) if missing.
    private static func openOrMakeDirectory(_ name: String, in directory: Int32, shown: String) throws -> Int32 {
        if let existing = try Syscall.openAt(directory, name, flags: O_RDONLY | O_DIRECTORY, displayPath: shown) {
            return existing
        }
        try Syscall.makeDirectoryAt(directory, name, displayPath: shown)
        try Syscall.sync(directory, displayPath: shown)
        guard let made = try Syscall.openAt(directory, name, flags: O_RDONLY | O_DIRECTORY, displayPath: shown) else {
            throw VaultError.io(path: shown, operation: "open", errno: ENOENT)
        }
        return made
    }
}
