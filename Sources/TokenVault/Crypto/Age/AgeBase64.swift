// Base64 as the age header writes it: the standard alphabet, no padding, and
// canonical only — a decoder that accepts exactly one spelling for each byte
// string (no '=', no CR/LF, no stray bits in the last character), so a header
// cannot be altered without changing its bytes. The padded form is for the
// armor, canonical too. Only non-secret data (headers, armored ciphertext)
// passes through here.

enum AgeBase64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, character) in alphabet.enumerated() { table[Int(character)] = UInt8(index) }
        return table
    }()

    /// Encodes `bytes` without padding.
    static func encode<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = iterator.next()
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | (b1 ?? 0) >> 4)])
            if let b1 { out.append(alphabet[Int((b1 & 0x0F) << 2 | (b2 ?? 0) >> 6)]) }
            if let b2 { out.append(alphabet[Int(b2 & 0x3F)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes canonical unpadded base64; nil for anything else.
    static func decode<Text: Collection>(_ text: Text) -> [UInt8]? where Text.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        return decode(text, emit: { out.append($0) }) ? out : nil
    }

    /// Decodes canonical unpadded base64, passing each byte to `emit`; false
    /// (some bytes perhaps emitted) for anything else.
    static func decode<Text: Collection>(_ text: Text, emit: (UInt8) -> Void) -> Bool where Text.Element == UInt8 {
        guard text.count % 4 != 1 else { return false }
        var accumulator: UInt32 = 0
        var bits = 0
        for character in text {
            let value = decodeTable[Int(character)]
            guard value != 0xFF else { return false }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                emit(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits must be zero, or two spellings would decode alike.
        return accumulator == 0
    }

    /// Decodes canonical unpadded base64 from a string; nil for anything else.
    static func decode(_ text: String) -> [UInt8]? { decode(Array(text.utf8)) }
}

extension AgeBase64 {
    /// Encodes `bytes` with `=` padding, as PEM and age's armor write it.
    static func encodePadded<Bytes: Collection>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let text = encode(bytes)
        return text + String(repeating: "=", count: (4 - text.utf8.count % 4) % 4)
    }

    /// Decodes canonical padded base64 (a multiple of four characters, the
    /// padding `=` only at the end, no stray bits); nil for anything else.
    static func decodePadded<Text: Collection>(_ text: Text) -> [UInt8]? where Text.Element == UInt8 {
        let characters = Array(text)
        guard characters.count % 4 == 0 else { return nil }
        var end = characters.count
        while end > 0 && characters.count - end < 2 && characters[end - 1] == UInt8(ascii: "=") { end -= 1 }
        return decode(characters[0..<end])
    }

    /// Decodes canonical padded base64 of a secret (an SSH private key)
    /// straight into a `SecureBytes`; nil for anything else.
    static func decodePaddedSecret(_ text: UnsafeRawBufferPointer) -> SecureBytes? {
        guard text.count % 4 == 0 else { return nil }
        var end = text.count
        while end > 0 && text.count - end < 2 && text[end - 1] == UInt8(ascii: "=") { end -= 1 }
        let body = UnsafeRawBufferPointer(rebasing: text[0..<end])
        let out = SecureBytes(zeroedCount: body.count * 3 / 4)
        var filled = 0
        let ok = out.withUnsafeMutableBytes { o in
            decode(body) { byte in
                if filled < o.count { o[filled] = byte }
                filled += 1
            }
        }
        return ok && filled == out.count ? out : nil
    }
}
