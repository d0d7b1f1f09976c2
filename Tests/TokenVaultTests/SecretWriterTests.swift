import Testing

@testable import TokenVault

@Suite struct SecretWriterTests {
    @Test func assemblesExactlyWhatWasAppended() {
        let secret = SecureBytes(copying: [9, 9])
        let result = SecureBytes.assemble { writer in
            writer.append(1)
            writer.append(contentsOf: [2, 3] as [UInt8])
            writer.append(secret: secret)
            writer.appendZeros(3)
        }
        #expect(result.withUnsafeBytes { Array($0) } == [1, 2, 3, 9, 9, 0, 0, 0])
    }

    @Test func emptyIsFine() {
        #expect(SecureBytes.assemble { _ in }.count == 0)
    }
}
