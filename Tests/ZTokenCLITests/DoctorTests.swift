// `ztoken doctor`: reports problems (exit 65), and --repair removes only
// what is provably garbage.
import Foundation
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
                "\(box.vault)/.tmp-index.json-0123456789ab: leftover of an interrupted write [repairable]\n"))
        #expect(result.stdout.contains("aaaaaaaaaaaa.sealed"))
        #expect(result.stdout.hasSuffix("1 active, 0 revoked; problems found\n"))
        #expect(result.stderr == "ztoken: hint: run 'ztoken doctor --repair' to remove the repairable leftovers\n")
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
                result.stdout.contains("active token 'a' has no sealed record; it cannot be exported [needs attention]")
            )
        }
        #expect(try box.listJSON().count == 1, "doctor never rewrites the index")
    }

    @Test func aCorruptIndexIsReportedNotRepaired() throws {
        let box = try Sandbox()
        try box.initVault()
        box.write("{ nope", to: box.vault + "/index.json")
        let result = try box.run(["doctor", "--repair"])
        #expect(result.status == 65)
        #expect(result.stdout.contains("index.json: malformed JSON (at byte 2) [needs attention]"))
        #expect(box.bytes(box.vault + "/index.json") == Array("{ nope".utf8))
    }

    @Test func withoutAVaultItIsNotFound() throws {
        let box = try Sandbox()
        #expect(try box.run(["doctor"]).status == 66)
    }
}
