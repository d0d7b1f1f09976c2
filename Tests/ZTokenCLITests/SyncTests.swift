// `ztoken sync` end to end with real git and a bare repository as the
// remote: two workstations change one vault independently and sync in both
// orders; both end with the same tokens and states, every token either side
// printed verifies on both, no revoked token is active, doctor is clean; a
// hostile remote is refused with nothing applied; a push that loses a race
// is 75 and the next sync converges.
import Foundation
import TestSupport
import Testing

@Suite struct SyncTests {
    /// Two workstations: the sandbox's vault (A, a git repository with the
    /// bare remote as origin) and B, cloned from it.
    struct Machines {
        let box: Sandbox
        let remote: String
        var a: String { box.vault }
        var b: String { box.root + "/b" }

        init() throws {
            box = try Sandbox()
            remote = box.root + "/remote.git"
            #expect(try box.run(["init", "--bare", "--quiet", remote], executable: "/usr/bin/git").status == 0)
            let made = try box.run([
                "init", "--git", "--user", "tester", "--vault-passphrase-file", box.passphraseFile,
                "--server", "https://zephyr.example.com",
            ])
            #expect(made.status == 0, "\(made)")
            #expect(try box.run(["git", "remote", "add", "origin", remote]).status == 0)
        }

        func run(_ vault: String, _ arguments: [String], stdin: String? = nil) throws -> CLIResult {
            try box.run(arguments + ["--vault", vault], stdin: stdin)
        }

        func sync(_ vault: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> CLIResult {
            let result = try run(vault, ["sync"])
            #expect(result.status == 0, "\(result)", sourceLocation: sourceLocation)
            return result
        }

        func create(_ vault: String, _ label: String) throws -> String {
            let result = try run(vault, ["create", label])
            #expect(result.status == 0, "\(result)")
            return result.stdout.trimmingCharacters(in: .newlines)
        }

        /// id → "label state" of every token.
        func states(_ vault: String) throws -> [String: String] {
            let result = try run(vault, ["list", "--all", "--json"])
            let parsed = try JSONSerialization.jsonObject(with: Data(result.stdoutBytes)) as? [[String: Any]] ?? []
            return Dictionary(
                uniqueKeysWithValues: parsed.map {
                    ($0["id"] as? String ?? "", "\($0["label"] as? String ?? "") \($0["state"] as? String ?? "")")
                })
        }
    }

    @Test(arguments: [true, false])
    func twoWorkstationsConvergeInEitherOrder(aFirst: Bool) throws {
        let m = try Machines()
        let shared = try m.create(m.a, "shared")
        let doomed = try m.create(m.a, "doomed")
        _ = try m.sync(m.a)
        let cloned = try m.box.run(["clone", m.remote, "--vault", m.b])
        #expect(cloned.status == 0, "\(cloned)")
        #expect(try m.states(m.b) == m.states(m.a))

        // Independently: A creates, renames and rotates; B creates, revokes and notes.
        let fromA = try m.create(m.a, "from-a")
        #expect(try m.run(m.a, ["rename", "shared", "shared-a"]).status == 0)
        let rotated = try m.run(m.a, ["rotate", "shared-a"])
        #expect(rotated.status == 0, "\(rotated)")
        let rotatedToken = rotated.stdout.trimmingCharacters(in: .newlines)
        let fromB = try m.create(m.b, "from-b")
        #expect(try m.run(m.b, ["revoke", "doomed", "--yes"]).status == 0)
        #expect(try m.run(m.b, ["note", "shared", "set on b"]).status == 0)

        let order = aFirst ? [m.a, m.b, m.a] : [m.b, m.a, m.b]
        for vault in order { _ = try m.sync(vault) }
        #expect(try m.states(m.a) == m.states(m.b))

        for vault in [m.a, m.b] {
            for (token, expected) in [(fromA, 0), (fromB, 0), (rotatedToken, 0), (doomed, 1), (shared, 1)] {
                let result = try m.run(vault, ["verify"], stdin: token + "\n")
                #expect(result.status == Int32(expected), "\(vault): \(result)")
            }
            let doctor = try m.run(vault, ["doctor"])
            #expect(doctor.status == 0, "\(doctor)")
            #expect(try m.run(vault, ["git", "status", "--porcelain"]).stdout.isEmpty, "nothing left uncommitted")
        }
        // The remote's log names what changed on both machines.
        let log = try m.box.run(["-C", m.remote, "show", "HEAD:log.jsonl"], executable: "/usr/bin/git").stdout
        for event in ["\"event\":\"rotate\"", "\"event\":\"revoke\"", "\"event\":\"merge\"", "\"label\":\"from-b\""] {
            #expect(log.contains(event), "\(event)")
        }
        // Nothing secret travels.
        let tree = try m.box.run(["-C", m.remote, "grep", "-l", "ztk_", "HEAD"], executable: "/usr/bin/git")
        #expect(tree.stdout.isEmpty, "\(tree)")
    }

    /// A file that is not the vault's (a user's note, an old leftover) is not
    /// committed, so it never makes another machine's sync refuse the remote;
    /// a clone to a relative, nested path lands there.
    @Test func aStrayFileStaysOutAndARelativeCloneLandsWhereAsked() throws {
        let m = try Machines()
        m.box.write("my own notes\n", to: m.a + "/notes.txt")
        _ = try m.create(m.a, "t")
        _ = try m.sync(m.a)
        let cloned = try m.box.run(
            ["clone", "remote.git", "--vault", "nested/b"], directory: m.box.root)
        #expect(cloned.status == 0, "\(cloned)")
        #expect(FileManager.default.fileExists(atPath: m.box.root + "/nested/b/index.json"))
        #expect(!FileManager.default.fileExists(atPath: m.box.root + "/nested/b/notes.txt"))
        _ = try m.create(m.box.root + "/nested/b", "u")
        _ = try m.sync(m.box.root + "/nested/b")
        _ = try m.sync(m.a)
        #expect(try m.states(m.a).values.sorted() == ["t active", "u active"])
    }

    @Test func aLabelMadeOnBothMachinesKeepsBothTokens() throws {
        let m = try Machines()
        _ = try m.sync(m.a)
        #expect(try m.box.run(["clone", m.remote, "--vault", m.b]).status == 0)
        let first = try m.create(m.a, "deploy")
        sleep(1)
        let second = try m.create(m.b, "deploy")
        _ = try m.sync(m.a)
        let merged = try m.sync(m.b)
        #expect(merged.stderr.contains("the later (id "), "\(merged)")
        _ = try m.sync(m.a)
        let labels = try m.states(m.a).values.sorted()
        #expect(labels == ["deploy active", "deploy~2 active"])
        #expect(try m.run(m.a, ["verify"], stdin: first + "\n").stdout.hasSuffix("\tdeploy\n"))
        #expect(try m.run(m.a, ["verify"], stdin: second + "\n").stdout.hasSuffix("\tdeploy~2\n"))
        #expect(try m.states(m.a) == m.states(m.b))
    }

    /// A remote commit made by hand (git itself, in a scratch clone) that a
    /// sync must refuse, changing nothing in the vault.
    @Test(arguments: ["flip-revoked", "duplicate-key", "symlink-record", "other-vault"])
    func aHostileRemoteIsRefusedWithNothingApplied(_ attack: String) throws {
        let m = try Machines()
        let token = try m.create(m.a, "victim")
        #expect(try m.run(m.a, ["revoke", "victim", "--yes"]).status == 0)
        _ = try m.create(m.a, "kept")
        _ = try m.sync(m.a)
        let git = "/usr/bin/git"
        let work = m.box.root + "/attacker"
        #expect(try m.box.run(["clone", "--quiet", m.remote, work], executable: git).status == 0)
        let index = work + "/index.json"
        switch attack {
        case "flip-revoked":
            let text = try String(contentsOfFile: index, encoding: .utf8)
            try text.replacingOccurrences(of: "\"state\" : \"revoked\"", with: "\"state\" : \"active\"")
                .write(toFile: index, atomically: true, encoding: .utf8)
        case "duplicate-key":
            let text = try String(contentsOfFile: index, encoding: .utf8)
            try text.replacingOccurrences(of: "\"version\" : 2", with: "\"version\" : 2,\n  \"version\" : 2")
                .write(toFile: index, atomically: true, encoding: .utf8)
        case "symlink-record":
            let records = try FileManager.default.contentsOfDirectory(atPath: work + "/records")
            let record = work + "/records/" + (records.first ?? "")
            try FileManager.default.removeItem(atPath: record)
            try FileManager.default.createSymbolicLink(atPath: record, withDestinationPath: "/etc/passwd")
        default:
            // Another vault, pushed over this one's files.
            let other = m.box.root + "/other"
            #expect(
                try m.box.run(["init", "--vault-passphrase-file", m.box.passphraseFile, "--vault", other]).status == 0)
            for name in ["vault.json", "vault-key.json", "index.json", "log.jsonl"] {
                try FileManager.default.removeItem(atPath: work + "/" + name)
                try FileManager.default.copyItem(atPath: other + "/" + name, toPath: work + "/" + name)
            }
        }
        for arguments in [
            ["-C", work, "add", "-A"],
            ["-C", work, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "-qm", "evil"],
            ["-C", work, "push", "-q", "origin", "HEAD"],
        ] {
            let result = try m.box.run(arguments, executable: git)
            #expect(result.status == 0, "\(arguments): \(result)")
        }
        let before = try m.states(m.a)
        let indexBefore = m.box.bytes(m.a + "/index.json")
        let refused = try m.run(m.a, ["sync"])
        #expect(refused.status == 65, "\(refused)")
        #expect(refused.stderr.hasPrefix("ztoken: error: "), "\(refused)")
        #expect(try m.states(m.a) == before)
        #expect(m.box.bytes(m.a + "/index.json") == indexBefore)
        #expect(try m.run(m.a, ["verify"], stdin: token + "\n").status == 1, "still revoked")
        #expect(try m.run(m.a, ["doctor"]).status == 0)
    }

    /// The other machine pushes between this one's fetch and push (a
    /// pre-push hook makes the race certain): 75, then the next sync merges.
    @Test func aPushThatLosesARaceIs75AndTheNextSyncConverges() throws {
        let m = try Machines()
        _ = try m.sync(m.a)
        #expect(try m.box.run(["clone", m.remote, "--vault", m.b]).status == 0)
        _ = try m.create(m.b, "from-b")
        _ = try m.create(m.a, "from-a")
        let hook = m.a + "/.git/hooks/pre-push"
        try """
        #!/bin/sh
        rm -f "$0"
        '\(CLIHarness.binary)' sync --vault '\(m.b)' >/dev/null 2>&1
        """.write(toFile: hook, atomically: true, encoding: .utf8)
        chmod(hook, 0o755)
        let raced = try m.run(m.a, ["sync"])
        #expect(raced.status == 75, "\(raced)")
        #expect(raced.stderr.contains("run the sync again"), "\(raced)")
        _ = try m.sync(m.a)
        _ = try m.sync(m.b)
        #expect(try m.states(m.a).values.sorted() == ["from-a active", "from-b active"])
        #expect(try m.states(m.a) == m.states(m.b))
    }

    @Test func aPassphraseChangedOnOneMachineIsThePassphraseOnBoth() throws {
        let m = try Machines()
        _ = try m.sync(m.a)
        #expect(try m.box.run(["clone", m.remote, "--vault", m.b]).status == 0)
        let newPassphrase = m.box.root + "/new-passphrase"
        m.box.write("a brand new passphrase\n", to: newPassphrase)
        let changed = try m.run(
            m.b,
            [
                "passwd", "--vault-passphrase-file", m.box.passphraseFile, "--new-passphrase-file", newPassphrase,
            ])
        #expect(changed.status == 0, "\(changed)")
        _ = try m.create(m.a, "bot")
        _ = try m.sync(m.b)
        let merged = try m.sync(m.a)
        #expect(merged.stderr.contains("passphrase was changed on the other machine"), "\(merged)")
        let exported = try m.run(
            m.a,
            [
                "export", "bot", "--vault-passphrase-file", newPassphrase, "--plain-dir", m.box.root + "/plain",
            ])
        #expect(exported.status == 0, "\(exported)")
        #expect(
            try m.run(
                m.a,
                [
                    "passwd", "--vault-passphrase-file", m.box.passphraseFile,
                    "--new-passphrase-file", newPassphrase,
                ]
            ).status == 77)
    }

    @Test func syncOutsideARepositoryAndCloneOfAnEmptyRemoteSayWhatToDo() throws {
        let box = try Sandbox()
        try box.initVault()
        let sync = try box.run(["sync"])
        #expect(sync.status == 64)
        #expect(sync.stderr.contains("ztoken git init"), "\(sync)")
        let remote = box.root + "/empty.git"
        #expect(try box.run(["init", "--bare", "--quiet", remote], executable: "/usr/bin/git").status == 0)
        let clone = try box.run(["clone", remote, "--vault", box.root + "/c"])
        #expect(clone.status == 64, "\(clone)")
        #expect(!FileManager.default.fileExists(atPath: box.root + "/c"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: box.root).filter { $0.contains(".clone-") }.isEmpty)
    }
}
