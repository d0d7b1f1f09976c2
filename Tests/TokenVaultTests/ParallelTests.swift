// Parallel.map and the hand-written encoders that the backup's hot loop
// uses, each against the obvious implementation.
import Testing
@testable import TokenVault

@Suite struct ParallelTests {
    @Test(arguments: [0, 1, 2, 3, 5, 100, 4_097])
    func mapKeepsOrderForAnyPartCount(_ count: Int) {
        for parts in 1...5 {
            #expect(Parallel.map(count: count, parts: parts) { $0 * $0 } == (0..<count).map { $0 * $0 })
        }
    }

    @Test func mapBuildsNonTrivialValues() {
        let strings = Parallel.map(count: 1_000, parts: 3) { String(repeating: "x", count: $0 % 40) + "\($0)" }
        #expect(strings == (0..<1_000).map { String(repeating: "x", count: $0 % 40) + "\($0)" })
    }
}

@Suite struct HandWrittenEncoderTests {
    @Test func hexIsLowercaseTwoDigitsPerByte() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00, 0x09, 0x0A, 0x7F, 0xA5, 0xFF]) == "00090a7fa5ff")
        let all = (0...255).map { UInt8($0) }
        #expect(Hex.encode(all) == all.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())
        #expect(Hex.decode(Hex.encode(all)) == all)
    }
}
