// Bech32 (BIP 173) as age uses it for `age1…` recipients and
// `AGE-SECRET-KEY-1…` identities: the original Bech32 checksum (not Bech32m),
// no 90-character limit, and a string must be all lower or all upper case.
// The human-readable part comes back in the case it was written, so callers
// compare it exactly ("age" is lower, "AGE-SECRET-KEY-" upper). Secret keys
// pass through here, so the data side works on `SecureBytes` and wipes its
// scratch buffers.

enum Bech32 {
    private static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    private static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (index, character) in charset.enumerated() {
            table[Int(character)] = Int8(index)
            // Upper-case forms decode alike; mixing cases is refused separately.
            if character >= 0x61 && character <= 0x7A { table[Int(character - 0x20)] = Int8(index) }
        }
        return table
    }()

    private static func polymod(_ values: UnsafeRawBufferPointer, into start: UInt32 = 1) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var checksum = start
        for value in values {
            let top = checksum >> 25
            checksum = (checksum & 0x1ffffff) << 5 ^ UInt32(value)
            for i in 0..<5 where (top >> UInt32(i)) & 1 == 1 { checksum ^= generator[i] }
        }
        return checksum
    }

    private static func expandedHRP(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    /// Encodes 8-bit `data` under `hrp` (lower case expected); `uppercase`
    /// renders the whole string in upper case, as age does for secret keys.
    static func encode(hrp: String, data: SecureBytes, uppercase: Bool) -> SecureBytes {
        let hrpBytes = Array(hrp.lowercased().utf8)
        let groups = (data.count * 8 + 4) / 5
        let values = SecureBytes(zeroedCount: groups + 6)
        values.withUnsafeMutableBytes { v in
            data.withUnsafeBytes { d in
                var accumulator: UInt32 = 0
                var bits = 0
                var index = 0
                for byte in d {
                    accumulator = accumulator << 8 | UInt32(byte)
                    bits += 8
                    while bits >= 5 {
                        bits -= 5
                        v[index] = UInt8((accumulator >> UInt32(bits)) & 31)
                        index += 1
                    }
                    accumulator &= (1 << UInt32(bits)) - 1
                }
                if bits > 0 {
                    v[index] = UInt8((accumulator << UInt32(5 - bits)) & 31)
                    index += 1
                }
                accumulator = 0
            }
            var check = expandedHRP(hrpBytes).withUnsafeBytes { polymod($0) }
            check = polymod(UnsafeRawBufferPointer(rebasing: v[0..<groups]), into: check)
            check = [UInt8](repeating: 0, count: 6).withUnsafeBytes { polymod($0, into: check) } ^ 1
            for i in 0..<6 { v[groups + i] = UInt8((check >> UInt32(5 * (5 - i))) & 31) }
        }
        let out = SecureBytes(zeroedCount: hrpBytes.count + 1 + groups + 6)
        out.withUnsafeMutableBytes { o in
            values.withUnsafeBytes { v in
                var index = 0
                for byte in hrpBytes {
                    o[index] = uppercase ? upper(byte) : byte
                    index += 1
                }
                o[index] = 0x31
                index += 1  // "1"
                for value in v {
                    o[index] = uppercase ? upper(charset[Int(value)]) : charset[Int(value)]
                    index += 1
                }
            }
        }
        return out
    }

    private static func upper(_ byte: UInt8) -> UInt8 { byte >= 0x61 && byte <= 0x7A ? byte - 0x20 : byte }

    /// Decodes a Bech32 string into its human-readable part (in the case it
    /// was written) and its 8-bit data. Nil for a bad checksum, mixed case,
    /// characters outside the charset, or non-zero padding bits.
    static func decode(_ text: UnsafeRawBufferPointer) -> (hrp: String, data: SecureBytes)? {
        var hasLower = false
        var hasUpper = false
        for byte in text {
            guard byte >= 33 && byte <= 126 else { return nil }
            if byte >= 0x61 && byte <= 0x7A { hasLower = true }
            if byte >= 0x41 && byte <= 0x5A { hasUpper = true }
        }
        guard !(hasLower && hasUpper) else { return nil }
        guard let separator = text.lastIndex(of: 0x31), separator >= 1, text.count - separator - 1 >= 6 else {
            return nil
        }
        let hrpBytes = Array(text[0..<separator])
        let lowerHRP = hrpBytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        let valueCount = text.count - separator - 1
        let values = SecureBytes(zeroedCount: valueCount)
        let valid: Bool = values.withUnsafeMutableBytes { v in
            for i in 0..<valueCount {
                let character = text[separator + 1 + i]
                guard character < 128, reverse[Int(character)] >= 0 else { return false }
                v[i] = UInt8(reverse[Int(character)])
            }
            let check = polymod(UnsafeRawBufferPointer(v), into: expandedHRP(lowerHRP).withUnsafeBytes { polymod($0) })
            return check == 1
        }
        guard valid else { return nil }
        let groups = valueCount - 6
        let data = SecureBytes(zeroedCount: groups * 5 / 8)
        let padded: Bool = values.withUnsafeBytes { v in
            data.withUnsafeMutableBytes { d in
                var accumulator: UInt32 = 0
                var bits = 0
                var index = 0
                defer { accumulator = 0 }
                for value in v[0..<groups] {
                    accumulator = accumulator << 5 | UInt32(value)
                    bits += 5
                    if bits >= 8 {
                        bits -= 8
                        d[index] = UInt8((accumulator >> UInt32(bits)) & 0xFF)
                        index += 1
                        accumulator &= (1 << UInt32(bits)) - 1
                    }
                }
                // At most four padding bits, all zero.
                return bits <= 4 && accumulator == 0
            }
        }
        guard padded else { return nil }
        return (String(decoding: hrpBytes, as: UTF8.self), data)
    }

    /// Decodes a non-secret Bech32 string (a recipient).
    static func decode(_ text: String) -> (hrp: String, data: SecureBytes)? {
        Array(text.utf8).withUnsafeBytes { decode($0) }
    }
}
