import Foundation
import Testing

@testable import TokenVault

// `create --copy` with a fake `xclip` first on PATH: the token reaches the
// clipboard through a pipe (never argv), and a detached `sh` clears it later
// only if the clipboard still holds that token. Debug builds shorten the
// 45 s delay with ZTOKEN_TESTONLY_CLIPBOARD_CLEAR_SECONDS so this runs in a
// few seconds; the product default is checked separately.
#if canImport(Glibc)
import Glibc
#endif

@Suite struct CopyTests {
    /// A fake xclip: `-o` prints the clipboard file; otherwise standard input
    /// becomes the clipboard. Every call's arguments are appended to argv.log.
    final class FakeClipboard {
        let box: Sandbox
        let bin: String
        var clipboard: String { box.root + "/clipboard" }
        var argvLog: String { box.root + "/argv.log" }

        init(_ box: Sandbox) throws {
            self.box = box
            bin = box.root + "/fakebin"
            mkdir(bin, 0o700)
            try box.writeExecutable(
                """
                #!/bin/sh
                printf '%s\\n' "$*" >> '\(box.root)/argv.log'
                case " $* " in
                  *" -o "*) cat '\(box.root)/clipboard' 2>/dev/null ;;
                  *) cat > '\(box.root)/clipboard.new' && mv '\(box.root)/clipboard.new' '\(box.root)/clipboard' ;;
                esac

                """, to: bin + "/xclip")
        }

        func environment(clearSeconds: String?) -> [String: String?] {
            [
                "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
                "DISPLAY": ":99",
                "WAYLAND_DISPLAY": nil,
                "ZTOKEN_TESTONLY_CLIPBOARD_CLEAR_SECONDS": clearSeconds,
            ]
        }

        var contents: String? { box.bytes(clipboard).map { String(decoding: $0, as: UTF8.self) } }
        var calls: [String] {
            String(decoding: box.bytes(argvLog) ?? [], as: UTF8.self).split(separator: "\n").map(String.init)
        }

        /// The detached clearers started from this sandbox: `sh -s` processes
        /// whose environment carries this sandbox's fake PATH.
        func clearers() -> [pid_t] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.compactMap { pid_t($0) }.filter { pid in
                guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                    cmdline == Data("sh\0-s\0".utf8),
                    let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
                else { return false }
                return String(decoding: environ, as: UTF8.self).contains("PATH=" + bin + ":")
            }
        }

        static func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if condition() { return true }
                usleep(20_000)
            }
            return condition()
        }
    }

    @Test func theTokenReachesTheClipboardThroughAPipeAndIsClearedWhenUnchanged() throws {
        let box = try Sandbox()
        try box.initVault()
        let fake = try FakeClipboard(box)
        let result = try box.run(["create", "copied", "--copy"], environment: fake.environment(clearSeconds: "1"))
        try #require(result.status == 0, "\(result)")
        let token = result.stdout.trimmingCharacters(in: .newlines)
        #expect(token.hasPrefix("ztk_"))
        #expect(result.stderr.contains("copied to the clipboard; it will be cleared in 1 s"), "\(result.stderr)")
        #expect(fake.contents == token, "the clipboard must hold exactly the token, no newline")
        #expect(fake.calls.first == "-selection clipboard")
        #expect(!fake.calls.contains { $0.contains(token) }, "the token must never be in argv")
        #expect(!fake.calls.contains { $0.contains(String(token.dropFirst(4).prefix(12))) })

        // The detached clearer checks the clipboard, finds the token, clears it.
        let cleared = FakeClipboard.waitUntil(seconds: 15) { fake.contents == "" }
        #expect(cleared, "the clipboard still holds \(fake.contents?.count ?? -1) bytes; calls: \(fake.calls)")
        #expect(fake.calls.contains("-selection clipboard -o"), "\(fake.calls)")
        #expect(!fake.calls.contains { $0.contains(token) })
        #expect(FakeClipboard.waitUntil(seconds: 5) { fake.clearers().isEmpty }, "the clearer did not exit")
    }

    @Test func aClipboardChangedMeanwhileIsNotCleared() throws {
        let box = try Sandbox()
        try box.initVault()
        let fake = try FakeClipboard(box)
        let result = try box.run(["create", "copied", "--copy"], environment: fake.environment(clearSeconds: "1"))
        try #require(result.status == 0, "\(result)")
        // The user copies something else before the delay is over.
        box.write("something else", to: fake.clipboard)
        let checked = FakeClipboard.waitUntil(seconds: 15) { fake.calls.contains("-selection clipboard -o") }
        #expect(checked, "the clearer never looked at the clipboard: \(fake.calls)")
        #expect(FakeClipboard.waitUntil(seconds: 5) { fake.clearers().isEmpty }, "the clearer did not exit")
        #expect(fake.contents == "something else")
        #expect(fake.calls == ["-selection clipboard", "-selection clipboard -o"], "\(fake.calls)")
    }

    /// Without the test-only variable the delay is the product's 45 s: a
    /// detached `sh` in its own session waits that long. It is killed here.
    @Test func theDefaultDelayIs45SecondsInADetachedShell() throws {
        #expect(Clipboard.clearAfterSeconds == 45)
        let box = try Sandbox()
        try box.initVault()
        let fake = try FakeClipboard(box)
        let result = try box.run(["create", "copied", "--copy"], environment: fake.environment(clearSeconds: nil))
        try #require(result.status == 0, "\(result)")
        #expect(result.stderr.contains("it will be cleared in 45 s unless you copy something else"), "\(result.stderr)")
        var clearers: [pid_t] = []
        #expect(
            FakeClipboard.waitUntil(seconds: 5) {
                clearers = fake.clearers()
                return clearers.count == 1
            },
            "expected one detached 'sh -s', found \(clearers)")
        for pid in clearers {
            #expect(getsid(pid) == pid, "the clearer must lead its own session so it outlives the terminal")
            kill(-pid, SIGKILL)  // its whole process group: the sh and its sleep
        }
        #expect(fake.contents == result.stdout.trimmingCharacters(in: .newlines))
        // An out-of-range override is ignored, never taken as "clear at once".
        let other = try box.run(["create", "other", "--copy"], environment: fake.environment(clearSeconds: "-5"))
        #expect(other.stderr.contains("cleared in 45 s"), "\(other.stderr)")
        #expect(FakeClipboard.waitUntil(seconds: 5) { !fake.clearers().isEmpty })
        for pid in fake.clearers() { kill(-pid, SIGKILL) }
    }

    /// A DISPLAY that points nowhere (issue 16, item 4): xclip fails with
    /// its own complaint on standard error. The user sees none of it, one
    /// line saying the clipboard was not reached, and the token goes to the
    /// terminal's clipboard through OSC 52 instead.
    @Test func aDisplayThatPointsNowhereFallsBackToOSC52WithOneWarning() throws {
        let box = try Sandbox()
        try box.initVault()
        let fake = try FakeClipboard(box)
        try box.writeExecutable(
            """
            #!/bin/sh
            cat > /dev/null
            echo "Error: Can't open display: :99" >&2
            exit 1

            """, to: fake.bin + "/xclip")
        let shown = try box.runOnTerminal(
            ["create", "ci", "--copy"], environment: fake.environment(clearSeconds: "1"))
        #expect(shown.status == 0, "\(shown)")
        #expect(!shown.screen.contains("Can't open display"), "the tool's complaint reached the user: \(shown)")
        let warnings = shown.screen.components(separatedBy: "could not reach the clipboard").count - 1
        #expect(warnings == 1, "\(shown)")
        #expect(shown.screen.contains("check $DISPLAY") && shown.screen.contains("OSC 52"), "\(shown)")
        let token = try #require(shown.screen.firstMatch(of: /ztk_[0-9A-Za-z]{39}/).map { String($0.output) })
        let sequence = "\u{1B}]52;c;" + Data(token.utf8).base64EncodedString() + "\u{07}"
        #expect(shown.screen.contains(sequence), "the terminal was not sent the token: \(shown)")
        #expect(fake.clearers().isEmpty, "no clearer for a clipboard ztoken cannot read back")
    }

    /// `create --copy --quiet` on a terminal, the `pass -c` habit: a tool
    /// that exits 0 confirms the copy, so the token goes to the clipboard
    /// only, and nothing at all is printed.
    @Test func copyQuietPutsTheTokenOnTheClipboardAndPrintsNothing() throws {
        let box = try Sandbox()
        try box.initVault()
        let fake = try FakeClipboard(box)
        let shown = try box.runOnTerminal(
            ["-q", "create", "ci", "--copy"], environment: fake.environment(clearSeconds: "1"))
        #expect(shown.status == 0, "\(shown)")
        let token = try #require(fake.contents, "the fake xclip was given nothing")
        #expect(token.wholeMatch(of: /ztk_[0-9A-Za-z]{39}/) != nil, "\(token)")
        #expect(shown.screen.isEmpty, "nothing may be printed: \(shown)")
        #expect(
            try box.listJSON().contains {
                $0["label"] as? String == "ci" && $0["last4"] as? String == String(token.suffix(4))
            })
        #expect(FakeClipboard.waitUntil(seconds: 15) { fake.contents == "" }, "the clearer did not clear it")
        #expect(FakeClipboard.waitUntil(seconds: 5) { fake.clearers().isEmpty }, "the clearer did not exit")
    }

    /// When the copy cannot be confirmed (the tool fails, OSC 52 is written
    /// to the terminal and never read back), `--copy --quiet` prints the
    /// token all the same, so that no token is stored that nobody saw.
    @Test func copyQuietPrintsTheTokenWhenTheCopyCannotBeConfirmed() throws {
        let box = try Sandbox()
        try box.initVault()
        let fake = try FakeClipboard(box)
        try box.writeExecutable(
            """
            #!/bin/sh
            cat > /dev/null
            echo "Error: Can't open display: :99" >&2
            exit 1

            """, to: fake.bin + "/xclip")
        let shown = try box.runOnTerminal(
            ["create", "ci", "--copy", "--quiet"], environment: fake.environment(clearSeconds: "1"))
        #expect(shown.status == 0, "\(shown)")
        let sequence = try #require(shown.screen.firstMatch(of: /\u{1B}\]52;c;([A-Za-z0-9+\/=]+)\u{07}/))
        let sent = String(decoding: Data(base64Encoded: String(sequence.output.1)) ?? Data(), as: UTF8.self)
        #expect(sent.wholeMatch(of: /ztk_[0-9A-Za-z]{39}/) != nil, "\(shown)")
        // The token itself, on a line of its own, as create prints it.
        #expect(shown.screen.split(separator: "\n").contains { $0 == sent }, "the token was not printed: \(shown)")
        #expect(shown.screen.contains("could not reach the clipboard"), "the warning is never silenced: \(shown)")
        #expect(!shown.screen.contains("copy the token now"), "the notice is silenced: \(shown)")
    }

    /// Off a terminal `--copy --quiet` keeps the token on standard output
    /// (T=$(ztoken create ci --copy -q) must still work) and copies it.
    @Test func copyQuietOffATerminalStillPrintsTheToken() throws {
        let box = try Sandbox()
        try box.initVault()
        let fake = try FakeClipboard(box)
        let result = try box.run(["create", "ci", "--copy", "-q"], environment: fake.environment(clearSeconds: "1"))
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.isEmpty, "\(result)")
        let token = result.stdout.trimmingCharacters(in: .newlines)
        #expect(token.hasPrefix("ztk_") && fake.contents == token, "\(result); clipboard: \(fake.contents ?? "nil")")
        #expect(FakeClipboard.waitUntil(seconds: 15) { fake.clearers().isEmpty }, "the clearer did not exit")
    }
}
