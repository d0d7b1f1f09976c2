// Interoperability with the real age and age-keygen (installed at /usr/bin;
// CI installs the `age` package). A missing tool is a failure, never a skip.
// Passphrase files: age asks for a passphrase only on a terminal, so `age -p`
// is driven through util-linux `script`, which gives it a pseudo-terminal.
import Foundation
import TestSupport
import Testing

@testable import TokenVault

enum Tool {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static func path(_ name: String) throws -> String {
        try ExternalTools.locate(
            name, package: ["script": "util-linux", "bash": "bash", "ssh-keygen": "openssh-client"][name] ?? "age")
    }

    /// Runs a tool with `arguments`, feeding `input` on stdin; returns status, stdout, stderr.
    @discardableResult
    static func run(_ name: String, _ arguments: [String], input: [UInt8] = [], expectSuccess: Bool = true) throws -> (
        status: Int32, stdout: [UInt8], stderr: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try path(name))
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Drain both outputs while writing, so large inputs and outputs cannot deadlock.
        nonisolated(unsafe) var out = Data()
        nonisolated(unsafe) var err = Data()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { out = stdout.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { err = stderr.fileHandleForReading.readDataToEndOfFile() }
        try stdin.fileHandleForWriting.write(contentsOf: Data(input))
        try stdin.fileHandleForWriting.close()
        group.wait()
        process.waitUntilExit()
        let result = (process.terminationStatus, [UInt8](out), String(decoding: err, as: UTF8.self))
        if expectSuccess && result.0 != 0 {
            throw Failure(description: "\(name) \(arguments.joined(separator: " ")) exited \(result.0): \(result.2)")
        }
        return result
    }
}

final class TemporaryDirectory {
    let path: String
    init() throws {
        path = try makeTemporaryDirectory(prefix: "ztoken-age-interop")
    }
    func file(_ name: String) -> String { "\(path)/\(name)" }
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }
    deinit { removeTemporaryDirectory(path) }
}

private func randomPlaintext(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

@Suite("age interop with the real age tools")
struct AgeInteropTests {
    static let sizes = [0, 1, 65_536, 65_537, 1_048_576 + 123]

    @Test("age -r encrypts, we decrypt", arguments: sizes)
    func ageEncryptsWeDecrypt(_ size: Int) throws {
        let identity = AgeX25519Identity.generate()
        let plaintext = randomPlaintext(size)
        let file = try Tool.run("age", ["-e", "-r", identity.recipient.encoded], input: plaintext).stdout
        let decrypted = try Age.decrypt(file, with: [.x25519(identity)], path: "age-output")
        #expect(decrypted.withUnsafeBytes { Array($0) } == plaintext)
    }

    @Test("we encrypt, age -d -i decrypts", arguments: sizes)
    func weEncryptAgeDecrypts(_ size: Int) throws {
        let directory = try TemporaryDirectory()
        let identity = AgeX25519Identity.generate()
        let keyFile = try directory.write("key.txt", AgeKeyFile.render(identity).withUnsafeBytes { Array($0) })
        let plaintext = randomPlaintext(size)
        // Two recipients, ours second, so age must skip a stanza that is not its own.
        let file = try Age.encrypt(
            SecureBytes(copying: plaintext),
            to: [.x25519(AgeX25519Identity.generate().recipient), .x25519(identity.recipient)])
        let decrypted = try Tool.run("age", ["-d", "-i", keyFile], input: file).stdout
        #expect(decrypted == plaintext)
    }

    @Test("armor: age -d reads our armored files, we read age -a files", arguments: [0, 47, 48, 65_537])
    func armorBothWays(_ size: Int) throws {
        let directory = try TemporaryDirectory()
        let identity = AgeX25519Identity.generate()
        let keyFile = try directory.write("key.txt", AgeKeyFile.render(identity).withUnsafeBytes { Array($0) })
        let plaintext = randomPlaintext(size)
        let ours = try Age.encrypt(SecureBytes(copying: plaintext), to: [.x25519(identity.recipient)], armored: true)
        #expect(try Tool.run("age", ["-d", "-i", keyFile], input: ours).stdout == plaintext)
        let theirs = try Tool.run("age", ["-e", "-a", "-r", identity.recipient.encoded], input: plaintext).stdout
        #expect(theirs.starts(with: Array("-----BEGIN AGE ENCRYPTED FILE-----\n".utf8)))
        #expect(
            try Age.decrypt(theirs, with: [.x25519(identity)], path: "f").withUnsafeBytes { Array($0) } == plaintext)
        // The same bytes, line for line: our armor is age's armor.
        let dearmored = try AgeArmor.dearmor(theirs, path: "f")
        #expect(AgeArmor.armor(dearmored) == theirs)
    }

    @Test("age rejects our file when it is tampered with")
    func ageRejectsTampering() throws {
        let directory = try TemporaryDirectory()
        let identity = AgeX25519Identity.generate()
        let keyFile = try directory.write("key.txt", AgeKeyFile.render(identity).withUnsafeBytes { Array($0) })
        var file = try Age.encrypt(SecureBytes(copying: randomPlaintext(1000)), to: [.x25519(identity.recipient)])
        file[file.count - 5] ^= 0x80
        let result = try Tool.run("age", ["-d", "-i", keyFile], input: file, expectSuccess: false)
        #expect(result.status != 0)
    }

    @Test("an age-keygen identity file parses, and its recipient matches age-keygen -y")
    func ageKeygenIdentity() throws {
        let directory = try TemporaryDirectory()
        let keyFile = directory.file("key.txt")
        try Tool.run("age-keygen", ["-o", keyFile])
        let contents = try [UInt8](Data(contentsOf: URL(fileURLWithPath: keyFile)))
        let identities = try AgeKeyFile.parseIdentities(SecureBytes(copying: contents), path: keyFile)
        #expect(identities.count == 1)
        let recipient = String(decoding: try Tool.run("age-keygen", ["-y", keyFile]).stdout, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(identities[0].recipient.encoded == recipient)
        // And it opens a file age encrypted to it.
        let file = try Tool.run("age", ["-e", "-r", recipient], input: Array("hello".utf8)).stdout
        #expect(try Age.decrypt(file, with: [.x25519(identities[0])], path: "f").unsafeRevealedString() == "hello")
    }

    @Test("an identity file we render is accepted by age-keygen -y and age -d -i")
    func renderedIdentityAcceptedByAge() throws {
        let directory = try TemporaryDirectory()
        let identity = AgeX25519Identity.generate()
        let keyFile = try directory.write("key.txt", AgeKeyFile.render(identity).withUnsafeBytes { Array($0) })
        let recipient = String(decoding: try Tool.run("age-keygen", ["-y", keyFile]).stdout, as: UTF8.self)
        #expect(recipient == identity.recipient.encoded + "\n")
        let file = try Tool.run("age", ["-e", "-r", identity.recipient.encoded], input: Array("x".utf8)).stdout
        #expect(try Tool.run("age", ["-d", "-i", keyFile], input: file).stdout == Array("x".utf8))
    }

    @Test("a recipients file works for age -R and for us")
    func recipientsFile() throws {
        let directory = try TemporaryDirectory()
        let a = AgeX25519Identity.generate()
        let b = AgeX25519Identity.generate()
        let text = "# team\n\(a.recipient)\n\n\(b.recipient)\n"
        let path = try directory.write("recipients.txt", Array(text.utf8))
        let recipients = try AgeKeyFile.parseRecipients(Array(text.utf8), path: path)
        #expect(recipients.map(\.description) == [a.recipient.encoded, b.recipient.encoded])
        let file = try Tool.run("age", ["-e", "-R", path], input: Array("to both".utf8)).stdout
        #expect(try Age.decrypt(file, with: [.x25519(b)], path: "f").unsafeRevealedString() == "to both")
    }

    /// Runs `age` under `script` so that it has a terminal to read the passphrase from.
    static func ageWithTerminal(_ arguments: [String], passphraseTwice: Bool, in directory: TemporaryDirectory) throws
        -> Int32
    {
        let command = (["/usr/bin/age"] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let answer = passphraseTwice ? "interop-pass\ninterop-pass\n" : "interop-pass\n"
        // The passphrase reaches age's terminal after a short pause, once age is prompting.
        let driver =
            "(sleep 1; printf '\(answer.replacingOccurrences(of: "\n", with: "\\n"))'; sleep 3) | script -qec \"\(command)\" /dev/null"
        let result = try Tool.run("bash", ["-c", driver], expectSuccess: false)
        return result.status
    }

    @Test("scrypt: age -d opens our passphrase file (through a pseudo-terminal)")
    func weEncryptPassphraseAgeDecrypts() throws {
        _ = try Tool.path("script")
        let directory = try TemporaryDirectory()
        let file = try Age.encrypt(
            SecureBytes(copying: Array("secret payload".utf8)),
            to: [.testOnlyPassphrase(SecureBytes(copying: Array("interop-pass".utf8)), workFactor: 12)])
        let input = try directory.write("in.age", file)
        let output = directory.file("out.txt")
        let status = try Self.ageWithTerminal(["-d", "-o", output, input], passphraseTwice: false, in: directory)
        #expect(status == 0)
        #expect((try? String(contentsOfFile: output, encoding: .utf8)) == "secret payload")
    }

    @Test("scrypt: we open age -p files (through a pseudo-terminal)")
    func agePassphraseWeDecrypt() throws {
        _ = try Tool.path("script")
        let directory = try TemporaryDirectory()
        let input = try directory.write("in.txt", Array("from age -p".utf8))
        let output = directory.file("out.age")
        let status = try Self.ageWithTerminal(["-p", "-o", output, input], passphraseTwice: true, in: directory)
        #expect(status == 0)
        let file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        let plaintext = try Age.decrypt(
            file, with: [.passphrase(SecureBytes(copying: Array("interop-pass".utf8)))], path: output)
        #expect(plaintext.unsafeRevealedString() == "from age -p")
    }
}
