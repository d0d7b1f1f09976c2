// `ztoken list`: the token table, or JSON for scripts.
import ArgumentParser
import TokenVault

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List tokens.",
        discussion: "Shows id, label, kind, creation time, last four characters and state. Labels are printed with control characters escaped.")

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Include revoked tokens.")
    var all = false

    @Flag(help: "Print a JSON array, one object per token.")
    var json = false

    func run() throws {
        let vault = try vaultOptions.open()
        let tokens = try vault.tokens(includeRevoked: all)
        if json {
            // Bytes, not Strings: at 100,000 tokens string appends cost more than reading the vault.
            var out: [UInt8] = []
            out.reserveCapacity(tokens.count * 200 + 3)
            JSONText.appendArray(tokens, to: &out)
            out.append(UInt8(ascii: "\n"))
            Output.toStandardOutput(out)
            return
        }
        if tokens.isEmpty {
            Output.note(all ? "the vault holds no tokens" : "no active tokens")
            Output.hint("make one with 'ztoken create LABEL'")
            return
        }
        var rows = [["ID", "LABEL", "KIND", "CREATED", "LAST4", "STATE"]]
        for token in tokens {
            rows.append([token.id, Output.safe(token.label), token.kind.rawValue, token.createdAt, token.last4, token.state.rawValue])
        }
        Output.toStandardOutput(Table.render(rows))
    }
}

/// Left-aligned columns separated by two spaces, no trailing spaces; widths
/// in characters.
enum Table {
    static func render(_ rows: [[String]]) -> [UInt8] {
        guard let columnCount = rows.first?.count else { return [] }
        // A cell's width is its character count: its byte count when it is
        // ASCII without a CR LF pair (labels reach here escaped, so have none).
        func width(_ cell: String) -> Int {
            cell.utf8.allSatisfy { $0 < 0x80 && $0 != 0x0D } ? cell.utf8.count : cell.count
        }
        let cellWidths = rows.map { $0.map(width) }
        var widths = [Int](repeating: 0, count: columnCount)
        var total = 0
        for row in cellWidths { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell) } }
        for row in rows { for cell in row { total += cell.utf8.count } }
        var out: [UInt8] = []
        out.reserveCapacity(total + rows.count * (widths.reduce(0, +) + 2 * columnCount + 1))
        for (r, row) in rows.enumerated() {
            for (i, cell) in row.enumerated() {
                out.append(contentsOf: cell.utf8)
                if i < columnCount - 1 {
                    out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: widths[i] - cellWidths[r][i] + 2))
                }
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }
}
