// The files `ztoken scan` reads: a path named on the command line, and every
// regular file below it. Rules (docs/SPEC.md §5, scan):
//
// - a named path is opened as given (a symlink there is followed, as
//   `find -H` and ripgrep do: the user named it); below it, symbolic links
//   are never followed (openat with O_NOFOLLOW, entry types from readdir or
//   fstatat with AT_SYMLINK_NOFOLLOW), and devices, FIFOs and sockets are
//   not read;
// - the walk holds at most two directory descriptors and one file open at
//   any depth: it goes down with openat(dir, name, O_DIRECTORY|O_NOFOLLOW)
//   and back up with openat(dir, ".."), checking device and inode, so a
//   directory moved during the walk stops that walk instead of wandering off;
// - a file or directory that cannot be read is reported through `problem`
//   and skipped; the walk goes on.
#if canImport(Glibc)
import Glibc
#endif

enum ScanFiles {
    /// Calls `file` with an open descriptor (closed afterwards) and the path
    /// to show, for `path` and, if it is a directory, every regular file
    /// below it in byte order of names.
    static func walk(
        _ path: String, file: (Int32, String) throws -> Void, problem: (VaultError) -> Void
    ) rethrows {
        let fd = Syscall.retryingInterrupts { open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else {
            problem(errno == ENOENT ? .fileNotFound(path: path) : Syscall.fail(path, "open"))
            return
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            problem(Syscall.fail(path, "stat"))
            Syscall.closeQuietly(fd)
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            try walkDirectory(fd, path: path, status: info, file: file, problem: problem)
        case S_IFREG, S_IFIFO:
            // A FIFO named on the command line (`<(…)`) is read as a stream.
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            defer { Syscall.closeQuietly(fd) }
            try file(fd, path)
        default:
            Syscall.closeQuietly(fd)
            problem(.corrupt(path: path, reason: "not a regular file or directory"))
        }
    }

    /// A directory entry: its name as the bytes the file system holds (a
    /// name that is not UTF-8 must still open), NUL-terminated.
    private struct Entry {
        var name: [CChar]
        var isDirectory: Bool?
        var shown: String { String(decoding: name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }

    private struct Frame {
        var entries: [Entry]
        var next = 0
        var path: String
        var device: dev_t
        var inode: ino_t
    }

    /// Walks the directory open at `root` (and closes it).
    private static func walkDirectory(
        _ root: Int32, path: String, status: stat, file: (Int32, String) throws -> Void,
        problem: (VaultError) -> Void
    ) rethrows {
        var fd = root
        defer { Syscall.closeQuietly(fd) }
        guard let entries = list(fd, path: path, problem: problem) else { return }
        var stack = [Frame(entries: entries, path: path, device: status.st_dev, inode: status.st_ino)]
        while let top = stack.last {
            guard top.next < top.entries.count else {
                stack.removeLast()
                guard let parent = stack.last else { return }
                // Back up to the parent, which must still be the directory we left.
                let up = Syscall.retryingInterrupts { openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
                var info = stat()
                guard up >= 0, fstat(up, &info) == 0, info.st_dev == parent.device, info.st_ino == parent.inode else {
                    if up >= 0 { Syscall.closeQuietly(up) }
                    problem(.corrupt(path: parent.path, reason: "the directory moved while it was scanned"))
                    return
                }
                Syscall.closeQuietly(fd)
                fd = up
                continue
            }
            let entry = top.entries[top.next]
            stack[stack.count - 1].next += 1
            let child = top.path.hasSuffix("/") ? top.path + entry.shown : top.path + "/" + entry.shown
            var isDirectory = entry.isDirectory
            if isDirectory == nil {
                // DT_UNKNOWN (some file systems): ask, without following a link.
                var info = stat()
                guard fstatat(fd, entry.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
                    problem(Syscall.fail(child, "stat"))
                    continue
                }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: isDirectory = true
                case S_IFREG: isDirectory = false
                default: continue
                }
            }
            let flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (isDirectory == true ? O_DIRECTORY : O_NONBLOCK)
            let opened = Syscall.retryingInterrupts { openat(fd, entry.name, flags) }
            guard opened >= 0 else {
                // A link or special file swapped in since readdir is skipped, as it would have been.
                if errno != ELOOP && errno != ENOTDIR && errno != ENOENT { problem(Syscall.fail(child, "open")) }
                continue
            }
            var info = stat()
            guard fstat(opened, &info) == 0 else {
                problem(Syscall.fail(child, "stat"))
                Syscall.closeQuietly(opened)
                continue
            }
            if isDirectory == true {
                guard info.st_mode & S_IFMT == S_IFDIR,
                    let entries = list(opened, path: child, problem: problem), !entries.isEmpty
                else {
                    Syscall.closeQuietly(opened)
                    continue
                }
                Syscall.closeQuietly(fd)
                fd = opened
                stack.append(Frame(entries: entries, path: child, device: info.st_dev, inode: info.st_ino))
            } else {
                defer { Syscall.closeQuietly(opened) }
                guard info.st_mode & S_IFMT == S_IFREG else { continue }
                try file(opened, child)
            }
        }
    }

    /// The entries of a directory, sorted by name: whether each is a
    /// directory (false: a regular file; nil: the type is not known), links
    /// and special files left out.
    private static func list(
        _ directory: Int32, path: String, problem: (VaultError) -> Void
    ) -> [Entry]? {
        let copy = dup(directory)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { Syscall.closeQuietly(copy) }
            problem(Syscall.fail(path, "opendir"))
            return nil
        }
        defer { closedir(stream) }
        var entries: [Entry] = []
        errno = 0
        while let entry = readdir(stream) {
            let isDirectory: Bool?
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_DIR): isDirectory = true
            case Int32(DT_REG): isDirectory = false
            case Int32(DT_UNKNOWN): isDirectory = nil
            default: continue
            }
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) {
                    Array(UnsafeBufferPointer(start: $0, count: strlen($0) + 1))
                }
            }
            if name != [0x2E, 0] && name != [0x2E, 0x2E, 0] {
                entries.append(Entry(name: name, isDirectory: isDirectory))
            }
        }
        if errno != 0 { problem(Syscall.fail(path, "readdir")) }
        entries.sort { $0.name.lexicographicallyPrecedes($1.name) { UInt8(bitPattern: $0) < UInt8(bitPattern: $1) } }
        return entries
    }
}
