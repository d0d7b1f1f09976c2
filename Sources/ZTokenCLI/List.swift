// `ztoken list`: the token table, or JSON for scripts.
import ArgumentParser
import TokenVault

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        _superCommandName: ZToken.name,
        abstract: "List tokens.",
        discussion: """
            Shows id, label, kind, creation time, last four characters and state (active or expired; \
            with --all also revoked), then the expiry time and the note when a token has them. Labels \
            and notes are printed with control characters escaped.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Include revoked tokens.")
    var all = false

    @Option(
        help: ArgumentHelp(
            "Only active tokens that expire within this time (a duration such as 7d, or a date).",
            valueName: "when"))
    var expiring: String?

    @Flag(help: "Print a JSON array, one object per token.")
    var json = false

    /// Notes longer than this are cut short in the table (`show` prints them whole).
    static let noteWidth = 40

    func validate() throws {
        if all && expiring != nil { throw ValidationError("--expiring lists active tokens only; drop --all") }
    }

    func run() throws {
        let vault = try vaultOptions.open()
        var tokens = try vault.tokens(includeRevoked: all)
        if let expiring {
            let deadline = Expiry.format(try Expiry.deadline(expiring))
            // RFC 3339 UTC strings of one length order as the times they name.
            tokens = tokens.filter { $0.state == .active && ($0.expiresAt.map { $0 <= deadline } ?? false) }
        }
        if json {
            print(JSONText.array(tokens.map(JSONText.object)))
            return
        }
        if tokens.isEmpty {
            if expiring != nil {
                Output.note("no active tokens expire within \(Output.safe(expiring ?? ""))")
                return
            }
            Output.note(all ? "the vault holds no tokens" : "no active tokens")
            Output.hint("make one with 'ztoken create LABEL'")
            return
        }
        var header = ["ID", "LABEL", "KIND", "CREATED", "LAST4", "STATE"]
        var rows = tokens.map { [$0.id, $0.label, $0.kind.rawValue, $0.createdAt, $0.last4, $0.state.rawValue] }
        // The newer columns appear only when a listed token has a value for
        // them, so the table of a vault that uses neither stays as it was.
        if tokens.contains(where: { $0.expiresAt != nil }) {
            header.append("EXPIRES")
            for (row, token) in tokens.enumerated() { rows[row].append(token.expiresAt ?? "never") }
        }
        if tokens.contains(where: { $0.note != nil }) {
            header.append("NOTE")
            for (row, token) in tokens.enumerated() { rows[row].append(Self.shortened(token.note ?? "")) }
        }
        Output.toStandardOutput(Table.render(header: header, rows: rows))
    }

    /// A note cut to `noteWidth` characters, with "…" where it was cut.
    static func shortened(_ note: String) -> String {
        note.count <= noteWidth ? note : String(note.prefix(noteWidth - 1)) + "…"
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
            // Empty cells at the end of a row (no note) are not padded.
            let used = (line.lastIndex { !$0.text.isEmpty } ?? 0) + 1
            for (column, cell) in line.prefix(used).enumerated() {
                out.append(contentsOf: cell.text.utf8)
                if column < used - 1 {
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
