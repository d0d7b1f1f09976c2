// Helpers shared by the age tests: temporary files with open descriptors.
import Foundation

@testable import TokenVault

final class TemporaryFile {
    let path: String
    let fd: Int32

    init(contents: [UInt8]) throws {
        path = NSTemporaryDirectory() + "ztoken-age-\(UUID().uuidString)"
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw VaultError.io(path: path, operation: "open", errno: errno) }
        try contents.withUnsafeBytes { try Syscall.writeAll(fd, $0, displayPath: path) }
        try rewind()
    }

    func rewind() throws {
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw VaultError.io(path: path, operation: "lseek", errno: errno) }
    }

    func readAll() throws -> [UInt8] {
        try rewind()
        return try Syscall.readAll(fd, limit: 1 << 30, displayPath: path)
    }

    deinit {
        close(fd)
        unlink(path)
    }
}
