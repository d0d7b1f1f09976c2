import Foundation
import TestSupport
import Testing

// Runs ztoken on a pseudo-terminal, as a person at a terminal runs it: its
// standard output and error (and, unless a file is given, its standard
// input and /dev/tty) are the terminal. python3's `pty` module does the
// forking; it types each answer once the text before it has appeared, so a
// test can answer prompts, press Ctrl-D (`"\u{4}"`), and see exactly what
// the terminal showed, in order.

/// What the terminal showed (`\r\n` turned back into `\n`) and the exit code.
struct TerminalResult: CustomStringConvertible {
    var status: Int32
    var screen: String
    var description: String { "exit \(status)\n--- terminal\n\(screen)" }
}

extension Sandbox {
    /// The python driver: argv[1] the command line (JSON), argv[2] the steps
    /// (JSON pairs of text to wait for and text to type), argv[3] a file to
    /// read as standard input instead of the terminal ("" for none),
    /// argv[4] the terminal's width in columns.
    private static let driver = #"""
        import fcntl, json, os, pty, select, struct, sys, termios, time
        argv, steps, stdin_path, columns = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        pid, fd = pty.fork()
        if pid == 0:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
            if stdin_path:
                f = os.open(stdin_path, os.O_RDONLY)
                os.dup2(f, 0)
            os.execv(argv[0], argv)
        out = b""
        def read_some(deadline):
            global out
            left = deadline - time.time()
            if left <= 0:
                return False
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return False
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            out += chunk
            return True
        for expect, send in steps:
            deadline = time.time() + 20
            while expect.encode() not in out:
                if not read_some(deadline):
                    break
            time.sleep(0.05)
            os.write(fd, send.encode())
        deadline = time.time() + 60
        while read_some(deadline):
            pass
        _, status = os.waitpid(pid, 0)
        sys.stdout.buffer.write(out)
        sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
        """#

    /// Runs `ztoken ARGS` on a terminal `columns` wide, typing `send` after
    /// each `expect` text appears; with `stdin`, standard input is that text
    /// (from a file) and only the output is the terminal.
    func runOnTerminal(
        _ arguments: [String], steps: [(expect: String, send: String)] = [], stdin: String? = nil,
        columns: Int = 80, environment overrides: [String: String?] = [:]
    ) throws -> TerminalResult {
        let python = try ExternalTools.locate("python3", package: "python3")
        var stdinPath = ""
        if let stdin {
            stdinPath = nextName("tty-stdin")
            write(stdin, to: stdinPath)
        }
        let argv = try JSONSerialization.data(withJSONObject: [try CLIHarness.requireBinary()] + arguments)
        let pairs = try JSONSerialization.data(withJSONObject: steps.map { [$0.expect, $0.send] })
        let result = try run(
            [
                "-c", Self.driver, String(decoding: argv, as: UTF8.self), String(decoding: pairs, as: UTF8.self),
                stdinPath, String(columns),
            ], environment: overrides, executable: python)
        try #require(result.stderr.isEmpty, "the pty driver failed: \(result.stderr)")
        return TerminalResult(status: result.status, screen: result.stdout.replacingOccurrences(of: "\r\n", with: "\n"))
    }
}
