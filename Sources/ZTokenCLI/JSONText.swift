// JSON for command output, compact, one object per call: keys sorted,
// strings escaped by one function (`quote`). Field names follow one rule
// in every command (docs/SPEC.md §5): camelCase, an acronym written as a
// word (`serverUrl`, not `serverURL`), the same name for the same thing.
import ArgumentParser
import TokenVault

enum JSONText {
    /// A JSON string. Control characters, and U+2028/U+2029 (line breaks to
    /// JavaScript), are written as escapes.
    static func quote(_ text: String) -> String {
        // Most strings (ids, times, labels) need no escape: copy them whole.
        // 0xE2 leads U+2028 and U+2029 in UTF-8, so it takes the slow path.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0xE2 }) {
            return "\"" + text + "\""
        }
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

    /// An object of already-encoded values, keys sorted; nil values are left out.
    static func object(_ pairs: [(String, String?)]) -> String {
        let fields = pairs.sorted { $0.0 < $1.0 }.compactMap { key, value in value.map { quote(key) + ":" + $0 } }
        return "{" + fields.joined(separator: ",") + "}"
    }

    static func array(_ items: [String]) -> String { "[" + items.joined(separator: ",") + "]" }

    /// A token as `list --json` and `show --json` show it: every field the
    /// token has, none it has not; `adding` the fields of the command that
    /// reports it (where `zbot` wrote its bundle), so that a token has the
    /// same names in every command's JSON.
    static func object(_ token: TokenInfo, adding extra: [(String, String?)] = []) -> String {
        object(
            [
                ("id", quote(token.id)), ("label", quote(token.label)), ("kind", quote(token.kind.rawValue)),
                ("createdAt", quote(token.createdAt)), ("last4", quote(token.last4)),
                ("state", quote(token.state.rawValue)),
                ("revokedAt", token.revokedAt.map(quote)), ("agent", token.agentName.map(quote)),
                ("serverUrl", token.serverURL.map(quote)), ("note", token.note.map(quote)),
                ("expiresAt", token.expiresAt.map(quote)), ("rotatedFrom", token.rotatedFrom.map(quote)),
                ("rotatedTo", token.rotatedTo.map(quote)), ("neverDisplayed", token.wasNeverDisplayed ? "true" : nil),
            ] + extra)
    }

    /// A token named by id and label only (`restore`'s lost and gained tokens).
    static func named(id: String, label: String) -> String {
        object([("id", quote(id)), ("label", quote(label))])
    }

    static func number(_ n: Int) -> String { String(n) }
    static func bool(_ value: Bool) -> String { value ? "true" : "false" }

    /// Refuses `--json` with `--out -`: both would go to standard output.
    static func refuseWithStandardOutput(out: String?, json: Bool, what: String) throws {
        guard json, out == "-" else { return }
        throw ValidationError("--json and --out - both write to standard output; write the \(what) with --out FILE")
    }
}
