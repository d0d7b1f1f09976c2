// The git objects `ztoken scan --git-staged` and `--git-history` read, from
// git itself (never by parsing .git): the blobs come out of one
// `git cat-file --batch` as a stream, one after another, each read to its
// end, so memory stays bounded by the read buffer whatever the repository.
//
// - staged: the blobs `git diff --cached --raw` names for files added,
//   modified or changed in type (regular files; not submodules or links),
//   i.e. the content the next commit would record for what it changes;
// - history: every blob `git rev-list --objects HEAD` reaches, each once,
//   with the first path git names for it.
//
// git runs in the current directory with the caller's environment; what it
// says on standard error goes into the error when it fails.
internal import CProcessShims

#if canImport(Glibc)
import Glibc
#endif

enum GitObjects {
    /// A blob: the path it is known by and its object id.
    struct Blob {
        var path: String
        var id: String
        var size: Int
    }

    /// Reads the bytes of the current blob: fills the buffer it is given
    /// and returns how many bytes it wrote, 0 at the blob's end.
    typealias BlobRead = (UnsafeMutableRawBufferPointer) throws -> Int

    /// Calls `body` for each staged blob, in the order git names them.
    static func staged(_ body: (Blob, BlobRead) throws -> Void) throws {
        let diff = try capture([
            "git", "diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=AMT",
        ])
        // -z: ":<old mode> <new mode> <old id> <new id> <status>" NUL <path> NUL, repeated.
        var blobs: [(id: String, path: String)] = []
        let fields = diff.split(separator: 0, omittingEmptySubsequences: false)
        var position = 0
        while position + 1 < fields.count {
            let meta = String(decoding: fields[position], as: UTF8.self).split(separator: " ")
            let path = String(decoding: fields[position + 1], as: UTF8.self)
            position += 2
            guard meta.count >= 5, meta[1] == "100644" || meta[1] == "100755" else { continue }
            blobs.append((String(meta[3]), path))
        }
        guard !blobs.isEmpty else { return }
        var next = 0
        try catFile(["git"], ids: blobs.map(\.id)) { id, type, size, _, read in
            guard next < blobs.count, blobs[next].id == id else {
                throw VaultError.corrupt(path: "git cat-file", reason: "answered with an object it was not asked for")
            }
            next += 1
            guard type == "blob" else { return }
            let blob = Blob(path: blobs[next - 1].path, id: id, size: size)
            try withoutActuallyEscaping(read) { try body(blob, $0) }
        }
    }

    /// Calls `body` for each blob reachable from HEAD.
    static func history(_ body: (Blob, BlobRead) throws -> Void) throws {
        var objects: [Int32] = [-1, -1]
        guard pipe(&objects) == 0 else { throw Syscall.fail("git rev-list", "pipe") }
        let errors = try errorFile()
        defer { Syscall.closeQuietly(errors) }
        let revList: pid_t
        do {
            defer { Syscall.closeQuietly(objects[1]) }
            revList = try spawn(
                ["git", "rev-list", "--objects", "--filter=object:type=blob", "HEAD"], input: nil,
                output: objects[1], errors: errors)
        } catch {
            Syscall.closeQuietly(objects[0])
            throw error
        }
        var failed: Error?
        do {
            defer { Syscall.closeQuietly(objects[0]) }
            // %(rest): what follows the id on rev-list's line, the path.
            try batch(
                ["git", "cat-file", "--batch=%(objectname) %(objecttype) %(objectsize) %(rest)"], input: objects[0]
            ) { id, type, size, rest, read in
                guard type == "blob" else { return }
                try withoutActuallyEscaping(read) { try body(Blob(path: rest, id: id, size: size), $0) }
            }
        } catch {
            failed = error
        }
        let status = wait(revList)
        if let failed { throw failed }
        try check(status, "git rev-list", errors: errors)
    }

    // MARK: cat-file

    /// Runs `git … cat-file --batch` (`git` is the command up to
    /// `cat-file`) for `ids`, calling `each` as `batch` does. The list goes
    /// to cat-file as a file, not a pipe we write while reading its output:
    /// no deadlock and no thread, however many objects.
    static func catFile(
        _ git: [String], ids: [String], each: (String, String, Int, String, BlobRead) throws -> Void
    ) throws {
        let list = ztoken_memfd("ztoken-git-objects")
        guard list >= 0 else { throw Syscall.fail("git object list", "memfd_create") }
        defer { Syscall.closeQuietly(list) }
        let text = Array(ids.map { $0 + "\n" }.joined().utf8)
        try text.withUnsafeBytes { try Syscall.writeAll(list, $0, displayPath: "git object list") }
        lseek(list, 0, SEEK_SET)
        try batch(git + ["cat-file", "--batch"], input: list, each: each)
    }

    /// Runs a `git cat-file --batch…` reading its object names from `input`
    /// and calls `each` for every object with its header fields and a reader
    /// of its content (what `each` leaves unread is skipped).
    static func batch(
        _ arguments: [String], input: Int32,
        each: (String, String, Int, String, BlobRead) throws -> Void
    ) throws {
        var output: [Int32] = [-1, -1]
        guard pipe(&output) == 0 else { throw Syscall.fail("git cat-file", "pipe") }
        let errors = try errorFile()
        defer { Syscall.closeQuietly(errors) }
        let child: pid_t
        do {
            defer { Syscall.closeQuietly(output[1]) }
            child = try spawn(arguments, input: input, output: output[1], errors: errors)
        } catch {
            Syscall.closeQuietly(output[0])
            throw error
        }
        var reader = PipeReader(fd: output[0])
        var failed: Error?
        do {
            while let header = try reader.line() {
                let fields = header.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard fields.count >= 2 else { continue }
                if fields[1] == "missing" || fields[1] == "ambiguous" { continue }
                guard fields.count >= 3, let size = Int(fields[2]), size >= 0 else {
                    throw VaultError.corrupt(path: "git cat-file", reason: "unexpected output")
                }
                var remaining = size
                try each(
                    String(fields[0]), String(fields[1]), size, fields.count > 3 ? String(fields[3]) : ""
                ) { buffer in
                    let count = try reader.read(into: buffer, limit: remaining)
                    remaining -= count
                    return count
                }
                try reader.skip(remaining + 1)  // what was left unread, and the newline after it
            }
        } catch {
            failed = error
        }
        Syscall.closeQuietly(output[0])
        let status = wait(child)
        if let failed { throw failed }
        try check(status, "git cat-file", errors: errors)
    }

    /// Buffered reads from a pipe.
    private struct PipeReader {
        let fd: Int32
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var start = 0
        var end = 0

        /// Refills the buffer; false at end of file.
        mutating func refill() throws -> Bool {
            start = 0
            end = try buffer.withUnsafeMutableBytes { try Syscall.readSome(fd, $0, displayPath: "git cat-file") }
            return end > 0
        }

        /// The next line without its newline, nil at end of file.
        mutating func line() throws -> String? {
            var bytes: [UInt8] = []
            while true {
                if start == end {
                    guard try refill() else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
                }
                if let newline = buffer[start..<end].firstIndex(of: 0x0A) {
                    bytes += buffer[start..<newline]
                    start = newline + 1
                    return String(decoding: bytes, as: UTF8.self)
                }
                bytes += buffer[start..<end]
                start = end
            }
        }

        /// Up to `limit` bytes into `target`; 0 only when `limit` is 0.
        mutating func read(into target: UnsafeMutableRawBufferPointer, limit: Int) throws -> Int {
            let wanted = min(target.count, limit)
            guard wanted > 0 else { return 0 }
            if start == end {
                // A large read goes straight into the target, without a copy.
                if wanted >= buffer.count {
                    let count = try Syscall.readSome(
                        fd, UnsafeMutableRawBufferPointer(rebasing: target[0..<wanted]), displayPath: "git cat-file")
                    guard count > 0 else { throw truncated }
                    return count
                }
                guard try refill() else { throw truncated }
            }
            let count = min(wanted, end - start)
            buffer.withUnsafeBytes {
                target.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<(start + count)]))
            }
            start += count
            return count
        }

        mutating func skip(_ count: Int) throws {
            var left = count
            while left > 0 {
                if start == end { guard try refill() else { throw truncated } }
                let step = min(left, end - start)
                start += step
                left -= step
            }
        }

        var truncated: VaultError { .corrupt(path: "git cat-file", reason: "the output ended inside an object") }
    }

    // MARK: Processes

    /// Runs git to completion and returns its standard output.
    static func capture(_ arguments: [String]) throws -> [UInt8] {
        var output: [Int32] = [-1, -1]
        guard pipe(&output) == 0 else { throw Syscall.fail(arguments[0], "pipe") }
        let errors = try errorFile()
        defer { Syscall.closeQuietly(errors) }
        let child: pid_t
        do {
            defer { Syscall.closeQuietly(output[1]) }
            child = try spawn(arguments, input: nil, output: output[1], errors: errors)
        } catch {
            Syscall.closeQuietly(output[0])
            throw error
        }
        var bytes: [UInt8] = []
        var failed: Error?
        do {
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = try chunk.withUnsafeMutableBytes {
                    try Syscall.readSome(output[0], $0, displayPath: arguments.prefix(2).joined(separator: " "))
                }
                if count == 0 { break }
                bytes += chunk[0..<count]
            }
        } catch {
            failed = error
        }
        Syscall.closeQuietly(output[0])
        let status = wait(child)
        if let failed { throw failed }
        try check(status, arguments.prefix(2).joined(separator: " "), errors: errors)
        return bytes
    }

    /// An anonymous file for a child's standard error.
    static func errorFile() throws -> Int32 {
        let fd = ztoken_memfd("ztoken-git-errors")
        guard fd >= 0 else { throw Syscall.fail("git", "memfd_create") }
        return fd
    }

    /// Starts `arguments` (found on $PATH) with these descriptors as its
    /// standard input (nil: /dev/null), output and error.
    static func spawn(_ arguments: [String], input: Int32?, output: Int32, errors: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let input {
            posix_spawn_file_actions_adddup2(&actions, input, STDIN_FILENO)
        } else {
            posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, output, STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, errors, STDERR_FILENO)
        let cArguments = arguments.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, arguments[0], &actions, nil, cArguments, Glibc.environ)
        guard status == 0 else {
            if status == ENOENT {
                throw VaultError.invalidArgument("git is not installed", hint: "install git to scan a repository")
            }
            throw VaultError.io(path: arguments[0], operation: "posix_spawn", errno: status)
        }
        return pid
    }

    /// Waits for a child; its exit status, or 128 + the signal that killed it.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// Throws, with git's own first line of complaint, unless `status` is 0.
    private static func check(_ status: Int32, _ what: String, errors: Int32) throws {
        guard status != 0 else { return }
        var text = [UInt8](repeating: 0, count: 4096)
        let count = text.withUnsafeMutableBytes { pread(errors, $0.baseAddress, $0.count, 0) }
        let said =
            String(decoding: text[0..<max(count, 0)], as: UTF8.self)
            .split(separator: "\n").first.map { String($0) } ?? "exit status \(status)"
        throw VaultError.invalidArgument(
            "\(what) failed: \(TerminalSafe.escape(said))", hint: "run it inside a git repository")
    }
}
