internal import CProcessShims

// The process's terminal and standard streams: whether a human is there,
// yes/no questions on /dev/tty, writing a secret to standard output straight
// from its secure buffer, and hardening the process while it holds secrets.
#if canImport(Glibc)
import Glibc
#endif

/// A piece of output that may be secret.
package enum OutputPiece {
    /// Ordinary text.
    case text(String)
    /// A secret, written as is.
    case secret(SecureBytes)
    /// A secret inside a JSON string: `"` and `\` and control bytes escaped.
    case jsonEscapedSecret(SecureBytes)
}

extension OutputPiece {
    /// The pieces as one secure buffer (sized first, then filled, by
    /// `SecureBytes.assemble`), so a secret is never copied into a String.
    static func assemble(_ pieces: [OutputPiece]) -> SecureBytes {
        SecureBytes.assemble { out in
            for piece in pieces {
                switch piece {
                case .text(let text): out.append(contentsOf: text.utf8)
                case .secret(let secret): out.append(secret: secret)
                case .jsonEscapedSecret(let secret):
                    secret.withUnsafeBytes {
                        for byte in $0 {
                            switch byte {
                            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                                out.append(UInt8(ascii: "\\"))
                                out.append(byte)
                            case 0..<0x20:
                                let hex = Array("0123456789abcdef".utf8)
                                out.append(contentsOf: "\\u00".utf8)
                                out.append(hex[Int(byte >> 4)])
                                out.append(hex[Int(byte & 15)])
                            default: out.append(byte)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Terminal and standard-stream helpers for the command-line tool.
package enum Terminal {
    /// True when `fd` is a terminal (a person is probably there).
    package static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    package static var standardInputIsTerminal: Bool { isTerminal(STDIN_FILENO) }
    package static var standardOutputIsTerminal: Bool { isTerminal(STDOUT_FILENO) }
    package static var standardErrorIsTerminal: Bool { isTerminal(STDERR_FILENO) }

    /// The width in columns of the terminal standard output is, or nil off a
    /// terminal (or when the terminal does not say).
    package static var standardOutputColumns: Int? {
        guard standardOutputIsTerminal else { return nil }
        var size = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// True when the process has a controlling terminal to ask questions on.
    package static var hasTerminalToAskOn: Bool {
        let tty = Syscall.retryingInterrupts { open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY) }
        guard tty >= 0 else { return false }
        Syscall.closeQuietly(tty)
        return true
    }

    /// Asks a `[y/N]` question on /dev/tty; anything but y/yes is no.
    package static func confirm(_ question: String) throws -> Bool {
        let tty = Syscall.retryingInterrupts { open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY) }
        guard tty >= 0 else { return false }
        defer { Syscall.closeQuietly(tty) }
        let prompt = question + " [y/N] "
        _ = prompt.withCString { write(tty, $0, strlen($0)) }
        var answer: [UInt8] = []
        var byte: UInt8 = 0
        var ended = false
        while read(tty, &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") {
                ended = true
                break
            }
            if answer.count < 16 { answer.append(byte) }
        }
        // Ctrl-D (end of input) leaves the cursor after the question: end
        // the line, so the next message starts on a line of its own.
        if !ended { _ = "\n".withCString { write(tty, $0, 1) } }
        let text = String(decoding: answer, as: UTF8.self).trimmingWhitespace().lowercased()
        return text == "y" || text == "yes"
    }

    /// Writes `pieces` to standard output in one buffer that is wiped after.
    package static func writeToStandardOutput(_ pieces: [OutputPiece]) throws {
        let buffer = OutputPiece.assemble(pieces)
        fflush(nil)
        try buffer.withUnsafeBytes { try Syscall.writeAll(STDOUT_FILENO, $0, displayPath: "standard output") }
    }

    /// Makes the process non-dumpable and sets its core limit to 0, so a
    /// crash or a ptrace by another user cannot copy secrets out of memory.
    ///
    /// Also ignores SIGPIPE: a reader that went away must surface as an EPIPE
    /// write error, so `create` can take back a token nobody received,
    /// rather than kill the process after the token was stored.
    package static func hardenProcess() {
        _ = signal(SIGPIPE, SIG_IGN)
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none)
        _ = ztoken_disable_dumping()
    }

    /// The name of the user running ztoken.
    package static var userName: String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name { return String(cString: name) }
        return getenv("USER").map { String(cString: $0) } ?? "user"
    }
}
