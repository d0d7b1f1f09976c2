import Foundation
import TestSupport
import Testing

@testable import TokenVault

// Runs the real `ztoken` binary the way a user or script does: in a private
// temp directory with its own HOME and vault, with a chosen standard input,
// capturing standard output, standard error and the exit status. Processes
// are started with posix_spawn and reaped with waitpid, so the tests never
// depend on a run loop and never deadlock on a full pipe (output goes to files).
#if canImport(Glibc)
import Glibc
#endif

/// What a finished process left behind.
struct CLIResult: CustomStringConvertible {
    /// The exit code, or 128 + signal number when killed by a signal.
    var status: Int32
    /// The signal that killed the process, if any.
    var signal: Int32?
    var stdoutBytes: [UInt8]
    var stderrBytes: [UInt8]
    var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
    var stderr: String { String(decoding: stderrBytes, as: UTF8.self) }
    var stdoutLines: [String] {
        stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }
    var description: String {
        "exit \(status)\(signal.map { " (signal \($0))" } ?? "")\n--- stdout\n\(stdout)--- stderr\n\(stderr)"
    }
}

enum CLIHarness {
    /// The `ztoken` built by `swift test`: next to the test bundle, else in
    /// `.build/debug` of the package that holds this file.
    static let binary: String = builtExecutable("ztoken")

    /// An executable of this package built by `swift test` (ztoken, the
    /// examples): next to the test bundle, else in `.build/debug`; "" when
    /// neither exists.
    static func builtExecutable(_ name: String) -> String {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = (exe as NSString).deletingLastPathComponent
            // The test runner may live inside an .xctest bundle directory.
            while dir.hasSuffix(".xctest") || dir.contains(".xctest/") {
                dir = (dir as NSString).deletingLastPathComponent
            }
            candidates.append(dir + "/" + name)
        }
        candidates.append(packageRoot + "/.build/debug/" + name)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? ""
    }

    static let packageRoot: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .path

    /// Fails the calling test clearly when the binary is missing.
    static func requireBinary(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(
            !binary.isEmpty,
            "the ztoken binary was not found next to the test bundle or in .build/debug; run 'swift build' or 'swift test' in the package root",
            sourceLocation: sourceLocation)
        return binary
    }
}

/// A started child process.
struct Child {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String

    /// Waits for the child and collects its output.
    func wait() -> CLIResult {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        let code = exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let out = (try? Data(contentsOf: URL(fileURLWithPath: stdoutPath))).map(Array.init) ?? []
        let err = (try? Data(contentsOf: URL(fileURLWithPath: stderrPath))).map(Array.init) ?? []
        unlink(stdoutPath)
        unlink(stderrPath)
        return CLIResult(status: code, signal: exited ? nil : status & 0x7f, stdoutBytes: out, stderrBytes: err)
    }
}

/// A private temp directory with a HOME, a vault location and a passphrase file.
final class Sandbox: @unchecked Sendable {
    let root: String
    let home: String
    /// The vault location `run` passes through `$ZTOKEN_VAULT` by default.
    var vault: String
    let passphraseFile: String
    private var counter = 0
    private let counterLock = NSLock()
    /// Extra cleanup (unmounting, killing helpers), run before the directory is removed.
    var cleanups: [() -> Void] = []

    init() throws {
        // The in-process library (used to verify tokens and craft entries)
        // must accept the minimal-KDF vaults the binary makes in tests.
        MinimalKDF.enable()
        root = try makeTemporaryDirectory(prefix: "ztoken-e2e")
        home = root + "/home"
        vault = root + "/vault"
        passphraseFile = root + "/passphrase"
        mkdir(home, 0o700)
        try Array("correct horse battery staple\n".utf8).withUnsafeBytes {
            _ = try Data($0).write(to: URL(fileURLWithPath: passphraseFile))
        }
        chmod(passphraseFile, 0o600)
    }

    deinit {
        for cleanup in cleanups.reversed() { cleanup() }
        removeTemporaryDirectory(root)
    }

    /// The environment every run gets: a clean one with a temp HOME, the
    /// test-only minimal KDF, and `$ZTOKEN_VAULT` pointing at the sandbox vault.
    func environment(_ overrides: [String: String?] = [:]) -> [String: String] {
        var env: [String: String] = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "HOME": home,
            "LANG": "C.UTF-8",
            MinimalKDF.environmentName: "1",
            "ZTOKEN_VAULT": vault,
        ]
        for (key, value) in overrides { env[key] = value }
        return env
    }

    func nextName(_ stem: String) -> String {
        counterLock.lock()
        defer { counterLock.unlock() }
        counter += 1
        return "\(root)/.\(stem)-\(counter)"
    }

    /// Starts `ztoken ARGS` (or `executable ARGS` when given) without waiting.
    func spawn(
        _ arguments: [String], stdin: [UInt8]? = nil, environment overrides: [String: String?] = [:],
        executable: String? = nil, directory: String? = nil
    ) throws -> Child {
        let program = try executable ?? CLIHarness.requireBinary()
        let input = nextName("stdin")
        let output = nextName("stdout")
        let errors = nextName("stderr")
        if let stdin { _ = FileManager.default.createFile(atPath: input, contents: Data(stdin)) }
        let pid = try Self.spawn(
            [program] + arguments, environment: environment(overrides),
            stdinPath: stdin == nil ? "/dev/null" : input, stdoutPath: output, stderrPath: errors,
            directory: directory ?? root)
        return Child(pid: pid, stdoutPath: output, stderrPath: errors)
    }

    /// Starts `ztoken ARGS` (or `executable ARGS`) with `pipe`'s write end
    /// as its standard output, and closes this process's copy of it, so
    /// `pipe.drain()` ends when the child (and whatever it started) exits.
    func spawn(
        _ arguments: [String], standardOutput pipe: FullPipe, executable: String? = nil
    ) throws -> Child {
        let program = try executable ?? CLIHarness.requireBinary()
        // Never created: `wait()` finds no captured standard output.
        let output = nextName("stdout")
        let errors = nextName("stderr")
        let pid = try Self.spawn(
            [program] + arguments, environment: environment(), stdinPath: "/dev/null", stdoutPath: output,
            stderrPath: errors, directory: root, stdoutDescriptor: pipe.writeEnd)
        pipe.closeWriteEnd()
        return Child(pid: pid, stdoutPath: output, stderrPath: errors)
    }

    /// Runs `ztoken ARGS` to completion.
    @discardableResult
    func run(
        _ arguments: [String], stdin: String? = nil, environment overrides: [String: String?] = [:],
        executable: String? = nil, directory: String? = nil
    ) throws -> CLIResult {
        try spawn(
            arguments, stdin: stdin.map { Array($0.utf8) }, environment: overrides, executable: executable,
            directory: directory
        ).wait()
    }

    /// Runs ztoken through `sh -c 'umask 000; exec ztoken "$@"'`.
    func runWithUmask000(_ arguments: [String], stdin: String? = nil) throws -> CLIResult {
        try run(
            ["-c", "umask 000; exec \"$0\" \"$@\"", try CLIHarness.requireBinary()] + arguments,
            stdin: stdin, executable: "/bin/sh")
    }

    /// `ztoken init` with the sandbox passphrase file and the minimal KDF; must succeed.
    @discardableResult
    func initVault(_ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws -> CLIResult {
        let result = try run(["init", "--user", "tester", "--vault-passphrase-file", passphraseFile] + extra)
        try #require(result.status == 0, "init failed: \(result)", sourceLocation: sourceLocation)
        return result
    }

    /// `ztoken create LABEL`; must succeed; returns the printed token.
    func create(_ label: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try run(["create", label])
        try #require(result.status == 0, "create \(label) failed: \(result)", sourceLocation: sourceLocation)
        return result.stdout.trimmingCharacters(in: .newlines)
    }

    /// `ztoken list --all --json`, parsed.
    func listJSON(all: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        let result = try run(["list", "--json"] + (all ? ["--all"] : []))
        try #require(result.status == 0, "list failed: \(result)", sourceLocation: sourceLocation)
        let parsed = try JSONSerialization.jsonObject(with: Data(result.stdoutBytes))
        return try #require(
            parsed as? [[String: Any]], "list --json is not an array of objects: \(result.stdout)",
            sourceLocation: sourceLocation)
    }

    // MARK: Files

    /// index.json's tokens, for comparing states without the log anchor.
    func indexTokens() -> NSArray? {
        guard let bytes = bytes(vault + "/index.json"),
            let index = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        else { return nil }
        return index["tokens"] as? NSArray
    }

    func bytes(_ path: String) -> [UInt8]? {
        (try? Data(contentsOf: URL(fileURLWithPath: path))).map(Array.init)
    }

    /// Starts `flock(1)` holding the vault's lock (as another ztoken would)
    /// and returns once it really holds it. Kill the child to release it.
    func holdVaultLock(sourceLocation: SourceLocation = #_sourceLocation) throws -> Child {
        let flock = try #require(
            ExternalTools.find("flock"), "flock(1) (util-linux) is needed", sourceLocation: sourceLocation)
        let lockFile = vault + "/.lock"
        let holder = try spawn([lockFile, "-c", "sleep 30"], executable: flock)
        for _ in 0..<200 {
            if try Self.spawnAndWait([flock, "-n", lockFile, "true"]) != 0 { return holder }
            usleep(20_000)
        }
        kill(holder.pid, SIGKILL)
        _ = holder.wait()
        Issue.record("flock never took the vault lock", sourceLocation: sourceLocation)
        throw VaultError.busy(path: lockFile, holder: nil, seconds: 4)
    }

    /// Writes an executable through a child `sh`, so this process never holds
    /// it open for writing: a child spawned by a parallel test would inherit
    /// that descriptor and make exec of the file fail with ETXTBSY.
    func writeExecutable(_ text: String, to path: String) throws {
        let result = try run(
            ["-c", "printf '%s' \"$0\" > \"$1\" && chmod 700 \"$1\"", text, path], executable: "/bin/sh")
        try #require(result.status == 0, "could not write \(path): \(result)")
    }

    func write(_ text: String, to path: String, mode: mode_t = 0o600) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        chmod(path, mode)
    }

    /// Every path under `directory` (files and directories), relative, sorted.
    func tree(_ directory: String? = nil) -> [String] {
        let base = directory ?? vault
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        return walker.compactMap { $0 as? String }.sorted()
    }

    /// Leftover temp files of interrupted writes anywhere in the vault.
    func temporaries() -> [String] { tree().filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") } }

    // MARK: Spawning

    /// Starts `argv` with standard output into `stdoutPath`, or onto
    /// `stdoutDescriptor` (dup2'd, so an O_CLOEXEC pipe end is inherited) when given.
    static func spawn(
        _ argv: [String], environment: [String: String], stdinPath: String, stdoutPath: String,
        stderrPath: String, directory: String, stdoutDescriptor: Int32? = nil
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath, O_RDONLY, 0)
        if let stdoutDescriptor {
            posix_spawn_file_actions_adddup2(&actions, stdoutDescriptor, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // posix_spawn has no portable chdir action: GNU env changes directory
        // (-C) and then executes the program itself.
        let program = argv[0]
        let argv = ["/usr/bin/env", "-C", directory, "--"] + argv
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for argument in cArgs { free(argument) }
            for variable in cEnv { free(variable) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard status == 0 else { throw VaultError.io(path: program, operation: "posix_spawn", errno: status) }
        return pid
    }

    /// Runs a helper program (not ztoken) to completion, without output capture.
    @discardableResult
    static func spawnAndWait(_ argv: [String]) throws -> Int32 {
        let pid = try spawn(
            argv, environment: ["PATH": "/usr/bin:/bin"], stdinPath: "/dev/null",
            stdoutPath: "/dev/null", stderrPath: "/dev/null", directory: "/")
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

extension Sandbox {
    /// Checks the vault holds exactly what the caller believes: every token in
    /// `live` verifies (through the library, in process), none in `revoked` is
    /// active, `list` exits 0, and after `doctor --repair`, `doctor` exits 0.
    func checkVaultInvariants(
        live: [String], revoked: [String], context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let list = try run(["list", "--all", "--json"])
        #expect(list.status == 0, "\(context): list failed: \(list)", sourceLocation: sourceLocation)
        let repair = try run(["doctor", "--repair"])
        #expect(repair.status == 0, "\(context): doctor --repair failed: \(repair)", sourceLocation: sourceLocation)
        let doctor = try run(["doctor"])
        #expect(doctor.status == 0, "\(context): doctor after repair failed: \(doctor)", sourceLocation: sourceLocation)
        let opened = try Vault(openingAt: vault)
        for token in live {
            let answer = try opened.verify(SecureBytes(copying: Array(token.utf8)))
            if case .valid = answer {
            } else {
                Issue.record(
                    "\(context): reported token …\(token.suffix(4)) is \(answer.reason ?? "?")",
                    sourceLocation: sourceLocation)
            }
        }
        for token in revoked {
            let answer = try opened.verify(SecureBytes(copying: Array(token.utf8)))
            if case .valid = answer {
                Issue.record(
                    "\(context): revoked token …\(token.suffix(4)) is active again", sourceLocation: sourceLocation)
            }
        }
        #expect(
            temporaries().isEmpty, "\(context): temp files left after repair: \(temporaries())",
            sourceLocation: sourceLocation)
    }
}
