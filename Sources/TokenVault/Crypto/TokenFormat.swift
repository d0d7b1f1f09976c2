// What a token looks like. A minted token is `ztk_` + 33 base62 characters
// carrying 192 bits from libsodium's CSPRNG + a 6-character base62 CRC32 of
// everything before it — the layout public code hosts use, so a secret
// scanner can recognise a leaked token and reject a look-alike offline. An
// imported token may have any form within the printable-ASCII rules below.
// Tokens are secrets: they are built and checked inside `SecureBytes`.
internal import CSodium

/// The shape rules for minted and imported tokens.
public enum TokenFormat {
    /// Every minted token starts with this prefix.
    public static let prefix = "ztk_"
    /// Random bytes in a minted token (192 bits).
    static let randomByteCount = 24
    /// Base62 digits that hold `randomByteCount` bytes: ceil(192 / log2 62).
    static let randomDigitCount = 33
    /// Base62 digits of the CRC32 checksum: 62^6 > 2^32.
    static let checksumDigitCount = 6
    /// Length of every minted token.
    public static let mintedLength = prefix.utf8.count + randomDigitCount + checksumDigitCount
    /// Bounds on an imported token's length.
    public static let importedLengthRange = 16...512

    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// Why a presented token is not well-formed.
    public enum Problem: String, Sendable {
        /// Not a token of any form ztoken accepts.
        case malformed
        /// Looks minted (`ztk_…`) but its checksum does not match.
        case badChecksum = "bad checksum"
    }

    /// Mints a new token from the CSPRNG.
    static func mint() -> SecureBytes {
        let random = SecureBytes.random(count: randomByteCount)
        let token = SecureBytes(zeroedCount: mintedLength)
        token.withUnsafeMutableBytes { out in
            UnsafeMutableRawBufferPointer(rebasing: out[0..<4]).copyBytes(from: prefix.utf8)
            random.withUnsafeBytes { r in
                base62Encode(r, into: UnsafeMutableRawBufferPointer(rebasing: out[4..<(4 + randomDigitCount)]))
            }
            let body = UnsafeRawBufferPointer(rebasing: out[0..<(4 + randomDigitCount)])
            writeChecksum(crc32(body), into: UnsafeMutableRawBufferPointer(rebasing: out[(4 + randomDigitCount)...]))
        }
        return token
    }

    /// Checks the shape of a presented token: a `ztk_` token must be exactly
    /// the minted form with a valid checksum; anything else must satisfy the
    /// imported-token rules. Returns nil when the shape is acceptable.
    public static func problem(with token: SecureBytes) -> Problem? {
        token.withUnsafeBytes { bytes -> Problem? in
            if bytes.count == mintedLength, bytes.starts(with: prefix.utf8) {
                let digits = bytes[4...]
                guard digits.allSatisfy({ isBase62($0) }) else { return .malformed }
                return hasValidChecksum(bytes) ? nil : .badChecksum
            }
            if bytes.starts(with: prefix.utf8) && bytes.allSatisfy({ isBase62($0) || $0 == UInt8(ascii: "_") }) {
                // Shaped like ours but the wrong length: a truncated copy-paste.
                return .malformed
            }
            return isAcceptableImport(bytes) ? nil : .malformed
        }
    }

    /// True for a token of the minted form (`ztk_`, base62, the length of a
    /// minted token) whose checksum is right, whether minted here or imported.
    static func isMintedForm(_ token: SecureBytes) -> Bool {
        token.withUnsafeBytes { isWellFormedMinted($0) }
    }

    /// The test `scan` applies to `mintedLength` bytes that start with the
    /// prefix: base62 digits after it, and a checksum that matches.
    static func isWellFormedMinted(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count == mintedLength && bytes.starts(with: prefix.utf8) && bytes[4...].allSatisfy { isBase62($0) }
            && hasValidChecksum(bytes)
    }

    /// The last six digits are the base62 CRC32 of the rest; compared in
    /// constant time, as a presented token is a secret.
    private static func hasValidChecksum(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let body = UnsafeRawBufferPointer(rebasing: bytes[0..<(4 + randomDigitCount)])
        var expected = [UInt8](repeating: 0, count: checksumDigitCount)
        expected.withUnsafeMutableBytes { writeChecksum(crc32(body), into: $0) }
        let actual = Array(bytes[(4 + randomDigitCount)...])
        return Sodium.constantTimeEquals(expected, actual)
    }

    /// An imported token: 16 to 512 printable ASCII characters, no spaces.
    static func isAcceptableImport(_ bytes: UnsafeRawBufferPointer) -> Bool {
        importedLengthRange.contains(bytes.count) && bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// The last four characters, shown in listings as token pages do.
    static func lastFour(of token: SecureBytes) -> String {
        token.withUnsafeBytes { String(decoding: $0.suffix(4), as: UTF8.self) }
    }

    /// BLAKE2b-256 of the token, hex: what the index keeps for offline verification.
    static func digest(of token: SecureBytes) -> String {
        token.withUnsafeBytes { Hex.encode(Sodium.blake2b256($0)) }
    }

    // MARK: - Encoding

    private static func isBase62(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// Big-endian base62 of `input`, left-padded with "0" to fill `output`.
    /// Works in a scratch copy that is wiped afterwards: the input is secret.
    static func base62Encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        let scratch = SecureBytes(copying: input)
        scratch.withUnsafeMutableBytes { number in
            for position in stride(from: output.count - 1, through: 0, by: -1) {
                // Divide the big-endian number by 62 in place; the remainder is the next digit.
                var remainder: UInt32 = 0
                for i in 0..<number.count {
                    let value = (remainder << 8) | UInt32(number[i])
                    number[i] = UInt8(value / 62)
                    remainder = value % 62
                }
                output[position] = alphabet[Int(remainder)]
            }
        }
    }

    private static func writeChecksum(_ checksum: UInt32, into output: UnsafeMutableRawBufferPointer) {
        var value = checksum
        for position in stride(from: output.count - 1, through: 0, by: -1) {
            output[position] = alphabet[Int(value % 62)]
            value /= 62
        }
    }

    /// CRC-32 (IEEE 802.3, the zlib polynomial), as secret scanners compute it.
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
