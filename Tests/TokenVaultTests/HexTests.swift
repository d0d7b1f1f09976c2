// Hex, the one encoding of digests in the index and manifests.
import Testing

@testable import TokenVault

@Suite struct HexTests {
    @Test func hexIsLowercaseTwoDigitsPerByte() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00, 0x09, 0x0A, 0x7F, 0xA5, 0xFF]) == "00090a7fa5ff")
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.encode(all) == all.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
        #expect(Hex.decode(Hex.encode(all)) == all)
    }
}
