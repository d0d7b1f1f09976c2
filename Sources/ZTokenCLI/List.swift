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
            // Ids, kinds and states were checked when the index was read: plain ASCII.
            Table.render(header: ["ID", "LABEL", "KIND", "CREATED", "LAST4", "STATE"], rows: fields.count,
                         plainColumns: [0, 2, 5]) { row, column in
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
    /// UTF-8. The buffers must stay valid for the call, and `cell` may be
    /// called from several threads at once.
    ///
    /// Two passes: the first measures (and escapes the few cells that need
    /// it), the second copies into a buffer sized from those widths. At
    /// 10,000 rows appending cell by cell to an array cost more than reading
    /// the vault. From `parallelRows` rows on, both passes run on every core
    /// over contiguous runs of rows, whose pieces are then joined.
    ///
    /// `plainColumns` are known to hold only printable ASCII (checked where
    /// the cells come from), so their cells are not looked at for escaping.
    static func render(header: [String], rows: Int, plainColumns: Set<Int> = [],
                       cell: (Int, Int) -> UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let columnCount = header.count
        let knownPlain = (0..<columnCount).map(plainColumns.contains)
        let headerCells = header.map { Array($0.utf8) }
        let parts = rows >= parallelRows ? min(Parallel.processorCount, 4) : 1
        let runs = (0..<parts).map { (rows * $0 / parts)..<(rows * ($0 + 1) / parts) }
        let measured = Parallel.map(count: parts, parts: parts) { measure(runs[$0], knownPlain: knownPlain, cell: cell) }
        var widths = headerCells.map(\.count)
        for part in measured {
            for column in 0..<columnCount { widths[column] = max(widths[column], part.widths[column]) }
        }
        let pieces = Parallel.map(count: parts, parts: parts) { part in
            write(runs[part], header: part == 0 ? headerCells : nil, widths: widths, escaped: measured[part], cell: cell)
        }
        guard pieces.count > 1 else { return pieces[0] }
        var out: [UInt8] = []
        out.reserveCapacity(pieces.reduce(0) { $0 + $1.count })
        for piece in pieces { out.append(contentsOf: piece) }
        return out
    }

    /// From this many rows on, `render` uses every core.
    static let parallelRows = 4_096

    /// One run of rows measured: its columns' widths, and its cells that are
    /// not plain printable ASCII, escaped (few or none). Escaped cells are
    /// looked up only in rows that have one: a dictionary lookup per cell
    /// cost more than the rest of the copy.
    struct Measured {
        var widths: [Int]
        var escaped: [Int: (bytes: [UInt8], width: Int)] = [:]
        var rowHasEscapes: [Bool]
        var escapedBytes = 0
    }

    private static func measure(_ run: Range<Int>, knownPlain: [Bool],
                                cell: (Int, Int) -> UnsafeBufferPointer<UInt8>) -> Measured {
        let columnCount = knownPlain.count
        var result = Measured(widths: [Int](repeating: 0, count: columnCount),
                              rowHasEscapes: [Bool](repeating: false, count: run.count))
        var widths = result.widths
        for row in run {
            for column in 0..<columnCount {
                let bytes = cell(row, column)
                var width = bytes.count
                if !knownPlain[column], !isPlain(bytes) {
                    let text = Output.safe(String(decoding: bytes, as: UTF8.self))
                    // Escaped text has no control characters, so no CR LF pair either.
                    width = text.utf8.allSatisfy { $0 < 0x80 } ? text.utf8.count : text.count
                    result.escaped[row &* columnCount &+ column] = (Array(text.utf8), width)
                    result.rowHasEscapes[row - run.lowerBound] = true
                    result.escapedBytes += text.utf8.count
                }
                widths[column] = max(widths[column], width)
            }
        }
        result.widths = widths
        return result
    }

    /// The lines of a run of rows (and the header before them, if given).
    private static func write(_ run: Range<Int>, header: [[UInt8]]?, widths: [Int], escaped: Measured,
                              cell: (Int, Int) -> UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let columnCount = widths.count
        // Every line fits in its columns' widths, two spaces between columns
        // and a newline; escaped cells may have more bytes than columns.
        let lineBound = widths.reduce(0, +) + 2 * (columnCount - 1) + 1
        let bound = (run.count + (header == nil ? 0 : 1)) * lineBound + escaped.escapedBytes
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            var next = buffer.baseAddress!
            func endLine() {
                next.initialize(to: UInt8(ascii: "\n"))
                next += 1
            }
            if let header {
                for column in 0..<columnCount {
                    header[column].withUnsafeBufferPointer {
                        put($0, width: $0.count, in: column < columnCount - 1 ? widths[column] + 2 : 0, at: &next)
                    }
                }
                endLine()
            }
            for row in run {
                let hasEscapes = escaped.rowHasEscapes[row - run.lowerBound]
                for column in 0..<columnCount {
                    // The last column is not padded: no trailing spaces.
                    let columns = column < columnCount - 1 ? widths[column] + 2 : 0
                    if hasEscapes, let (bytes, width) = escaped.escaped[row &* columnCount &+ column] {
                        bytes.withUnsafeBufferPointer { put($0, width: width, in: columns, at: &next) }
                    } else {
                        let bytes = cell(row, column)
                        put(bytes, width: bytes.count, in: columns, at: &next)
                    }
                }
                endLine()
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
    /// one column a byte. Eight bytes at a time, without a branch per byte:
    /// most cells are plain.
    static func isPlain(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let ones: UInt64 = 0x0101_0101_0101_0101, highs = ones &* 0x80
        var bad: UInt64 = 0
        var offset = 0
        while offset + 8 <= bytes.count {
            let x = UnsafeRawPointer(base + offset).loadUnaligned(as: UInt64.self)
            let backslash = x ^ (ones &* 0x5C)
            // A byte below 0x20, a zero byte after the XOR (a backslash),
            // a byte of 0x7F or more (adding 0x01 carries into its high bit),
            // or a high bit set: each sets that byte's high bit.
            bad |= ((x &- ones &* 0x20) & ~x) | ((backslash &- ones) & ~backslash) | (x &+ ones) | x
            offset += 8
        }
        var tail: UInt8 = 0
        while offset < bytes.count {
            let byte = base[offset]
            tail |= (byte &- 0x20 >= 0x5F ? 1 : 0) | (byte == UInt8(ascii: "\\") ? 1 : 0)
            offset += 1
        }
        return bad & highs == 0 && tail == 0
    }
}
