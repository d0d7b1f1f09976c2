// Reads and writes index.json by hand, because it is the one file that grows
// with the vault and every command reads it (JSONDecoder parsed it twice and
// cost most of `list` and `verify`). The rules:
// - The writer emits byte for byte what JSONEncoder with sorted keys, pretty
//   printing and unescaped slashes emits for `IndexFile` (the tests compare the
//   two), so files stay deterministic and diff the same as before.
// - The reader is a strict RFC 8259 parser for the index schema only: any
//   whitespace and key order, UTF-8 checked, duplicate keys refused, unknown
//   keys skipped (as Codable did). Errors are the same `VaultError` cases with
//   the same path: malformed JSON or no integer "version" → `.corrupt`, an
//   unknown version → `.unsupportedVersion` (before any schema error, since
//   another version may have another schema), then missing or mistyped fields
//   → `.corrupt` naming the field.

enum IndexCodec {
    static func encode(_ index: IndexFile) throws -> [UInt8] {
        IndexWriter.encode(index)
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> IndexFile {
        try bytes.withUnsafeBufferPointer { try IndexReader.decode($0, path: path) }
    }
}

/// The JSONEncoder layout (`.sortedKeys, .prettyPrinted, .withoutEscapingSlashes`)
/// of `IndexFile`, written straight into one byte buffer.
enum IndexWriter {
    static func encode(_ index: IndexFile) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + index.tokens.count * 360)
        appendHeader(to: &out)
        for (position, entry) in index.tokens.enumerated() {
            appendSeparator(first: position == 0, to: &out)
            appendEntry(entry, to: &out)
        }
        appendTrailer(version: index.version, empty: index.tokens.isEmpty, to: &out)
        return out
    }

    // The pieces of the layout, so that IndexTable can write a changed index
    // by copying the unchanged entries' bytes: header, then per entry a
    // separator and the entry (from its `{` to its `}`), then the trailer.

    static func appendHeader(to out: inout [UInt8]) {
        out.append(contentsOf: "{\n  \"tokens\" : [".utf8)
    }

    static func appendSeparator(first: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: first ? "\n    ".utf8 : ",\n    ".utf8)
    }

    static func appendTrailer(version: Int, empty: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: empty ? "\n\n  ]".utf8 : "\n  ]".utf8)
        out.append(contentsOf: ",\n  \"version\" : ".utf8)
        out.append(contentsOf: String(version).utf8)
        out.append(contentsOf: "\n}\n".utf8)
    }

    /// A non-negative integer in decimal, as JSONEncoder writes it, without
    /// making a String (a backup manifest writes a size per record).
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        precondition(value >= 0, "appendDecimal takes counts and sizes")
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes hold any Int
        withUnsafeMutableBytes(of: &digits) { digits in
            var rest = value, start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: digits[start...]))
        }
    }

    /// One entry, from its `{` to its `}`.
    static func appendEntry(_ entry: IndexFile.Entry, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        func field(_ key: StaticString, _ value: String?) {
            guard let value else { return }
            out.append(contentsOf: first ? "\n      \"".utf8 : ",\n      \"".utf8)
            first = false
            key.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: "\" : ".utf8)
            appendQuoted(value, to: &out)
        }
        // Sorted as JSONEncoder sorts them.
        field("agent", entry.agent)
        field("createdAt", entry.createdAt)
        field("digest", entry.digest)
        field("id", entry.id)
        field("kind", entry.kind)
        field("label", entry.label)
        field("last4", entry.last4)
        field("revokedAt", entry.revokedAt)
        field("serverURL", entry.serverURL)
        field("state", entry.state)
        out.append(contentsOf: "\n    }".utf8)
    }

    /// A JSON string as JSONEncoder writes it: `"` and `\` escaped, control
    /// characters as \b \t \n \f \r or \u00xx, everything else as UTF-8.
    static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendQuoted($0, to: &out) }
    }

    static func appendQuoted(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Nearly every value (ids, dates, digests, most labels) needs no
        // escape: one copy, not a byte-by-byte append.
        guard bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            out.append(contentsOf: bytes)
            out.append(UInt8(ascii: "\""))
            return
        }
        let hex = Array("0123456789abcdef".utf8)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(byte)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(byte)
            case 0x08: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "b"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0C: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "f"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x00..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 15)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
