// `ztoken list`: the token table, or JSON for scripts.
import ArgumentParser
import TokenVault

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
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
        let labels = tokens.map { Output.safe($0.label) }
        let table = Table.render(header: ["ID", "LABEL", "KIND", "CREATED", "LAST4", "STATE"], rows: tokens.count) { row, column in
            let token = tokens[row]
            switch column {
            case 0: return token.id
            case 1: return labels[row]
            case 2: return token.kind.rawValue
            case 3: return token.createdAt
            case 4: return token.last4
            default: return token.state.rawValue
            }
        }
        Output.toStandardOutput(table)
    }
}

/// Left-aligned columns separated by two spaces, no trailing spaces; widths
/// in characters.
enum Table {
    static func render(_ rows: [[String]]) -> [UInt8] {
        guard let header = rows.first else { return [] }
        return render(header: header, rows: rows.count - 1) { rows[$0 + 1][$1] }
    }

    /// The header, then `rows` rows whose cells `cell(row, column)` gives.
    static func render(header: [String], rows: Int, cell: (Int, Int) -> String) -> [UInt8] {
        let columnCount = header.count
        // A cell's width is its character count: its byte count when it is
        // ASCII without a CR LF pair (labels reach here escaped, so have none).
        func width(_ cell: String) -> Int {
            cell.utf8.allSatisfy { $0 < 0x80 && $0 != 0x0D } ? cell.utf8.count : cell.count
        }
        func text(_ row: Int, _ column: Int) -> String { row < 0 ? header[column] : cell(row, column) }
        var widths = [Int](repeating: 0, count: columnCount)
        var total = 0
        for row in -1..<rows {
            for column in 0..<columnCount {
                let cell = text(row, column)
                widths[column] = max(widths[column], width(cell))
                total += cell.utf8.count
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(total + (rows + 1) * (widths.reduce(0, +) + 2 * columnCount + 1))
        for row in -1..<rows {
            for column in 0..<columnCount {
                let cell = text(row, column)
                out.append(contentsOf: cell.utf8)
                if column < columnCount - 1 {
                    out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: widths[column] - width(cell) + 2))
                }
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }
}
