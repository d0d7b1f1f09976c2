// Text encodings for the non-secret bytes that vault files carry (keys,
// salts, nonces, digests). Decoders are strict: a non-canonical or padded-
// wrong input is rejected rather than guessed at, since it may be tampering.
internal import CSodium

/// Lowercase hexadecimal.
enum Hex {
    /// Lowercase hex, written straight into the String's storage (a backup
    /// encodes a digest per record).
    static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { bytes in
            String(unsafeUninitializedCapacity: bytes.count * 2) { out in
                @inline(__always) func digit(_ nibble: UInt8) -> UInt8 {
                    nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") - 10 + nibble
                }
                for (i, byte) in bytes.enumerated() {
                    out[2 * i] = digit(byte >> 4)
                    out[2 * i + 1] = digit(byte & 15)
                }
                return bytes.count * 2
            }
        }
    }

    /// Decodes lowercase hex; nil for odd length or any other character.
    static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    /// True for a lowercase hex digit.
    static func isDigit(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x61...0x66).contains(c) }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }
}

/// Standard padded base64 (`sodium_bin2base64` / `sodium_base642bin`, ORIGINAL variant).
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        Sodium.ensureInitialized()
        let variant = Int32(sodium_base64_VARIANT_ORIGINAL)
        let length = sodium_base64_encoded_len(bytes.count, variant)
        var out = [CChar](repeating: 0, count: length)
        _ = sodium_bin2base64(&out, length, bytes, bytes.count, variant)
        // `length` counts the terminating NUL.
        return String(decoding: out.prefix(length - 1).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Decodes canonical padded base64; nil for anything else (whitespace included).
    static func decode(_ text: String) -> [UInt8]? {
        Sodium.ensureInitialized()
        let input = Array(text.utf8)
        var out = [UInt8](repeating: 0, count: input.count / 4 * 3 + 3)
        var length = 0
        var end: UnsafePointer<CChar>? = nil
        let status = input.withUnsafeBufferPointer { i in
            i.withMemoryRebound(to: CChar.self) { c in
                sodium_base642bin(
                    &out, out.count, c.baseAddress, c.count, nil, &length, &end,
                    Int32(sodium_base64_VARIANT_ORIGINAL))
            }
        }
        guard status == 0 else { return nil }
        let decoded = Array(out[0..<length])
        // Reject trailing bytes and non-canonical encodings by re-encoding.
        guard encode(decoded) == text else { return nil }
        return decoded
    }
}

extension String {
    /// Whether every byte of the UTF-8 form passes `test`, read from the
    /// string's own storage where it is contiguous (byte by byte through
    /// the UTF-8 view costs several times more).
    func allUTF8(_ test: (UInt8) -> Bool) -> Bool {
        utf8.withContiguousStorageIfAvailable { $0.allSatisfy(test) } ?? utf8.allSatisfy(test)
    }
}
