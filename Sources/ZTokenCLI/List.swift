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
            print(JSONText.array(tokens.map(JSONText.object(for:))))
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
        print(Table.render(rows), terminator: "")
    }
}

/// Left-aligned columns separated by two spaces, no trailing spaces.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        guard let columnCount = rows.first?.count else { return "" }
        var widths = [Int](repeating: 0, count: columnCount)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += cell
                if i < columnCount - 1 { line += String(repeating: " ", count: widths[i] - cell.count + 2) }
            }
            out += line + "\n"
        }
        return out
    }
}
