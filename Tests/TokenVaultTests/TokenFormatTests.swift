// Token shape: ztk_ + 33 base62 + 6-character CRC32 checksum; label rules.
import Testing

@testable import TokenVault

@Suite struct TokenFormatTests {
    @Test func crc32KnownAnswer() {
        #expect(Array("123456789".utf8).withUnsafeBytes { TokenFormat.crc32($0) } == 0xCBF4_3926)
        #expect([UInt8]().withUnsafeBytes { TokenFormat.crc32($0) } == 0)
    }

    @Test func mintedTokensHaveTheDocumentedShape() {
        for _ in 0..<50 {
            let token = TokenFormat.mint().unsafeRevealedString()
            #expect(token.wholeMatch(of: /ztk_[0-9A-Za-z]{39}/) != nil)
            #expect(TokenFormat.problem(with: SecureBytes(copying: Array(token.utf8))) == nil)
        }
    }

    @Test func anySingleCharacterChangeIsCaught() {
        let token = Array(TokenFormat.mint().unsafeRevealedString().utf8)
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
        for position in 4..<token.count {
            for replacement in alphabet where replacement != token[position] {
                var changed = token
                changed[position] = replacement
                #expect(
                    TokenFormat.problem(with: SecureBytes(copying: changed)) == .badChecksum, "position \(position)")
            }
        }
    }

    @Test(arguments: [
        "", "ztk_", "ztk_short", "has space in it 0123", String(repeating: "a", count: 15),
        String(repeating: "a", count: 513), "tab\there-0123456789",
    ])
    func malformedInputs(text: String) {
        #expect(TokenFormat.problem(with: SecureBytes(copying: Array(text.utf8))) == .malformed)
    }

    @Test(arguments: [String(repeating: "a", count: 16), String(repeating: "~", count: 512), "ghp_abcdefghijklmnop"])
    func acceptableImports(text: String) {
        #expect(TokenFormat.problem(with: SecureBytes(copying: Array(text.utf8))) == nil)
    }

    @Test func labelRules() throws {
        #expect(try LabelRules.validated("  ci \t") == "ci")
        #expect(try LabelRules.validated(String(repeating: "é", count: 100)).count == 100)
        for bad in [
            "", "   ", String(repeating: "x", count: 101), "a\u{1b}b", "a\u{7f}", "a\u{202e}b", "a\u{2066}b", "a\nb",
            "a\u{85}b",
        ] {
            #expect(throws: VaultError.self, "\(bad.debugDescription)") { try LabelRules.validated(bad) }
            do { _ = try LabelRules.validated(bad) } catch let error as VaultError { #expect(error.exitCode == 64) }
        }
    }
}
