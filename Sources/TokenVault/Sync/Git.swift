// git, run in a vault directory for `sync`, `clone` and `git init`: its
// output captured, its complaint (first line of standard error) in the
// error when it fails. git never writes a vault file: ztoken reads the
// remote's files as blobs (`files(of:)`) and installs them itself.

#if canImport(Glibc)
import Glibc
#endif

enum Git {
    struct Result {
        var status: Int32
        var bytes: [UInt8]
        var complaint: String
        var output: String { String(decoding: bytes, as: UTF8.self) }
    }

    /// Runs `git -C directory arguments…` to its end. For a repository
    /// (the default) git's directory and work tree are named outright, so a
    /// GIT_DIR or GIT_WORK_TREE in the environment (a hook's) cannot point
    /// it elsewhere.
    static func run(_ arguments: [String], in directory: String, repository: Bool = true) throws -> Result {
        let command =
            ["git", "-C", directory]
            + (repository ? ownRepository : []) + arguments
        var output: [Int32] = [-1, -1]
        guard pipe(&output) == 0 else { throw Syscall.fail("git", "pipe") }
        let errors = try GitObjects.errorFile()
        defer { Syscall.closeQuietly(errors) }
        let child: pid_t
        do {
            defer { Syscall.closeQuietly(output[1]) }
            child = try GitObjects.spawn(command, input: nil, output: output[1], errors: errors)
        } catch {
            Syscall.closeQuietly(output[0])
            throw error
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var failed: Error?
        do {
            while true {
                let count = try chunk.withUnsafeMutableBytes { try Syscall.readSome(output[0], $0, displayPath: "git") }
                if count == 0 { break }
                bytes += chunk[0..<count]
            }
        } catch {
            failed = error
        }
        Syscall.closeQuietly(output[0])
        let status = GitObjects.wait(child)
        if let failed { throw failed }
        var said = [UInt8](repeating: 0, count: 4096)
        let count = said.withUnsafeMutableBytes { pread(errors, $0.baseAddress, $0.count, 0) }
        let complaint =
            String(decoding: said[0..<max(count, 0)], as: UTF8.self).split(separator: "\n")
            .first { !$0.hasPrefix("hint:") }.map(String.init) ?? "exit status \(status)"
        return Result(status: status, bytes: bytes, complaint: TerminalSafe.escape(complaint))
    }

    /// After `-C vault`: the vault's own repository, whatever the environment says.
    static let ownRepository = ["--git-dir=.git", "--work-tree=."]

    /// Runs git and returns its output without the final newline; throws
    /// with git's complaint unless it succeeded.
    @discardableResult
    static func checked(_ arguments: [String], in directory: String, repository: Bool = true) throws -> String {
        let result = try run(arguments, in: directory, repository: repository)
        guard result.status == 0 else {
            throw VaultError.invalidArgument("git \(subcommand(of: arguments)) failed: \(result.complaint)")
        }
        return result.output.hasSuffix("\n") ? String(result.output.dropLast()) : result.output
    }

    /// The git command in `arguments`, past options such as `-c name=value`.
    static func subcommand(of arguments: [String]) -> String {
        var position = 0
        while position < arguments.count {
            if arguments[position] == "-c" {
                position += 2
            } else if arguments[position].hasPrefix("-") {
                position += 1
            } else {
                return arguments[position]
            }
        }
        return "git"
    }

    /// A commit for git's own identity when the user has none configured:
    /// `-c user.name=… -c user.email=…`, or nothing.
    static func identity(in directory: String) throws -> [String] {
        let name = try run(["config", "user.name"], in: directory)
        let email = try run(["config", "user.email"], in: directory)
        var arguments: [String] = []
        if name.status != 0 { arguments += ["-c", "user.name=ztoken"] }
        if email.status != 0 { arguments += ["-c", "user.email=ztoken@localhost"] }
        return arguments
    }

    /// The vault files of a commit, read as blobs (never checked out):
    /// path → bytes. Anything else in its tree, a link, or a file over the
    /// vault's limit for its kind is refused (65) before it is read.
    static func files(of commit: String, in directory: String) throws -> [String: [UInt8]] {
        let shown = "the commit \(commit.prefix(12))"
        let listing = try run(["ls-tree", "-r", "-z", "--full-tree", "-l", commit], in: directory)
        guard listing.status == 0 else { throw VaultError.invalidArgument("git ls-tree failed: \(listing.complaint)") }
        var wanted: [(path: String, id: String)] = []
        for entry in listing.bytes.split(separator: 0) {
            // "<mode> <type> <id> <size>\t<path>", split as bytes.
            let parts = entry.split(separator: UInt8(ascii: "\t"), maxSplits: 1)
            let fields = (parts.first ?? []).split(separator: UInt8(ascii: " ")).map {
                String(decoding: $0, as: UTF8.self)
            }
            guard parts.count == 2, fields.count == 4 else {
                throw VaultError.corrupt(path: shown, reason: "unreadable tree entry")
            }
            let path = String(decoding: parts[1], as: UTF8.self)
            guard path != ".gitignore" else { continue }
            guard let limit = limit(for: path) else {
                throw VaultError.corrupt(path: shown, reason: "unexpected file \(VaultError.quoted(path))")
            }
            guard fields[0] == "100644" || fields[0] == "100755", fields[1] == "blob" else {
                throw VaultError.corrupt(
                    path: shown, reason: "\(VaultError.quoted(path)) is not a plain file (a link?)")
            }
            guard let size = Int(fields[3]), size <= limit else {
                throw VaultError.corrupt(
                    path: shown, reason: "\(VaultError.quoted(path)) is larger than the vault's limit of \(limit) bytes"
                )
            }
            wanted.append((path, String(fields[2])))
        }
        guard !wanted.isEmpty else { return [:] }
        var files: [String: [UInt8]] = [:]
        var next = 0
        try GitObjects.catFile(["git", "-C", directory] + ownRepository, ids: wanted.map(\.id)) {
            id, type, size, _, read in
            guard next < wanted.count, wanted[next].id == id, type == "blob" else {
                throw VaultError.corrupt(path: "git cat-file", reason: "answered with an object it was not asked for")
            }
            var bytes = [UInt8](repeating: 0, count: size)
            var filled = 0
            while filled < size {
                let count = try bytes.withUnsafeMutableBytes {
                    try read(UnsafeMutableRawBufferPointer(rebasing: $0[filled...]))
                }
                guard count > 0 else { break }
                filled += count
            }
            files[wanted[next].path] = bytes
            next += 1
        }
        return files
    }

    /// The largest a vault file at `path` may be, or nil for a path that is
    /// not a vault file.
    static func limit(for path: String) -> Int? {
        switch path {
        case VaultLayout.metadata, VaultLayout.wrappedKey: return VaultLayout.smallFileLimit
        case VaultLayout.index: return VaultLayout.indexLimit
        case VaultLayout.log: return EventLog.maximumBytes
        default:
            guard path.hasPrefix(VaultLayout.records + "/"),
                VaultLayout.recordID(fromName: String(path.dropFirst(VaultLayout.records.count + 1))) != nil
            else { return nil }
            return VaultLayout.recordLimit
        }
    }
}
