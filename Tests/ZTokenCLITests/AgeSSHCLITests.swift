// SSH keys on the command line, as age takes them: `-r "ssh-ed25519 …"`,
// `-R ~/.ssh/id_ed25519.pub` and `restore -i ~/.ssh/id_ed25519`, both ways
// with the real age; RSA and passphrase-protected keys refused (64) with
// what to use instead, and nothing written or minted.
import Foundation
import TestSupport
import Testing

@Suite("ssh keys as age recipients on the command line")
struct AgeSSHCLITests {
    /// `ssh-keygen -t TYPE -N PASSPHRASE` under the sandbox's ~/.ssh; returns
    /// the private key path and the public key line.
    static func sshKey(_ sandbox: Sandbox, _ name: String, type: String = "ed25519", passphrase: String = "") throws
        -> (path: String, line: String)
    {
        let keygen = try ExternalTools.locate("ssh-keygen", package: "openssh-client")
        let directory = sandbox.home + "/.ssh"
        mkdir(directory, 0o700)
        let path = directory + "/" + name
        var arguments = ["-q", "-t", type, "-N", passphrase, "-C", "me@laptop", "-f", path]
        if type == "rsa" { arguments += ["-b", "2048"] }
        let made = try sandbox.run(arguments, executable: keygen)
        try #require(made.status == 0, "ssh-keygen failed: \(made)")
        return (path, try String(contentsOfFile: path + ".pub", encoding: .utf8).trimmingCharacters(in: .newlines))
    }

    @Test func zbotAndBackupToAnSSHKeyOpenWithAgeAndRestore() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault(["--server", "https://zephyr.example.com"])
        let token = try sandbox.create("kept")
        let (key, line) = try Self.sshKey(sandbox, "id_ed25519")

        let bundle = sandbox.root + "/bot.age"
        let zbot = try sandbox.run(["zbot", "bot", "-r", line, "--out", bundle])
        #expect(zbot.status == 0, "\(zbot)")
        let properties = try ZBotBundleCLITests.extract(
            sandbox, bundle: bundle, key: key, member: "zbot/conf/zbot.properties")
        #expect(properties.contains("zbotName=bot\n"))

        let backup = sandbox.root + "/backup.age"
        let backedUp = try sandbox.run(["backup", "-R", key + ".pub", "--out", backup])
        #expect(backedUp.status == 0, "\(backedUp)")
        #expect(try AgeArmorCLITests.ageDecrypt(sandbox, key: key, file: backup).status == 0)

        // age -R KEY.pub re-encrypts it; restore -i KEY opens both.
        let age = try #require(ExternalTools.find("age"), "age is not installed (Debian package age)")
        let theirs = sandbox.root + "/age-R.age"
        let reencrypted = try sandbox.run(
            ["-c", "\"$0\" -d -i \"$1\" \"$2\" | \"$0\" -e -R \"$1.pub\" -o \"$3\"", age, key, backup, theirs],
            executable: "/bin/sh")
        #expect(reencrypted.status == 0, "\(reencrypted)")
        for (name, file) in [("ours", backup), ("age", theirs)] {
            let restored = sandbox.root + "/restored-" + name
            let result = try sandbox.run([
                "restore", file, "-i", key, "--vault", restored, "--vault-passphrase-file", sandbox.passphraseFile,
            ])
            #expect(result.status == 0, "\(name): \(result)")
            #expect(try sandbox.run(["verify", "--vault", restored], stdin: token + "\n").status == 0, "\(name)")
        }
    }

    @Test func rsaAndPassphraseProtectedKeysAreRefusedSayingWhatToUse() throws {
        let sandbox = try Sandbox()
        try sandbox.initVault(["--server", "https://zephyr.example.com"])
        let (rsa, rsaLine) = try Self.sshKey(sandbox, "id_rsa", type: "rsa")
        let (locked, lockedLine) = try Self.sshKey(sandbox, "id_locked", passphrase: "a passphrase of mine")
        let out = sandbox.root + "/x.age"
        let recipientRefusal =
            "an ssh-rsa key cannot be an age recipient here: ztoken supports ssh-ed25519 keys only\n"
            + "ztoken: hint: use an age recipient (age1…, from 'ztoken keygen' or age-keygen) or an ssh-ed25519 key\n"
        for arguments in [
            ["zbot", "bot", "-r", rsaLine, "--out", out], ["backup", "-r", rsaLine, "--out", out],
        ] {
            let result = try sandbox.run(arguments)
            #expect(result.status == 64, "\(result)")
            #expect(result.stderr == "ztoken: error: " + recipientRefusal, "\(result)")
        }
        let fromFile = try sandbox.run(["backup", "-R", rsa + ".pub", "--out", out])
        #expect(fromFile.status == 64)
        #expect(fromFile.stderr == "ztoken: error: \(rsa).pub: line 1: " + recipientRefusal, "\(fromFile)")
        #expect(sandbox.bytes(out) == nil, "a refused recipient left a file behind")
        #expect(try sandbox.listJSON().isEmpty, "a refused zbot minted no token")

        // A backup to the locked key's public half is fine; opening it with
        // the locked private key (or an RSA one) is refused, and nothing is restored.
        #expect(try sandbox.run(["backup", "-r", lockedLine, "--out", out]).status == 0)
        let use =
            "ztoken: hint: use an age identity file ('ztoken keygen', age-keygen) or an ed25519 key without a passphrase\n"
        for (key, message) in [
            (locked, "\(locked): the SSH key is protected by a passphrase, which ztoken cannot ask for"),
            (rsa, "\(rsa): an ssh-rsa key cannot be used: ztoken supports ssh-ed25519 keys only"),
        ] {
            let restored = sandbox.root + "/restored"
            let result = try sandbox.run([
                "restore", out, "-i", key, "--vault", restored, "--vault-passphrase-file", sandbox.passphraseFile,
            ])
            #expect(result.status == 64, "\(result)")
            #expect(result.stderr == "ztoken: error: \(message)\n" + use, "\(result)")
            #expect(!FileManager.default.fileExists(atPath: restored))
        }
    }
}
