// Reading secrets — passphrases and imported tokens — straight into
// SecureBytes: from the terminal with echo off (`/dev/tty`, as ssh and age
// do), from standard input, or from the first line of a file. Secrets are
// never taken from argv or a plain environment variable.
#if canImport(Glibc)
import Glibc
#endif

/// Where secrets come from.
package enum SecretInput {
    static let maximumLength = 4096

    /// Reads standard input whole (up to `limit` bytes) and returns it with a
    /// single trailing newline (LF or CRLF) removed.
    package static func readStandardInput(limit: Int = 4096) throws -> SecureBytes {
        try readLine(from: STDIN_FILENO, displayPath: "standard input", limit: limit, firstLineOnly: false)
    }

    /// Reads the first line of `path` (a passphrase file), refusing a file
    /// that others can read.
    package static func readFirstLine(ofFile path: String) throws -> SecureBytes {
        let fd = try openToRead(path, isSecret: true)
        defer { Syscall.closeQuietly(fd) }
        let secret = try readLine(from: fd, displayPath: path, limit: maximumLength, firstLineOnly: true)
        guard secret.count > 0 else {
            throw VaultError.invalidArgument(
                "\(path): the first line is empty", hint: "put the passphrase on the first line")
        }
        return secret
    }

    /// Reads a whole small file: an identity file (`isSecret`: refused if
    /// others can read it, as ssh refuses a loose private key) or a
    /// recipients file (public keys, any mode).
    package static func readFile(_ path: String, isSecret: Bool, limit: Int = 1 << 16) throws -> SecureBytes {
        let fd = try openToRead(path, isSecret: isSecret)
        defer { Syscall.closeQuietly(fd) }
        return try readLine(from: fd, displayPath: path, limit: limit, firstLineOnly: false)
    }

    /// Opens a file the user named; a secret one must be readable by its owner only.
    private static func openToRead(_ path: String, isSecret: Bool) throws -> Int32 {
        let fd = Syscall.retryingInterrupts { open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else {
            if errno == ENOENT { throw VaultError.fileNotFound(path: path) }
            throw Syscall.fail(path, "open")
        }
        if isSecret {
            do {
                let info = try Syscall.fileStatus(fd, displayPath: path)
                if info.st_mode & S_IFMT == S_IFREG && info.st_mode & 0o077 != 0 {
                    throw VaultError.unsafePermissions(path: path, mode: info.st_mode, expected: 0o600)
                }
            } catch {
                Syscall.closeQuietly(fd)
                throw error
            }
        }
        return fd
    }

    /// Reads a whole file byte for byte (nothing stripped, no UTF-8 decoding),
    /// at most `limit` + 1 bytes, so the caller can tell a file over `limit`.
    package static func readExactly(_ path: String, limit: Int) throws -> SecureBytes {
        let fd = try openToRead(path, isSecret: false)
        defer { Syscall.closeQuietly(fd) }
        let buffer = SecureBytes(zeroedCount: limit + 1)
        var filled = 0
        try buffer.withUnsafeMutableBytes { out in
            while filled < out.count {
                let n = try Syscall.readSome(
                    fd, UnsafeMutableRawBufferPointer(rebasing: out[filled...]), displayPath: path)
                if n == 0 { break }
                filled += n
            }
        }
        return buffer.slice(0..<filled)
    }

    /// Asks for a secret on the controlling terminal with echo off.
    /// Throws `.invalidArgument` when there is no terminal to ask on.
    package static func askOnTerminal(prompt: String) throws -> SecureBytes {
        let tty = Syscall.retryingInterrupts { open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY) }
        guard tty >= 0 else {
            throw VaultError.invalidArgument(
                "no terminal to ask for the passphrase on",
                hint: "in scripts, give it in a file instead")
        }
        defer { Syscall.closeQuietly(tty) }
        var saved = termios()
        let canHideEcho = tcgetattr(tty, &saved) == 0
        if canHideEcho {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            quiet.c_lflag |= tcflag_t(ICANON)
            _ = tcsetattr(tty, TCSAFLUSH, &quiet)
        }
        defer {
            if canHideEcho { _ = tcsetattr(tty, TCSAFLUSH, &saved) }
            _ = "\n".withCString { write(tty, $0, 1) }
        }
        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        return try readLine(from: tty, displayPath: "/dev/tty", limit: maximumLength, firstLineOnly: true)
    }

    /// The length below which a new passphrase is questioned.
    package static let shortPassphrase = 12

    /// Asks for a new passphrase and its repeat, as passwd(1) does: an empty
    /// one, a mismatched repeat, or a short one (under 12 characters) the
    /// person does not confirm is asked again, three tries in all. What is
    /// said goes to the terminal with the prompts.
    package static func askNewPassphrase(what: String, attempts: Int = 3) throws -> SecureBytes {
        var tries = 0
        func again(_ problem: String) throws {
            tries += 1
            guard tries < attempts else { throw VaultError.invalidArgument(problem) }
            tell("ztoken: " + problem + "; try again")
        }
        while true {
            let first = try askOnTerminal(prompt: "new \(what) passphrase: ")
            if first.count == 0 {
                try again("the passphrase must not be empty")
                continue
            }
            if characterCount(first) < shortPassphrase {
                tell(
                    "ztoken: warning: a passphrase under \(shortPassphrase) characters is easier to guess; "
                        + "a few words are easier to remember")
                guard try Terminal.confirm("use it anyway?") else {
                    try again("the short passphrase was not confirmed")
                    continue
                }
            }
            let second = try askOnTerminal(prompt: "repeat the \(what) passphrase: ")
            if first.constantTimeEquals(second) { return first }
            try again("the passphrases did not match")
        }
    }

    /// Characters in UTF-8 text: every byte but continuation bytes.
    static func characterCount(_ text: SecureBytes) -> Int {
        text.withUnsafeBytes { $0.count { $0 & 0xC0 != 0x80 } }
    }

    /// A line on the terminal, where the prompts are.
    private static func tell(_ line: String) {
        let tty = Syscall.retryingInterrupts { open("/dev/tty", O_WRONLY | O_CLOEXEC | O_NOCTTY) }
        guard tty >= 0 else { return }
        defer { Syscall.closeQuietly(tty) }
        _ = (line + "\n").withCString { write(tty, $0, strlen($0)) }
    }

    /// Reads up to `limit` bytes into a secure buffer, stopping at the first
    /// newline when `firstLineOnly`; strips one trailing LF or CRLF.
    static func readLine(from fd: Int32, displayPath: String, limit: Int, firstLineOnly: Bool) throws -> SecureBytes {
        let buffer = SecureBytes(zeroedCount: limit + 1)
        var filled = 0
        try buffer.withUnsafeMutableBytes { out in
            while filled < out.count {
                let n = Syscall.retryingInterrupts {
                    read(fd, out.baseAddress! + filled, firstLineOnly ? 1 : out.count - filled)
                }
                if n < 0 { throw Syscall.fail(displayPath, "read") }
                if n == 0 { break }
                filled += n
                if firstLineOnly && out[filled - 1] == UInt8(ascii: "\n") { break }
            }
        }
        guard filled <= limit else {
            throw VaultError.corrupt(path: displayPath, reason: "input is longer than \(limit) bytes")
        }
        var end = filled
        buffer.withUnsafeBytes { bytes in
            if end > 0 && bytes[end - 1] == UInt8(ascii: "\n") { end -= 1 }
            if end > 0 && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        }
        return buffer.slice(0..<end)
    }
}
