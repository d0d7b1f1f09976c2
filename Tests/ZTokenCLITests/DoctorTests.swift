// `ztoken doctor`: reports problems (exit 65), each with its next step,
// counts only what it could read, and --repair removes only what is provably
// garbage and restores safe modes on the user's own vault files.
import Foundation
import TestSupport
import Testing

@Suite struct DoctorTests {
    @Test func aHealthyVaultPasses() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        _ = try box.create("b")
        #expect(try box.run(["revoke", "b", "--yes"]).status == 0)
        let result = try box.run(["doctor"])
        #expect(result.status == 0)
        #expect(result.stdout == "1 active, 1 revoked; vault is healthy\n")
        #expect(result.stderr.isEmpty)
        let json = try box.run(["doctor", "--json"])
        #expect(json.stdout == "{\"activeTokens\":1,\"findings\":[],\"healthy\":true,\"revokedTokens\":1}\n")
    }

    /// A restore or rekey killed between moving the vault's .git into its
    /// staging directory and the exchange leaves the repository there:
    /// doctor names it with the command that moves it back, repair never
    /// removes it, and once it is back the vault is healthy.
    @Test func aRepositoryLeftInStagingIsNamedAndKept() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        let staging = box.root + "/.vault.rekey-999992-0123456789ab"
        mkdir(staging, 0o700)
        mkdir(staging + "/.git", 0o700)
        box.write("ref: refs/heads/main\n", to: staging + "/.git/HEAD")
        box.write(".lock\n", to: staging + "/.gitignore")
        for arguments in [["doctor"], ["doctor", "--repair"]] {
            let result = try box.run(arguments)
            #expect(result.status == 65, "\(arguments) \(result)")
            #expect(
                result.stdout.contains(
                    "\(staging): holds the vault's git repository, left by an interrupted restore or passwd "
                        + "--rekey [needs attention]; move it back into the vault by hand: mv '\(staging)/.git' '\(box.vault)/' "
                        + "(and '\(staging)/.gitignore' if it is there), then remove the directory\n"),
                "\(arguments) \(result.stdout)")
            #expect(box.bytes(staging + "/.git/HEAD") == Array("ref: refs/heads/main\n".utf8), "\(arguments)")
        }
        let json = try box.run(["doctor", "--json"])
        #expect(json.stdout.contains("\"nextStep\":\"move it back into the vault by hand: mv '"), "\(json.stdout)")
        try FileManager.default.moveItem(atPath: staging + "/.git", toPath: box.vault + "/.git")
        try FileManager.default.moveItem(atPath: staging + "/.gitignore", toPath: box.vault + "/.gitignore")
        rmdir(staging)
        let healthy = try box.run(["doctor"])
        #expect(healthy.status == 0, "\(healthy)")
    }

    @Test func leftoversAreReportedAndRepaired() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("keep")
        box.write("junk", to: box.vault + "/.tmp-index.json-0123456789ab")
        box.write("ztoken-record-v1\nnot really", to: box.vault + "/records/aaaaaaaaaaaa.sealed")
        let result = try box.run(["doctor"])
        #expect(result.status == 65)
        #expect(
            result.stdout.contains(
                "\(box.vault)/.tmp-index.json-0123456789ab: leftover of an interrupted write [repairable]; "
                    + "run 'ztoken doctor --repair'\n"))
        #expect(result.stdout.contains("aaaaaaaaaaaa.sealed"))
        #expect(result.stdout.hasSuffix("1 active, 0 revoked; problems found\n"))
        #expect(result.stderr == "ztoken: hint: run 'ztoken doctor --repair' to repair what is marked repairable\n")
        let repair = try box.run(["doctor", "--repair"])
        #expect(repair.status == 0, "\(repair)")
        #expect(repair.stdout.contains("[repaired]"))
        #expect(box.temporaries().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: box.vault + "/records/aaaaaaaaaaaa.sealed"))
        #expect(try box.run(["doctor"]).status == 0)
        #expect(try box.run(["verify"], stdin: token).status == 0)
    }

    @Test func aMissingRecordOfAnActiveTokenIsNotRepairable() throws {
        let box = try Sandbox()
        try box.initVault()
        _ = try box.create("a")
        let record = try #require(box.tree(box.vault + "/records").first)
        unlink(box.vault + "/records/" + record)
        for arguments in [["doctor"], ["doctor", "--repair"]] {
            let result = try box.run(arguments)
            #expect(result.status == 65)
            #expect(
                result.stdout.contains(
                    "active token 'a' has no sealed record; it cannot be exported [needs attention]; "
                        + "restore the vault from a backup: ztoken restore BACKUP --force\n"))
        }
        #expect(try box.listJSON().count == 1, "doctor never rewrites the index")
    }

    @Test func aCorruptIndexIsReportedNotRepaired() throws {
        let box = try Sandbox()
        try box.initVault()
        box.write("{ nope", to: box.vault + "/index.json")
        let result = try box.run(["doctor", "--repair"])
        #expect(result.status == 65)
        #expect(
            result.stdout.contains(
                "index.json: malformed JSON (at byte 2) [needs attention]; "
                    + "restore the vault from a backup: ztoken restore BACKUP --force\n"))
        #expect(box.bytes(box.vault + "/index.json") == Array("{ nope".utf8))
        // Nothing was counted, so no count is printed: not "0 active".
        #expect(result.stdout.hasSuffix("\ntokens not counted (the index could not be read); problems found\n"))
        let json = try box.run(["doctor", "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdoutBytes)) as? [String: Any])
        #expect(object["activeTokens"] == nil && object["revokedTokens"] == nil, "\(json)")
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(
            findings.first?["nextStep"] as? String == "restore the vault from a backup: ztoken restore BACKUP --force")
    }

    /// Loose modes on the user's own files: every command refuses the vault
    /// (77), doctor names each file and its next step without counting what
    /// it could not read, and --repair takes group and other bits away
    /// (0600 files, 0700 directories), records a `repair` event, and advises
    /// a new key pair because vault-key.json was readable by others.
    @Test func looseModesAreReportedThenRepaired() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("a")
        let record = try #require(box.tree(box.vault + "/records").first)
        let loose: [(String, mode_t)] = [
            (box.vault, 0o755), (box.vault + "/vault-key.json", 0o644), (box.vault + "/records", 0o750),
            (box.vault + "/records/" + record, 0o640),
        ]
        for (path, mode) in loose { chmod(path, mode) }
        #expect(try box.run(["list"]).status == 77)

        let doctor = try box.run(["doctor"])
        #expect(doctor.status == 65, "\(doctor)")
        #expect(
            doctor.stdout.contains(
                "\(box.vault)/vault-key.json: accessible by other users (mode 644) [repairable]; "
                    + "run 'ztoken doctor --repair', or: chmod 600 '\(box.vault)/vault-key.json'\n"), "\(doctor)")
        for (path, mode) in loose {
            #expect(doctor.stdout.contains("\(path): accessible by other users (mode \(String(mode, radix: 8)))"))
        }
        #expect(doctor.stdout.hasSuffix("\ntokens not counted (the index could not be read); problems found\n"))
        #expect(doctor.stderr.contains("ztoken: hint: vault-key.json was readable by other users"), "\(doctor)")
        for (path, mode) in loose { #expect(FileStatus.mode(path) == mode, "doctor without --repair changed \(path)") }

        let repair = try box.run(["doctor", "--repair"])
        #expect(repair.status == 0, "\(repair)")
        #expect(
            repair.stdout.contains("\(box.vault)/vault-key.json: accessible by other users (mode 644) [repaired]\n"))
        #expect(repair.stdout.hasSuffix("\n1 active, 0 revoked; vault is healthy\n"))
        #expect(
            repair.stderr.contains("run 'ztoken passwd --rekey' to replace the key pair and passphrase"), "\(repair)")
        for (path, mode) in loose {
            let expected: mode_t = mode & 0o7700
            #expect(FileStatus.mode(path) == expected, "\(path)")
        }
        let events = try LogTests.events(box)
        #expect(events.last?["event"] == "repair")
        #expect(events.last?["detail"] == "restored safe modes on 4 files")
        #expect(try box.run(["verify"], stdin: token).status == 0)
        let again = try box.run(["doctor"])
        #expect(again.status == 0 && again.stderr.isEmpty, "\(again)")
    }

    /// A symbolic link where a vault file belongs is reported, and repair
    /// never follows it: the loose file it points to keeps its mode.
    @Test func aSymlinkIsReportedNeverFollowed() throws {
        let box = try Sandbox()
        try box.initVault()
        let outside = box.root + "/outside-index.json"
        try FileManager.default.moveItem(atPath: box.vault + "/index.json", toPath: outside)
        chmod(outside, 0o644)
        symlink(outside, box.vault + "/index.json")
        let repair = try box.run(["doctor", "--repair"])
        #expect(repair.status == 65, "\(repair)")
        #expect(
            repair.stdout.contains(
                "\(box.vault)/index.json: a symbolic link; ztoken never follows links in a vault [needs attention]; "
                    + "put the real file in place of the link; ztoken never follows it\n"), "\(repair)")
        #expect(FileStatus.mode(outside) == 0o644)
    }

    /// A vault file owned by someone else is reported with the chown to
    /// make, and repair leaves it as it is, loose mode included.
    @Test(.enabled(if: geteuid() == 0, "chown to another user needs root"))
    func aForeignFileIsReportedNotTouched() throws {
        let box = try Sandbox()
        try box.initVault()
        let path = box.vault + "/index.json"
        chmod(path, 0o644)
        #expect(chown(path, 65534, 65534) == 0)
        let repair = try box.run(["doctor", "--repair"])
        #expect(repair.status == 65, "\(repair)")
        #expect(
            repair.stdout.contains(
                "\(path): owned by uid 65534, not by you [needs attention]; "
                    + "if it is yours, run: sudo chown \"$(id -un)\" '\(path)'; ztoken never touches it\n"),
            "\(repair)")
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_uid == 65534 && info.st_mode & 0o7777 == 0o644)
    }

    @Test func withoutAVaultItIsNotFound() throws {
        let box = try Sandbox()
        #expect(try box.run(["doctor"]).status == 66)
    }
}
