import Foundation

// A pipe (a FIFO) that is already full when a child gets its write end as standard
// output: the child's first write blocks, at a known point, until the test
// drains the pipe. Tests use it to hold a ztoken inside its output (a bundle
// on `--out -`, a printed token) and look at what other writers can do
// meanwhile, without depending on timing.
#if canImport(Glibc)
import Glibc
#endif

final class FullPipe {
    let readEnd: Int32
    private(set) var writeEnd: Int32
    /// The filler bytes that come before anything the child writes.
    private let filler: Int

    /// Makes the pipe as a FIFO at `path`: unlike pipe(2) (pipe2 is not
    /// exported to Swift), open(2) sets O_CLOEXEC atomically, so children of
    /// tests running in parallel never inherit an end and keep the pipe from
    /// reporting its end of file.
    init(at path: String) throws {
        func fail() -> POSIXError { POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        guard mkfifo(path, 0o600) == 0 else { throw fail() }
        // Opening the read end without O_NONBLOCK would wait for a writer.
        readEnd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard readEnd >= 0 else { throw fail() }
        writeEnd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard writeEnd >= 0 else {
            close(readEnd)
            throw fail()
        }
        _ = fcntl(readEnd, F_SETFL, fcntl(readEnd, F_GETFL) & ~O_NONBLOCK)
        // Fill it without blocking, down to the last byte it takes, then
        // make the write end blocking: the child shares its flags.
        let chunk = [UInt8](repeating: UInt8(ascii: "."), count: 4096)
        var written = 0
        for size in [chunk.count, 1] {
            while true {
                let n = chunk.withUnsafeBytes { [writeEnd] in Glibc.write(writeEnd, $0.baseAddress, size) }
                guard n > 0 else { break }
                written += n
            }
        }
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) & ~O_NONBLOCK)
        filler = written
    }

    deinit {
        closeWriteEnd()
        close(readEnd)
    }

    /// Closes this process's write end (after a child has its own).
    func closeWriteEnd() {
        guard writeEnd >= 0 else { return }
        close(writeEnd)
        writeEnd = -1
    }

    /// Reads until every writer has closed the pipe; returns what came after the filler.
    func drain() -> [UInt8] {
        closeWriteEnd()
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += buffer[0..<n]
        }
        return Array(bytes.dropFirst(filler))
    }

    /// Waits until process `pid` sleeps in a write to a pipe (this one's,
    /// when it is its standard output): false if it exits or 30 s pass first.
    static func waitUntilBlockedWriting(_ pid: pid_t) -> Bool {
        for _ in 0..<3000 {
            let wchan = (try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? ""
            if wchan.hasSuffix("pipe_write") { return true }
            // A kernel that hides wchan still shows the system call:
            // write(2) on descriptor 1.
            let call = (try? String(contentsOfFile: "/proc/\(pid)/syscall", encoding: .utf8)) ?? ""
            if call.hasPrefix("\(writeSyscall) 0x1 ") { return true }
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            if stat.isEmpty || stat.contains(") Z ") { return false }
            usleep(10_000)
        }
        return false
    }

    #if arch(arm64)
    private static let writeSyscall = 64
    #else
    private static let writeSyscall = 1
    #endif
}
