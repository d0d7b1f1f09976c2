// log.jsonl on disk (EventLog.swift is its format): appended durably after
// the committed part is checked, cut back or kept aside, always through the
// vault directory's descriptor, as every vault file is.
#if canImport(Glibc)
import Glibc
#endif

extension VaultDirectory {
    /// Appends `lines` to log.jsonl and makes them durable, after cutting the
    /// log back to `committed` bytes: a tail past index.json's anchor never
    /// became history (a writer died between its append and its index). The
    /// committed part must end with the line whose hash is `head`; a log
    /// shorter than that, or ending otherwise, was truncated or edited, and
    /// nothing is appended (65).
    func appendLog(_ lines: [UInt8], committed: Int, head: String?) throws {
        let shown = displayPath(VaultLayout.log)
        // No anchor but a log: never cut a history away, keep it aside.
        if committed == 0, (entryStatus(VaultLayout.log)?.st_size ?? 0) > 0 { try detachLog() }
        var created = false
        var opened = try Syscall.openAt(fd, VaultLayout.log, flags: O_RDWR | O_APPEND, displayPath: shown)
        if opened == nil {
            guard committed == 0 else { throw VaultError.corrupt(path: shown, reason: "missing") }
            opened = try Syscall.openAt(
                fd, VaultLayout.log, flags: O_RDWR | O_APPEND | O_CREAT | O_EXCL, displayPath: shown)
            created = true
        }
        guard let file = opened else { throw VaultError.corrupt(path: shown, reason: "missing") }
        defer { Syscall.closeQuietly(file) }
        let size = Int(try VaultPermissions.check(fd: file, path: shown, isDirectory: false).st_size)
        guard size >= committed else {
            throw VaultError.corrupt(
                path: shown,
                reason: "it holds \(size) bytes but index.json says \(committed): it was truncated or replaced")
        }
        if let head { try checkLastLine(file, end: committed, head: head, path: shown) }
        if size > committed { try truncate(file, to: committed, path: shown) }
        do {
            try lines.withUnsafeBytes { try Syscall.writeAll(file, $0, displayPath: shown) }
            try Syscall.sync(file, displayPath: shown)
        } catch {
            // What reached the file is past the anchor: cut it off now if we
            // can, else the next writer does.
            try? truncate(file, to: committed, path: shown)
            throw error
        }
        if created { try Syscall.sync(fd, displayPath: path) }
    }

    /// Renames a log.jsonl that no index anchors (a downgraded index, or
    /// the first write after an upgrade cut short) to
    /// `log.jsonl.detached-<hex>`, where it stays for the user to read.
    /// Returns the new name.
    @discardableResult
    func detachLog() throws -> String {
        let aside = VaultLayout.log + ".detached-" + Hex.encode(Sodium.randomBytes(6))
        try Syscall.renameAt(fd, VaultLayout.log, fd, aside, displayPath: displayPath(VaultLayout.log))
        try Syscall.sync(fd, displayPath: path)
        return aside
    }

    /// Cuts log.jsonl back to `length` bytes, durably (doctor --repair).
    func truncateLog(to length: Int) throws {
        let shown = displayPath(VaultLayout.log)
        guard let file = try Syscall.openAt(fd, VaultLayout.log, flags: O_RDWR, displayPath: shown) else { return }
        defer { Syscall.closeQuietly(file) }
        try VaultPermissions.check(fd: file, path: shown, isDirectory: false)
        try truncate(file, to: length, path: shown)
        try Syscall.sync(file, displayPath: shown)
    }

    fileprivate func truncate(_ file: Int32, to length: Int, path: String) throws {
        if Syscall.retryingInterrupts({ ftruncate(file, off_t(length)) }) != 0 { throw Syscall.fail(path, "truncate") }
    }

    /// Checks that the bytes before `end` finish with a line whose hash is `head`.
    fileprivate func checkLastLine(_ file: Int32, end: Int, head: String, path: String) throws {
        let count = min(end, EventLog.maximumLineBytes + 2)
        var tail = [UInt8](repeating: 0, count: count)
        let got = tail.withUnsafeMutableBytes { pread(file, $0.baseAddress, count, off_t(end - count)) }
        guard got == count else { throw Syscall.fail(path, "read") }
        guard tail.last == UInt8(ascii: "\n") else {
            throw VaultError.corrupt(path: path, reason: "its last line is not the one index.json names")
        }
        let body = tail.dropLast()
        let start = body.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? body.startIndex
        guard start > body.startIndex || count == end, EventLog.hash(body[start...]) == head else {
            throw VaultError.corrupt(path: path, reason: "its last line is not the one index.json names")
        }
    }
}
