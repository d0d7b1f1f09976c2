// `ztoken list`: the token table, or JSON for scripts.
import ArgumentParser
import TokenVault

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        _superCommandName: ZToken.name,
        abstract: "List tokens.",
        discussion: "Shows id, label, kind, creation time, last four characters and state. Labels are printed with control characters escaped.",
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Include revoked tokens.")
    var all = false

    @Flag(help: "Print a JSON array, one object per token.")
    var json = false

    func run() throws {
        let vault = try vaultOptions.open()
        let listing = try vault.listing(includeRevoked: all)
        if json {
            // Bytes, not Strings: at 100,000 tokens string appends cost more than reading the vault.
            var out = listing.withFields(JSONText.array)
            out.append(UInt8(ascii: "\n"))
            Output.toStandardOutput(out)
            return
        }
        if listing.isEmpty {
            Output.note(all ? "the vault holds no tokens" : "no active tokens")
            Output.hint("make one with 'ztoken create LABEL'")
            return
        }
        let table = listing.withFields { fields in
            Table.render(header: ["ID", "LABEL", "KIND", "CREATED", "LAST4", "STATE"], rows: fields.count) { row, column in
                switch column {
                case 0: fields.id(row)
                case 1: fields.label(row)
                case 2: fields.kind(row)
                case 3: fields.createdAt(row)
                case 4: fields.last4(row)
                default: fields.state(row)
                }
            }
        }
        Output.toStandardOutput(table)
    }
}

/// Left-aligned columns separated by two spaces, no trailing spaces; widths
/// in characters. Every cell is made terminal-safe (`Output.safe`), so text
/// from a file cannot move the cursor or recolour the screen.
enum Table {
    /// The header, then `rows` rows whose cells `cell(row, column)` gives as
    /// UTF-8. The buffers must stay valid for the call.
    ///
    /// Two passes: the first measures (and escapes the few cells that need
    /// it), the second copies into a buffer sized from those widths. At
    /// 10,000 rows appending cell by cell to an array cost more than reading
    /// the vault.
    static func render(header: [String], rows: Int, cell: (Int, Int) -> UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let columnCount = header.count
        let headerCells = header.map { Array($0.utf8) }
        var widths = headerCells.map(\.count)
        // Cells that are not plain printable ASCII, escaped: few or none.
        var escaped: [Int: (bytes: [UInt8], width: Int)] = [:]
        var escapedBytes = 0
        for row in 0..<rows {
            for column in 0..<columnCount {
                let bytes = cell(row, column)
                var width = bytes.count
                if !isPlain(bytes) {
                    let text = Output.safe(String(decoding: bytes, as: UTF8.self))
                    // Escaped text has no control characters, so no CR LF pair either.
                    width = text.utf8.allSatisfy { $0 < 0x80 } ? text.utf8.count : text.count
                    escaped[row &* columnCount &+ column] = (Array(text.utf8), width)
                    escapedBytes += text.utf8.count
                }
                widths[column] = max(widths[column], width)
            }
        }
        // Every line fits in its columns' widths, two spaces between columns
        // and a newline; escaped cells may have more bytes than columns.
        let lineBound = widths.reduce(0, +) + 2 * (columnCount - 1) + 1
        let bound = (rows + 1) * lineBound + escapedBytes
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            var next = buffer.baseAddress!
            for row in -1..<rows {
                for column in 0..<columnCount {
                    // The last column is not padded: no trailing spaces.
                    let columns = column < columnCount - 1 ? widths[column] + 2 : 0
                    if row < 0 {
                        headerCells[column].withUnsafeBufferPointer {
                            put($0, width: $0.count, in: columns, at: &next)
                        }
                    } else if let (bytes, width) = escaped[row &* columnCount &+ column] {
                        bytes.withUnsafeBufferPointer { put($0, width: width, in: columns, at: &next) }
                    } else {
                        let bytes = cell(row, column)
                        put(bytes, width: bytes.count, in: columns, at: &next)
                    }
                }
                next.initialize(to: UInt8(ascii: "\n"))
                next += 1
            }
            count = next - buffer.baseAddress!
        }
    }

    /// Copies a cell of `width` columns, padded with spaces to `columns`.
    @inline(__always)
    private static func put(_ bytes: UnsafeBufferPointer<UInt8>, width: Int, in columns: Int,
                            at next: inout UnsafeMutablePointer<UInt8>) {
        if let base = bytes.baseAddress { next.initialize(from: base, count: bytes.count) }
        next += bytes.count
        let padding = columns - width
        if padding > 0 {
            next.initialize(repeating: UInt8(ascii: " "), count: padding)
            next += padding
        }
    }

    /// Printable ASCII without a backslash: text that is its own escape and
    /// one column a byte. Without a branch per byte: most cells are.
    static func isPlain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var bad: UInt8 = 0
        for byte in bytes {
            bad |= (byte &- 0x20 >= 0x5F ? 1 : 0) | (byte == UInt8(ascii: "\\") ? 1 : 0)
        }
        return bad == 0
    }
}
