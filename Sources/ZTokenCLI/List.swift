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
            with --all also revoked, and a REVOKED column with the time), then the expiry time and the \
            note when a token has them. Labels and notes are printed with control characters escaped. \
            On a terminal, labels too long for its width are cut with "…" (show prints them whole).
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Include revoked tokens, and when each was revoked.")
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
            print(JSONText.array(tokens.map { JSONText.object($0) }))
            return
        }
        if tokens.isEmpty {
            if expiring != nil {
                Output.note("no active tokens expire within \(Output.safe(expiring ?? ""))")
                return
            }
            Output.note(all ? "the vault holds no tokens" : "no active tokens")
            Output.noteHint("make one with 'ztoken create LABEL'")
            return
        }
        var header = ["ID", "LABEL", "KIND", "CREATED", "LAST4", "STATE"]
        var rows = tokens.map { [$0.id, $0.label, $0.kind.rawValue, $0.createdAt, $0.last4, $0.state.rawValue] }
        if all {
            header.append("REVOKED")
            for (row, token) in tokens.enumerated() { rows[row].append(token.revokedAt ?? "-") }
        }
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
        // On a terminal, long labels are cut to fit its width; a pipe or a
        // file gets every label whole, as --json does.
        // The STATE cell is coloured on a terminal (Output.colours decides).
        let stateColumn = header.firstIndex(of: "STATE") ?? 0
        Output.toStandardOutput(
            Table.render(
                header: header, rows: rows, fitting: Terminal.standardOutputColumns, shrinking: 1,
                colour: { row, column in
                    guard column == stateColumn else { return nil }
                    switch tokens[row].state {
                    case .active: return .green
                    case .expired: return .yellow
                    case .revoked: return .red
                    }
                }))
    }

    /// A note cut to `noteWidth` characters, with "…" where it was cut.
    static func shortened(_ note: String) -> String {
        note.count <= noteWidth ? note : String(note.prefix(noteWidth - 1)) + "…"
    }
}

/// Left-aligned columns separated by two spaces, no trailing spaces; widths
/// in terminal columns (`DisplayWidth`). Every cell is made terminal-safe
/// (`Output.safe`), so text from a file cannot move the cursor or recolour
/// the screen.
enum Table {
    /// The narrowest a shrinking column gets, so a label stays recognisable
    /// on a narrow terminal (the line wraps instead).
    static let minimumShrunkWidth = 12

    /// Renders the table; when `width` is given and the table is wider, the
    /// cells of column `shrinking` are cut (with "…") until it fits. A cell
    /// of a row (not the header) is painted in the colour `colour` gives it,
    /// when standard output may be coloured; padding is counted without it.
    static func render(
        header: [String], rows: [[String]], fitting width: Int? = nil, shrinking: Int = 0,
        colour: (_ row: Int, _ column: Int) -> Output.Colour? = { _, _ in nil }
    ) -> [UInt8] {
        let paints = Output.colours(standardError: false)
        var widths = header.map { shown($0).width }
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], shown(cell).width) }
        }
        func cut(_ cell: String, to target: Int) -> String {
            DisplayWidth.truncated(shown(cell).text, toWidth: target)
        }
        // The width that cells of column `shrinking` are cut to, when the table is too wide.
        var cutWidth: Int?
        let total = widths.reduce(0, +) + 2 * (widths.count - 1)
        if let width, total > width, shrinking < widths.count {
            let target = max(widths[shrinking] - (total - width), min(widths[shrinking], minimumShrunkWidth))
            cutWidth = target
            widths[shrinking] = rows.reduce(shown(header[shrinking]).width) { widest, row in
                let cell = shown(row[shrinking]).width
                return max(widest, cell > target ? DisplayWidth.of(cut(row[shrinking], to: target)) : cell)
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity((rows.count + 1) * (widths.reduce(0, +) + 2 * widths.count))
        for (index, line) in ([header] + rows).enumerated() {
            let row = index > 0 ? index - 1 : nil
            // Empty cells at the end of a row (no note) are not padded.
            let used = (line.lastIndex { !$0.isEmpty } ?? 0) + 1
            for (column, cell) in line.prefix(used).enumerated() {
                var (text, width) = shown(cell)
                if let cutWidth, row != nil, column == shrinking, width > cutWidth {
                    text = cut(cell, to: cutWidth)
                    width = DisplayWidth.of(text)
                }
                if paints, let row, let tint = colour(row, column) {
                    text = Output.painted(text, tint, standardError: false)
                }
                text.utf8.withContiguousStorageIfAvailable { out.append(contentsOf: $0) }
                    ?? out.append(contentsOf: text.utf8)
                if column < used - 1 {
                    for _ in 0..<(widths[column] - width + 2) { out.append(UInt8(ascii: " ")) }
                }
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// A cell as printed, and the columns it takes.
    private static func shown(_ cell: String) -> (text: String, width: Int) {
        let plain = cell.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }
        }
        if plain ?? false { return (cell, cell.utf8.count) }
        let text = Output.safe(cell)
        return (text, DisplayWidth.of(text))
    }
}
