// Escaping for Java properties files, so that `java.util.Properties.load`
// (from an InputStream, ISO-8859-1, or a Reader) reads every key and value
// back exactly. Rules: the output is ASCII only; `\ = : # !` are escaped with
// a backslash; tab, newline, carriage return and form feed become `\t \n \r
// \f`; every other control character and every non-ASCII character becomes
// `\uXXXX` per UTF-16 code unit (astral characters as surrogate pairs); spaces
// are escaped everywhere in keys and at the start of values (Java skips
// leading whitespace there). Input must be valid UTF-8; nothing is guessed.
// Values may be secrets, so escaping writes straight into a `SecretWriter`.

/// Escapes keys and values for a Java `.properties` file.
enum JavaProperties {
    /// Where text goes in a `key=value` line; keys escape every space.
    enum Role: Sendable {
        case key
        case value
    }

    /// The escaped key, as ASCII bytes. Keys are never secret.
    static func escapedKey(_ key: String) -> [UInt8] {
        escaped(key, as: .key)
    }

    /// The escaped value, as ASCII bytes, for a value that is not secret.
    static func escapedValue(_ value: String) -> [UInt8] {
        escaped(value, as: .value)
    }

    /// The escaped value of a secret, built directly into a new secret buffer.
    ///
    /// Throws `VaultError.invalidArgument` if the secret is not valid UTF-8
    /// (a properties file cannot carry arbitrary bytes).
    static func escapedValue(_ secret: SecureBytes) throws -> SecureBytes {
        try SecureBytes.assemble { writer in
            try secret.withUnsafeBytes { try escape(utf8: $0, as: .value, into: &writer) }
        }
    }

    /// A key-value line without its line terminator: `key=value`.
    static func line(key: String, value: String) -> [UInt8] {
        escapedKey(key) + [UInt8(ascii: "=")] + escapedValue(value)
    }

    private static func escaped(_ text: String, as role: Role) -> [UInt8] {
        var out: [UInt8] = []
        var first = true
        for scalar in text.unicodeScalars {
            escape(scalar, as: role, isFirst: first) { out.append($0) }
            first = false
        }
        return out
    }

    /// Escapes UTF-8 `bytes` into `writer`. Decoding is strict (Swift's UTF-8
    /// decoder rejects overlong forms, surrogates and values past U+10FFFF)
    /// and allocates nothing, so a secret is never copied.
    static func escape(utf8 bytes: UnsafeRawBufferPointer, as role: Role, into writer: inout SecretWriter) throws {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var first = true
        decoding: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                escape(scalar, as: role, isFirst: first) { writer.append($0) }
                first = false
            case .emptyInput:
                break decoding
            case .error:
                throw VaultError.invalidArgument(
                    "a properties \(role == .key ? "key" : "value") is not valid UTF-8",
                    hint: "tokens, names and URLs must be UTF-8 text")
            }
        }
    }

    /// Escapes one scalar, handing each output byte to `emit`.
    @inline(__always)
    static func escape(_ scalar: Unicode.Scalar, as role: Role, isFirst: Bool, emit: (UInt8) -> Void) {
        let backslash = UInt8(ascii: "\\")
        switch scalar.value {
        case 0x5C, 0x3D, 0x3A, 0x23, 0x21:  // \ = : # !
            emit(backslash)
            emit(UInt8(scalar.value))
        case 0x09:
            emit(backslash)
            emit(UInt8(ascii: "t"))
        case 0x0A:
            emit(backslash)
            emit(UInt8(ascii: "n"))
        case 0x0D:
            emit(backslash)
            emit(UInt8(ascii: "r"))
        case 0x0C:
            emit(backslash)
            emit(UInt8(ascii: "f"))
        case 0x20:
            if role == .key || isFirst { emit(backslash) }
            emit(0x20)
        case 0x21...0x7E:
            emit(UInt8(scalar.value))
        case 0x10000...:
            let v = scalar.value - 0x10000
            emitUnicodeEscape(UInt16(0xD800 + (v >> 10)), emit: emit)
            emitUnicodeEscape(UInt16(0xDC00 + (v & 0x3FF)), emit: emit)
        default:  // other C0 controls, DEL, and everything non-ASCII in the BMP
            emitUnicodeEscape(UInt16(scalar.value), emit: emit)
        }
    }

    /// Writes a literal non-ASCII scalar of template text as `\uXXXX`, leaving
    /// ASCII bytes alone, so a user's template comes out ASCII only.
    static func escapeNonASCII(_ scalar: Unicode.Scalar, emit: (UInt8) -> Void) {
        if scalar.isASCII {
            emit(UInt8(scalar.value))
        } else if scalar.value >= 0x10000 {
            let v = scalar.value - 0x10000
            emitUnicodeEscape(UInt16(0xD800 + (v >> 10)), emit: emit)
            emitUnicodeEscape(UInt16(0xDC00 + (v & 0x3FF)), emit: emit)
        } else {
            emitUnicodeEscape(UInt16(scalar.value), emit: emit)
        }
    }

    private static func emitUnicodeEscape(_ unit: UInt16, emit: (UInt8) -> Void) {
        // Upper-case hex digits, as Properties.store writes them.
        func digit(_ nibble: UInt16) -> UInt8 {
            let n = UInt8(nibble & 0xF)
            return n < 10 ? 0x30 + n : 0x37 + n
        }
        emit(UInt8(ascii: "\\"))
        emit(UInt8(ascii: "u"))
        emit(digit(unit >> 12))
        emit(digit(unit >> 8))
        emit(digit(unit >> 4))
        emit(digit(unit))
    }
}
