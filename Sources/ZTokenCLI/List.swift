// `ztoken list`: the token table, or JSON for scripts.
import ArgumentParser
import TokenVault

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        _superCommandName: ZToken.name,
        abstract: "List tokens.",
        discussion:
            "Shows id, label, kind, creation time, last four characters and state. Labels are printed with control characters escaped.",
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Include revoked tokens.")
    var all = false

    @Flag(help: "Print a JSON array, one object per token.")
    var json = false

    func run() throws {
        let tokens = try vaultOptions.open().tokens(includeRevoked: all)
        if json {
            print(JSONText.array(tokens.map(JSONText.object)))
            return
        }
        if tokens.isEmpty {
            Output.note(all ? "the vault holds no tokens" : "no active tokens")
            Output.hint("make one with 'ztoken create LABEL'")
            return
        }
        let rows = tokens.map { [$0.id, $0.label, $0.kind.rawValue, $0.createdAt, $0.last4, $0.state.rawValue] }
        Output.toStandardOutput(Table.render(header: ["ID", "LABEL", "KIND", "CREATED", "LAST4", "STATE"], rows: rows))
    }
}

/// Left-aligned columns separated by two spaces, no trailing spaces; widths
/// in characters. Every cell is made terminal-safe (`Output.safe`), so text
/// from a file cannot move the cursor or recolour the screen.
enum Table {
    static func render(header: [String], rows: [[String]]) -> [UInt8] {
        let lines = ([header] + rows).map { $0.map(shown) }
        var widths = header.map { _ in 0 }
        for line in lines {
            for (column, cell) in line.enumerated() { widths[column] = max(widths[column], cell.width) }
        }
        var out: [UInt8] = []
        out.reserveCapacity(lines.count * (widths.reduce(0, +) + 2 * widths.count))
        for line in lines {
            for (column, cell) in line.enumerated() {
                out.append(contentsOf: cell.text.utf8)
                if column < line.count - 1 {
                    out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: widths[column] - cell.width + 2))
                }
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// A cell as printed, and the columns it takes: one a character.
    private static func shown(_ cell: String) -> (text: String, width: Int) {
        let plain = cell.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }
        }
        if plain ?? false { return (cell, cell.utf8.count) }
        let text = Output.safe(cell)
        return (text, text.count)
    }
}
