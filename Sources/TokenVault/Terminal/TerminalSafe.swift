// Text from files and from other people (labels, paths inside a backup,
// server URLs) is shown on a terminal only through this escape, so it cannot
// move the cursor, recolour the screen or reorder the line.

/// Escapes text for display on a terminal: control characters, escape
/// sequences and bidirectional overrides become visible `\u{…}` escapes.
package enum TerminalSafe {
    /// Returns `text` with every character that could move the cursor, change
    /// colours or reorder the line replaced by a printable escape.
    package static func escape(_ text: String) -> String {
        // Printable ASCII without a backslash (nearly every id, label and
        // path) is safe as it is: no copy, no walk by scalars.
        if text.allUTF8({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if isDangerous(scalar) {
                switch scalar {
                case "\n": out += "\\n"
                case "\t": out += "\\t"
                case "\r": out += "\\r"
                default: out += "\\u{" + String(scalar.value, radix: 16) + "}"
                }
            } else if scalar == "\\" {
                out += "\\\\"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Control characters (C0, DEL, C1) and the bidirectional formatting
    /// characters that can make a label display as something else.
    package static func isDangerous(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x200E, 0x200F, 0x061C: return true  // LRM, RLM, ALM
        case 0x202A...0x202E, 0x2066...0x2069: return true  // embeddings, overrides, isolates
        case 0x2028, 0x2029: return true  // line and paragraph separators
        case 0x200B...0x200D, 0x2060, 0xFEFF: return true  // zero-width characters: look-alike labels
        default: return false
        }
    }
}
