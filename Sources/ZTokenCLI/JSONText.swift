// Hand-written JSON for command output: keys sorted, strings escaped, no
// Foundation on the hot path of `list --json`.
import TokenVault

enum JSONText {
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// An object with keys in sorted order; nil values are left out.
    static func object(_ pairs: [(String, String?)]) -> String {
        let fields = pairs.compactMap { key, value in value.map { quote(key) + ":" + $0 } }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func array(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }

    /// The listed tokens as a JSON array of objects, keys sorted, absent
    /// fields left out, strings escaped as `quote` escapes them; built from
    /// the index's bytes. From `Table.parallelRows` rows on, runs of rows
    /// are written on every core and joined.
    static func array(_ fields: TokenListing.Fields) -> [UInt8] {
        let rows = fields.count
        let parts = rows >= Table.parallelRows ? min(Parallel.processorCount, 4) : 1
        let pieces = Parallel.map(count: parts, parts: parts) { part in
            objects(fields, (rows * part / parts)..<(rows * (part + 1) / parts))
        }
        var out: [UInt8] = []
        out.reserveCapacity(pieces.reduce(2 + parts) { $0 + $1.count })
        out.append(UInt8(ascii: "["))
        for piece in pieces where !piece.isEmpty {
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: piece)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// The objects of a run of rows, separated by commas.
    private static func objects(_ fields: TokenListing.Fields, _ rows: Range<Int>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(rows.count * 200)
        for row in rows {
            if row > rows.lowerBound { out.append(UInt8(ascii: ",")) }
            var first = true
            func field(_ key: StaticString, _ value: UnsafeBufferPointer<UInt8>?) {
                guard let value else { return }
                out.append(contentsOf: first ? "{\"".utf8 : ",\"".utf8)
                first = false
                key.withUTF8Buffer { out.append(contentsOf: $0) }
                out.append(contentsOf: "\":".utf8)
                appendQuoted(value, to: &out)
            }
            field("agent", fields.agentName(row))
            field("createdAt", fields.createdAt(row))
            field("id", fields.id(row))
            field("kind", fields.kind(row))
            field("label", fields.label(row))
            field("last4", fields.last4(row))
            field("revokedAt", fields.revokedAt(row))
            field("serverURL", fields.serverURL(row))
            field("state", fields.state(row))
            out.append(UInt8(ascii: "}"))
        }
        return out
    }

    /// `quote(text)` as bytes: the same escapes, decided on UTF-8 (U+2028 and
    /// U+2029 are E2 80 A8 and E2 80 A9).
    private static let hex = Array("0123456789abcdef".utf8)

    static func appendQuoted(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Printable ASCII without a backslash (most values) needs no escape
        // at all: one copy instead of a decision per byte. Quotes still need one.
        if Table.isPlain(bytes), !bytes.contains(UInt8(ascii: "\"")) {
            out.append(contentsOf: bytes)
            out.append(UInt8(ascii: "\""))
            return
        }
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
            case 0x0A: out.append(contentsOf: "\\n".utf8)
            case 0x0D: out.append(contentsOf: "\\r".utf8)
            case 0x09: out.append(contentsOf: "\\t".utf8)
            case 0x00..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 15)])
            case 0xE2 where i + 2 < bytes.count && bytes[i + 1] == 0x80 && (bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9):
                out.append(contentsOf: (bytes[i + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                i += 2
            default: out.append(byte)
            }
            i += 1
        }
        out.append(UInt8(ascii: "\""))
    }
}
