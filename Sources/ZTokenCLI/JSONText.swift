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

    static func object(for token: TokenInfo) -> String {
        object([
            ("agent", token.agentName.map(quote)),
            ("createdAt", quote(token.createdAt)),
            ("id", quote(token.id)),
            ("kind", quote(token.kind.rawValue)),
            ("label", quote(token.label)),
            ("last4", quote(token.last4)),
            ("revokedAt", token.revokedAt.map(quote)),
            ("serverURL", token.serverURL.map(quote)),
            ("state", quote(token.state.rawValue)),
        ])
    }

    // The same text as `array(tokens.map(object(for:)))`, built as bytes.

    static func appendArray(_ tokens: [TokenInfo], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (n, token) in tokens.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            append(token, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    static func append(_ token: TokenInfo, to out: inout [UInt8]) {
        var first = true
        func field(_ key: StaticString, _ value: String?) {
            guard let value else { return }
            out.append(contentsOf: first ? "{\"".utf8 : ",\"".utf8)
            first = false
            key.withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(contentsOf: "\":".utf8)
            appendQuoted(value, to: &out)
        }
        field("agent", token.agentName)
        field("createdAt", token.createdAt)
        field("id", token.id)
        field("kind", token.kind.rawValue)
        field("label", token.label)
        field("last4", token.last4)
        field("revokedAt", token.revokedAt)
        field("serverURL", token.serverURL)
        field("state", token.state.rawValue)
        out.append(UInt8(ascii: "}"))
    }

    /// `quote(text)` as bytes: the same escapes, decided on UTF-8 (U+2028 and
    /// U+2029 are E2 80 A8 and E2 80 A9).
    private static let hex = Array("0123456789abcdef".utf8)

    static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
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
        }
        out.append(UInt8(ascii: "\""))
    }
}
