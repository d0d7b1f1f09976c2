// `create --copy`: puts a token on the clipboard through wl-copy, xclip or
// xsel (the token goes through a pipe, never argv), else through the OSC 52
// terminal sequence. A detached `sh` reads its script from a pipe, waits 45 s
// and clears the clipboard only if it still holds this token, comparing
// BLAKE2b-256 digests (`b2sum -l 256`, the digest the index already keeps).
#if canImport(Glibc)
import Glibc
#endif

/// Copies a token to the clipboard and arranges for it to be cleared.
package enum Clipboard {
    package static let clearAfterSeconds = 45

    /// The delay actually used: `clearAfterSeconds`, except that debug builds
    /// let tests shorten it with `ZTOKEN_TESTONLY_CLIPBOARD_CLEAR_SECONDS`
    /// (a whole number of seconds); release builds ignore the variable.
    static var clearDelay: Int {
        #if DEBUG
        if let text = getenv("ZTOKEN_TESTONLY_CLIPBOARD_CLEAR_SECONDS"),
            let seconds = Int(String(cString: text)), (0...clearAfterSeconds).contains(seconds)
        {
            return seconds
        }
        #endif
        return clearAfterSeconds
    }

    /// What became of a copy, for the user and for the caller.
    package struct Outcome {
        /// A sentence for the user saying what happened.
        package let message: String
        /// True when a clipboard tool took the token and exited 0; false
        /// when it went out as OSC 52, which is written to the terminal and
        /// never read back, so nothing says it reached a clipboard.
        package let confirmed: Bool
    }

    struct Tool {
        let copy: [String]
        let paste: [String]
    }

    static func availableTool() -> Tool? {
        func has(_ name: String) -> Bool {
            let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
            return path.split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
        }
        if getenv("WAYLAND_DISPLAY") != nil, has("wl-copy"), has("wl-paste") {
            return Tool(copy: ["wl-copy"], paste: ["wl-paste", "--no-newline"])
        }
        if getenv("DISPLAY") != nil {
            if has("xclip") {
                return Tool(
                    copy: ["xclip", "-selection", "clipboard"], paste: ["xclip", "-selection", "clipboard", "-o"])
            }
            if has("xsel") {
                return Tool(copy: ["xsel", "--clipboard", "--input"], paste: ["xsel", "--clipboard", "--output"])
            }
        }
        return nil
    }

    /// Copies `token`; says what happened and whether the copy is confirmed.
    @discardableResult
    package static func copy(_ token: SecureBytes) throws -> Outcome {
        guard let tool = availableTool() else {
            return Outcome(message: try copyWithTerminalSequence(token), confirmed: false)
        }
        do {
            try spawn(tool.copy, feeding: [.secret(token)], detached: false)
        } catch {
            // A DISPLAY or WAYLAND_DISPLAY that points nowhere (an ssh session,
            // a stale variable): the tool fails, its own complaint is
            // discarded, and the terminal is asked instead, in one sentence.
            let variable = tool.copy[0] == "wl-copy" ? "WAYLAND_DISPLAY" : "DISPLAY"
            let sent = try copyWithTerminalSequence(
                token, failure: "\(tool.copy[0]) could not reach the clipboard (check $\(variable))")
            return Outcome(
                message: "\(tool.copy[0]) could not reach the clipboard (check $\(variable)); " + sent,
                confirmed: false)
        }
        let digest = TokenFormat.digest(of: token)
        let paste = tool.paste.joined(separator: " ")
        let clear = tool.copy.joined(separator: " ")
        let delay = clearDelay
        let script = """
            sleep \(delay)
            now=$(\(paste) 2>/dev/null | b2sum -l 256 | cut -d' ' -f1)
            [ "$now" = "\(digest)" ] && printf '' | \(clear)
            exit 0

            """
        try spawn(["sh", "-s"], feeding: [.text(script)], detached: true)
        return Outcome(
            message: "copied to the clipboard; it will be cleared in \(delay) s unless you copy something else",
            confirmed: true)
    }

    /// OSC 52: the terminal emulator sets the clipboard. It cannot be read
    /// back, so it cannot be cleared safely later; the user is told so.
    /// `failure` says why no clipboard tool was used, when one failed.
    static func copyWithTerminalSequence(_ token: SecureBytes, failure: String? = nil) throws -> String {
        let tty = open("/dev/tty", O_WRONLY | O_CLOEXEC | O_NOCTTY)
        guard tty >= 0 else {
            throw VaultError.invalidArgument(
                (failure ?? "no clipboard tool (wl-copy, xclip, xsel)") + " and no terminal for OSC 52",
                hint: "install wl-clipboard or xclip, or copy the token by hand")
        }
        defer { close(tty) }
        let encoded = SecureBytes(zeroedCount: (token.count + 2) / 3 * 4 + 16)
        var length = 0
        encoded.withUnsafeMutableBytes { out in
            for byte in Array("\u{1B}]52;c;".utf8) {
                out[length] = byte
                length += 1
            }
            let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
            token.withUnsafeBytes { input in
                var i = 0
                while i < input.count {
                    let b0 = UInt32(input[i])
                    let b1 = i + 1 < input.count ? UInt32(input[i + 1]) : 0
                    let b2 = i + 2 < input.count ? UInt32(input[i + 2]) : 0
                    let n = b0 << 16 | b1 << 8 | b2
                    out[length] = table[Int(n >> 18 & 63)]
                    out[length + 1] = table[Int(n >> 12 & 63)]
                    out[length + 2] = i + 1 < input.count ? table[Int(n >> 6 & 63)] : UInt8(ascii: "=")
                    out[length + 3] = i + 2 < input.count ? table[Int(n & 63)] : UInt8(ascii: "=")
                    length += 4
                    i += 3
                }
            }
            out[length] = 0x07
            length += 1
        }
        try encoded.withUnsafeBytes {
            try Syscall.writeAll(tty, UnsafeRawBufferPointer(rebasing: $0[0..<length]), displayPath: "/dev/tty")
        }
        return (failure == nil ? "sent" : "sent it instead")
            + " to the terminal's clipboard (OSC 52); clear it yourself when done"
    }

    /// Runs `argv` (looked up on PATH) with `input` on its standard input.
    /// A detached child gets its own session and outlives ztoken.
    static func spawn(_ argv: [String], feeding input: [OutputPiece], detached: Bool) throws {
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw Syscall.fail(argv[0], "pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[0], STDIN_FILENO)
        posix_spawn_file_actions_addclose(&actions, pipeFDs[1])
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
        // The tool's own complaints ("Can't open display") never reach the
        // user: a failure is reported once, in ztoken's words.
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID (0x80 in glibc) is not exported to Swift.
        if detached { posix_spawnattr_setflags(&attributes, 0x80) }
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for argument in cArgs { free(argument) } }
        let status = posix_spawnp(&pid, argv[0], &actions, &attributes, cArgs, environ)
        close(pipeFDs[0])
        guard status == 0 else {
            close(pipeFDs[1])
            throw VaultError.io(path: argv[0], operation: "start", errno: status)
        }
        // Write through a buffer that is wiped afterwards.
        let buffer = OutputPiece.assemble(input)
        let written = Result {
            try buffer.withUnsafeBytes { try Syscall.writeAll(pipeFDs[1], $0, displayPath: argv[0]) }
        }
        close(pipeFDs[1])
        if !detached {
            var exitStatus: Int32 = 0
            _ = Syscall.retryingInterrupts { waitpid(pid, &exitStatus, 0) }
            try written.get()
            guard exitStatus == 0 else {
                throw VaultError.io(path: argv[0], operation: "copy to the clipboard with", errno: EIO)
            }
        }
    }
}
