// ssh-ed25519 keys as age recipients and identities: both ways with the real
// age and keys made by the real ssh-keygen, and the keys ztoken refuses (RSA,
// passphrase-protected, malformed) with what to use instead.
import Foundation
import Testing

@testable import TokenVault

/// An ed25519 (or other) key pair made by ssh-keygen in `directory`; returns
/// the private key path and the public key line.
private func sshKey(_ directory: TemporaryDirectory, _ name: String, type: String = "ed25519", passphrase: String = "")
    throws -> (path: String, publicLine: String)
{
    let path = directory.file(name)
    var arguments = ["-q", "-t", type, "-N", passphrase, "-C", "test@example", "-f", path]
    if type == "rsa" { arguments += ["-b", "2048"] }
    try Tool.run("ssh-keygen", arguments)
    let line = try String(contentsOfFile: path + ".pub", encoding: .utf8).trimmingCharacters(in: .newlines)
    return (path, line)
}

private func contents(_ path: String) throws -> SecureBytes {
    SecureBytes(copying: try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
}

@Suite("age ssh-ed25519 recipients and identities")
struct AgeSSHTests {
    @Test("we encrypt to ssh-ed25519 (-r and a .pub file), age -d -i KEY decrypts", arguments: [0, 1, 70_000])
    func weEncryptAgeDecrypts(_ size: Int) throws {
        let directory = try TemporaryDirectory()
        let (key, line) = try sshKey(directory, "id_ed25519")
        let plaintext = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let fromLine = try AgeRecipient(parsing: line)
        #expect(fromLine.description == line.split(separator: " ").prefix(2).joined(separator: " "))
        let fromFile = try AgeKeyFile.parseRecipients(Array((line + "\n").utf8), path: key + ".pub")
        for recipients in [[fromLine], fromFile, [.x25519(AgeX25519Identity.generate().recipient), fromLine]] {
            let file = try Age.encrypt(SecureBytes(copying: plaintext), to: recipients)
            #expect(try Tool.run("age", ["-d", "-i", key], input: file).stdout == plaintext)
        }
    }

    @Test("age -R KEY.pub encrypts, we decrypt with the private key")
    func ageEncryptsWeDecrypt() throws {
        let directory = try TemporaryDirectory()
        let (key, _) = try sshKey(directory, "id_ed25519")
        let file = try Tool.run("age", ["-e", "-R", key + ".pub"], input: Array("over ssh".utf8)).stdout
        let identities = try AgeKeyFile.parseIdentityFile(try contents(key), path: key)
        #expect(try Age.decrypt(file, with: identities, path: "f").unsafeRevealedString() == "over ssh")
        // The recipient of the private key is the one in the .pub file.
        guard case .sshEd25519(let identity) = try #require(identities.first).kind else {
            Issue.record("not an ssh-ed25519 identity")
            return
        }
        #expect(
            identity.recipient.description
                == (try AgeRecipient(parsing: String(contentsOfFile: key + ".pub", encoding: .utf8))).description)
        #expect(identity.description.hasSuffix("secret redacted)"))
    }

    @Test("another ssh key does not open the file: no match, not corrupt")
    func anotherKeyIsNoMatch() throws {
        let directory = try TemporaryDirectory()
        let (_, line) = try sshKey(directory, "a")
        let (other, _) = try sshKey(directory, "b")
        let file = try Age.encrypt(SecureBytes(copying: Array("x".utf8)), to: [try AgeRecipient(parsing: line)])
        let identities = try AgeKeyFile.parseIdentityFile(try contents(other), path: other)
        #expect(throws: VaultError.wrongIdentity(path: "f")) { try Age.decrypt(file, with: identities, path: "f") }
    }

    static let use = "use an age identity file ('ztoken keygen', age-keygen) or an ed25519 key without a passphrase"
    static let recipientHint = "use an age recipient (age1…, from 'ztoken keygen' or age-keygen) or an ssh-ed25519 key"

    @Test("RSA keys are refused as recipients and identities, saying what to use")
    func rsaIsRefused() throws {
        let directory = try TemporaryDirectory()
        let (key, line) = try sshKey(directory, "id_rsa", type: "rsa")
        let refusal = "an ssh-rsa key cannot be an age recipient here: ztoken supports ssh-ed25519 keys only"
        #expect(throws: VaultError.invalidArgument(refusal, hint: Self.recipientHint)) {
            try AgeRecipient(parsing: line)
        }
        #expect(throws: VaultError.invalidArgument("k.pub: line 2: " + refusal, hint: Self.recipientHint)) {
            try AgeKeyFile.parseRecipients(Array("# a key\n\(line)\n".utf8), path: "k.pub")
        }
        #expect(
            throws: VaultError.invalidArgument(
                "\(key): an ssh-rsa key cannot be used: ztoken supports ssh-ed25519 keys only", hint: Self.use)
        ) { try AgeKeyFile.parseIdentityFile(try contents(key), path: key) }
    }

    @Test("a passphrase-protected ssh key is refused, saying why and what to use")
    func passphraseProtectedIsRefused() throws {
        let directory = try TemporaryDirectory()
        let (key, line) = try sshKey(directory, "id_locked", passphrase: "hunter2-hunter2")
        #expect(
            throws: VaultError.invalidArgument(
                "\(key): the SSH key is protected by a passphrase, which ztoken cannot ask for", hint: Self.use)
        ) { try AgeKeyFile.parseIdentityFile(try contents(key), path: key) }
        // Its public key is an ordinary recipient.
        _ = try AgeRecipient(parsing: line)
    }

    @Test("a damaged private key is refused without echoing it")
    func damagedKeyIsRefused() throws {
        let directory = try TemporaryDirectory()
        let (key, _) = try sshKey(directory, "id_ed25519")
        var lines = try String(contentsOfFile: key, encoding: .utf8).split(separator: "\n").map(String.init)
        let secretLine = lines[2]
        // Change one byte inside the private section: the check ints or key no longer agree.
        var bytes = Array(AgeBase64.decodePadded(Array(lines[1...(lines.count - 2)].joined().utf8)) ?? [])
        try #require(bytes.count > 200)
        bytes[bytes.count - 40] ^= 0x01
        let encoded = AgeBase64.encodePadded(bytes)
        lines =
            [lines[0]]
            + stride(from: 0, to: encoded.count, by: 70).map {
                String(encoded.dropFirst($0).prefix(70))
            } + [lines[lines.count - 1]]
        let damaged = SecureBytes(copying: Array((lines.joined(separator: "\n") + "\n").utf8))
        do {
            _ = try AgeKeyFile.parseIdentityFile(damaged, path: "k")
            Issue.record("a damaged key was accepted")
        } catch let error as VaultError {
            #expect(error.message == "k: not a usable OpenSSH private key: the private section is malformed")
            #expect(!error.message.contains(secretLine) && error.hint == Self.use)
        }
        let noEnd = SecureBytes(copying: Array(lines.dropLast().joined(separator: "\n").utf8))
        #expect(
            throws: VaultError.invalidArgument(
                "k: not a usable OpenSSH private key: the END line is missing", hint: Self.use)
        ) { try AgeKeyFile.parseIdentityFile(noEnd, path: "k") }
    }

    @Test("malformed ssh-ed25519 public keys are refused")
    func malformedPublicKeys() {
        for text in ["ssh-ed25519", "ssh-ed25519 !!!!", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA=="] {
            #expect(throws: VaultError.self, "\(text)") { try AgeRecipient(parsing: text) }
        }
        #expect(
            throws: VaultError.invalidArgument(
                "an SSH key of type 'ssh-dss' cannot be an age recipient here: ztoken supports ssh-ed25519 keys only",
                hint: Self.recipientHint)
        ) { try AgeRecipient(parsing: "ssh-dss AAAAB3NzaC1kc3MAAACBAP") }
    }
}
