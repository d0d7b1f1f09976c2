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
}
