// `ztoken verify`: exit 0 with id and label for an active token; exit 1 and
// the reason otherwise.
import Foundation
import Testing

@testable import TokenVault

@Suite struct VerifyTests {
    @Test func anActiveTokenIsValid() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("ci")
        let id = try #require(try box.listJSON().first?["id"] as? String)
        let result = try box.run(["verify"], stdin: token + "\n")
        #expect(result.status == 0)
        #expect(result.stdout == "\(id)\tci\n")
        #expect(result.stderr.isEmpty)
        let json = try box.run(["verify", "--json"], stdin: token)
        #expect(json.status == 0)
        #expect(json.stdout == "{\"id\":\"\(id)\",\"label\":\"ci\",\"valid\":true}\n")
    }

    static func flip(_ token: String, at position: Int) -> String {
        var bytes = Array(token.utf8)
        bytes[position] = bytes[position] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func negativeAnswersExitOneWithTheReason() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("ci")
        let gone = try box.create("gone")
        #expect(try box.run(["revoke", "gone", "--yes"]).status == 0)
        let stranger = TokenFormat.mint().unsafeRevealedString()
        let cases: [(String, String)] = [
            (stranger, "unknown"),
            (Self.flip(token, at: 20), "bad checksum"),
            (String(token.dropLast()), "malformed"),
            ("short", "malformed"),
            ("", "malformed"),
            (gone, "revoked"),
        ]
        for (input, reason) in cases {
            let result = try box.run(["verify"], stdin: input)
            #expect(result.status == 1, "\(reason): \(result)")
            #expect(result.stdout.isEmpty, "\(reason)")
            #expect(result.stderr == "ztoken: token not valid: \(reason)\n", "\(reason)")
            let json = try box.run(["verify", "--json"], stdin: input)
            #expect(json.status == 1)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdoutBytes)) as? [String: Any])
            #expect(object["valid"] as? Bool == false)
            #expect(object["reason"] as? String == reason)
            #expect((object["label"] as? String) == (reason == "revoked" ? "gone" : nil))
        }
    }

    @Test func verifyNeedsNoPassphraseAndChangesNothing() throws {
        let box = try Sandbox()
        try box.initVault()
        let token = try box.create("ci")
        let before = box.tree().map { ($0, box.bytes(box.vault + "/" + $0)) }
        rename(box.vault + "/vault-key.json", box.root + "/key-away")
        defer { rename(box.root + "/key-away", box.vault + "/vault-key.json") }
        #expect(try box.run(["verify"], stdin: token).status == 0)
        rename(box.root + "/key-away", box.vault + "/vault-key.json")
        let after = box.tree().map { ($0, box.bytes(box.vault + "/" + $0)) }
        #expect(before.map(\.0) == after.map(\.0))
        #expect(zip(before, after).allSatisfy { $0.1 == $1.1 || $0.0 == ".lock" })
    }

    @Test func withoutAVaultItIsNotFound() throws {
        let box = try Sandbox()
        let result = try box.run(["verify"], stdin: "whatever-token-123456")
        #expect(result.status == 66)
    }
}
