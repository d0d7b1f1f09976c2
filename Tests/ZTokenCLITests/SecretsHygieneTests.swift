import Foundation
import TestSupport
import Testing

@testable import TokenVault

// Secrets stay secret (docs/SPEC.md §9): while ztoken holds a token it is not
// dumpable and has no core limit, and no secret is in its argv or environment;
// after every command has run, no token, passphrase or secret key is in any
// file of the vault, the restored vault, a bundle or a backup (all checked as
// raw bytes) — only in the plain zBot configuration asked for — and no token is
// on standard error, or on standard output except where it is the output.
#if canImport(Glibc)
import Glibc
#endif

@Suite("secrets hygiene")
struct SecretsHygieneTests {
    static func contents(_ path: String) -> [UInt8] {
        (try? Data(contentsOf: URL(fileURLWithPath: path))).map(Array.init) ?? []
    }

    /// `ztoken create x --stdin` run as uid 65534, blocked reading a FIFO we
    /// hold open, with half the token already written into it.
    @Test func notDumpableWhileHoldingASecret() throws {
        try #require(geteuid() == 0, "needs root to run ztoken as another user")
        let setpriv = try #require(ExternalTools.find("setpriv"), "setpriv (util-linux) is not installed")
        let sandbox = try Sandbox()
        chmod(sandbox.root, 0o711)
        let nobodyHome = sandbox.root + "/nobody"
        mkdir(nobodyHome, 0o700)
        chown(nobodyHome, 65534, 65534)
        let vault = nobodyHome + "/vault"
        chown(sandbox.passphraseFile, 65534, 65534)
        chown(sandbox.home, 65534, 65534)
        let asNobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", try CLIHarness.requireBinary()]
        let made = try sandbox.run(
            Array(asNobody.dropFirst()) + ["init", "--user", "n", "--vault-passphrase-file", sandbox.passphraseFile],
            environment: ["ZTOKEN_VAULT": vault], executable: setpriv)
        try #require(made.status == 0, "init as uid 65534: \(made)")

        let fifo = sandbox.root + "/stdin.fifo"
        try #require(mkfifo(fifo, 0o666) == 0)
        chmod(fifo, 0o666)
        // O_RDWR keeps a writer open without blocking, so ztoken's read waits.
        let writer = open(fifo, O_RDWR | O_CLOEXEC)
        try #require(writer >= 0)
        let token = "imported-SECRET-" + Hex.encode(Sodium.randomBytes(16))
        let half = token.utf8.count / 2
        _ = Array(token.utf8.prefix(half)).withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }

        let output = sandbox.nextName("stdout")
        let errors = sandbox.nextName("stderr")
        let pid = try Sandbox.spawn(
            asNobody + ["create", "held", "--stdin"],
            environment: sandbox.environment(["ZTOKEN_VAULT": vault]),
            stdinPath: fifo, stdoutPath: output, stderrPath: errors, directory: sandbox.root)
        let child = Child(pid: pid, stdoutPath: output, stderrPath: errors)
        // Wait until it is blocked in read(0, …): past hardening, holding half the token.
        var blocked = false
        for _ in 0..<500 {
            let syscall = String(decoding: Self.contents("/proc/\(pid)/syscall"), as: UTF8.self)
            let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
            if exe.hasSuffix("/ztoken") && syscall.hasPrefix("0 0x0 ") {
                blocked = true
                break
            }
            usleep(10_000)
        }
        #expect(blocked, "ztoken never blocked reading standard input")

        // PR_SET_DUMPABLE 0 makes the kernel give /proc/PID/* to root, not to the process's user.
        var info = stat()
        #expect(stat("/proc/\(pid)/status", &info) == 0)
        #expect(info.st_uid == 0, "/proc/\(pid)/status belongs to uid \(info.st_uid): the process is dumpable")
        let limits = String(decoding: Self.contents("/proc/\(pid)/limits"), as: UTF8.self)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") } ?? ""
        #expect(
            core.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2) == ["0", "0"],
            "core dumps are not off: \(core)")
        for file in ["cmdline", "environ"] {
            let bytes = Self.contents("/proc/\(pid)/\(file)")
            #expect(!bytes.isEmpty, "/proc/\(pid)/\(file) is empty")
            #expect(!Self.occurs(Array(token.utf8.prefix(half)), in: bytes), "/proc/\(pid)/\(file) holds the secret")
        }

        _ = Array(token.utf8.dropFirst(half)).withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
        close(writer)
        let result = child.wait()
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout.hasSuffix("\theld\n"), "the id and label of the imported token: \(result)")
        #expect(!result.stdout.contains(token), "an imported token is never printed back")
    }

    static func occurs(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var index = 0
        while let found = haystack[index...].firstIndex(of: first) {
            if found + needle.count > haystack.count { return false }
            if haystack[found..<(found + needle.count)].elementsEqual(needle) { return true }
            index = found + 1
        }
        return false
    }

    static func files(under path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        return (FileManager.default.subpaths(atPath: path) ?? []).map { path + "/" + $0 }.filter {
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue
        }
    }

    @Test func noSecretLeftAnywhere() throws {
        let sandbox = try Sandbox()
        var runs: [(String, CLIResult)] = []
        func run(_ arguments: [String], stdin: String? = nil) throws -> CLIResult {
            let result = try sandbox.run(arguments, stdin: stdin)
            #expect(result.status == 0, "\(arguments): \(result)")
            runs.append((arguments[0], result))
            return result
        }
        let vaultPassphrase = "correct horse battery staple"  // Sandbox's passphrase file
        let backupPassphrase = "backup-" + Hex.encode(Sodium.randomBytes(12))
        let backupPassphraseFile = sandbox.root + "/backup.pass"
        sandbox.write(backupPassphrase + "\n", to: backupPassphraseFile)
        let key = sandbox.root + "/key.txt"
        let recipient = try run(["keygen", "--out", key]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let secretKey =
            String(decoding: Self.contents(key), as: UTF8.self)
            .split(separator: "\n").first { $0.hasPrefix("AGE-SECRET-KEY-") }.map(String.init) ?? "missing"

        _ = try run([
            "init", "--user", "tester", "--server", "https://z.example.com", "--vault-passphrase-file",
            sandbox.passphraseFile,
        ])
        let alpha = try run(["create", "alpha"]).stdout.trimmingCharacters(in: .newlines)
        let beta = try run(["create", "beta", "--json"]).stdout
        let betaToken =
            (try JSONSerialization.jsonObject(with: Data(beta.utf8)) as? [String: Any])?["token"] as? String
            ?? "missing"
        let imported = "imported-" + Hex.encode(Sodium.randomBytes(16))
        _ = try run(["create", "gamma", "--stdin"], stdin: imported + "\n")
        _ = try run(["zbot", "bot1", "--plain-dir", sandbox.root + "/plain"])
        _ = try run(["zbot", "bot2", "-r", recipient, "--out", sandbox.root + "/bot2.age"])
        _ = try run([
            "export", "alpha", "--vault-passphrase-file", sandbox.passphraseFile, "-r", recipient,
            "--out", sandbox.root + "/alpha.age",
        ])
        _ = try run(["backup", "-r", recipient, "--out", sandbox.root + "/backup.age"])
        _ = try run(["backup", "--passphrase-file", backupPassphraseFile, "--out", sandbox.root + "/backup-pass.age"])
        _ = try run([
            "restore", sandbox.root + "/backup.age", "-i", key, "--vault", sandbox.root + "/restored",
            "--vault-passphrase-file", sandbox.passphraseFile,
        ])
        _ = try run(["revoke", "beta", "--yes"])
        _ = try run(["verify"], stdin: alpha + "\n")
        _ = try run(["list", "--all"])
        _ = try run(["doctor"])

        let plainFile = sandbox.root + "/plain/zbot/conf/zbot.properties"
        let bot1 =
            String(decoding: Self.contents(plainFile), as: UTF8.self)
            .split(separator: "\n").first { $0.hasPrefix("zephyrApiToken=") }.map { String($0.dropFirst(15)) }
            ?? "missing"
        let bot2 =
            try ZBotBundleCLITests.extract(
                sandbox, bundle: sandbox.root + "/bot2.age", key: key,
                member: "zbot/conf/zbot.properties"
            )
            .split(separator: "\n").first { $0.hasPrefix("zephyrApiToken=") }.map { String($0.dropFirst(15)) }
            ?? "missing"
        let tokens = [alpha, betaToken, imported, bot1, bot2]
        for token in tokens { #expect(token.count >= 16 && token != "missing", "a token was not captured") }
        let secrets = tokens + [vaultPassphrase, backupPassphrase, secretKey]

        let searched =
            Self.files(under: sandbox.vault) + Self.files(under: sandbox.root + "/restored")
            + ["bot2.age", "alpha.age", "backup.age", "backup-pass.age"].map { sandbox.root + "/" + $0 }
        #expect(searched.count > 10)
        for path in searched {
            let bytes = Self.contents(path)
            for secret in secrets {
                #expect(!Self.occurs(Array(secret.utf8), in: bytes), "\(path) holds a secret (…\(secret.suffix(4)))")
            }
        }
        // The plain configuration holds bot1's token and nothing else secret.
        let plain = Self.files(under: sandbox.root + "/plain").map(Self.contents).reduce([], +)
        #expect(Self.occurs(Array(bot1.utf8), in: plain))
        for secret in secrets where secret != bot1 {
            #expect(!Self.occurs(Array(secret.utf8), in: plain), "the plain configuration holds another secret")
        }
        for (command, result) in runs {
            for token in tokens {
                #expect(!Self.occurs(Array(token.utf8), in: result.stderrBytes), "\(command) printed a token on stderr")
                if command != "create" && command != "keygen" {
                    #expect(
                        !Self.occurs(Array(token.utf8), in: result.stdoutBytes), "\(command) printed a token on stdout")
                }
            }
            for secret in [vaultPassphrase, backupPassphrase, secretKey] {
                #expect(
                    !Self.occurs(Array(secret.utf8), in: result.stdoutBytes + result.stderrBytes),
                    "\(command) printed a secret")
            }
        }
    }
}
