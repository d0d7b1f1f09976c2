// The list table's fast path: which cells go out as they are. A cell is
// "plain" when every byte is printable ASCII other than a backslash; every
// other cell is escaped (`Output.safe`) before it reaches the terminal.
import Testing
@testable import ZTokenCLI

@Suite struct TableTests {
    static func plainByByte(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }
    }

    /// Every byte value at every position of cells of 1 to 20 bytes (the
    /// word-at-a-time path and the tail), against the byte-by-byte rule.
    @Test func isPlainAgreesWithTheByteRuleForEveryByteAtEveryPosition() {
        for count in 1...20 {
            for position in 0..<count {
                for value in 0...255 {
                    var cell = [UInt8](repeating: UInt8(ascii: "a"), count: count)
                    cell[position] = UInt8(value)
                    let fast = cell.withUnsafeBufferPointer(Table.isPlain)
                    #expect(fast == Self.plainByByte(cell), "byte \(value) at \(position) of \(count)")
                }
            }
        }
        #expect([UInt8]().withUnsafeBufferPointer(Table.isPlain))
    }

    /// A carry from one byte into the next must not hide or invent anything.
    @Test func neighbouringBytesDoNotMaskEachOther() {
        let interesting: [UInt8] = [0x00, 0x1F, 0x20, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0xFE, 0xFF]
        for a in interesting {
            for b in interesting {
                for offset in 0..<15 {
                    var cell = [UInt8](repeating: UInt8(ascii: "x"), count: 16)
                    cell[offset] = a
                    cell[offset + 1] = b
                    #expect(cell.withUnsafeBufferPointer(Table.isPlain) == Self.plainByByte(cell))
                }
            }
        }
    }

    /// The obvious table: every cell escaped unless plain, columns as wide
    /// as their widest cell in characters, two spaces between, none after.
    static func reference(header: [String], rows: [[String]]) -> String {
        let shown = rows.map { $0.map { Self.plainByByte(Array($0.utf8)) ? $0 : Output.safe($0) } }
        let widths = header.indices.map { column in
            ([header[column]] + shown.map { $0[column] }).map(\.count).max()!
        }
        return ([header] + shown).map { cells in
            cells.enumerated().map { column, text in
                column == cells.count - 1 ? text : text + String(repeating: " ", count: widths[column] - text.count + 2)
            }.joined() + "\n"
        }.joined()
    }

    /// Enough rows to be rendered on every core, with escapes in every part.
    @Test func aLargeTableRendersAsTheObviousOne() {
        let labels = ["plain", "tab\there", "é accent", "\u{1B}[31mred", "back\\slash", "wide label here"]
        let rows = (0..<(Table.parallelRows + 1_001)).map { n in
            ["id\(n)", n % 97 == 0 ? labels[n % labels.count] + "\(n)" : "label-\(n)", n % 3 == 0 ? "zbot" : "api"]
        }
        let cells = rows.flatMap { $0 }
        let storage = Array(cells.joined().utf8)
        let ends = cells.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1.utf8.count) }
        let out = storage.withUnsafeBufferPointer { storage in
            Table.render(header: ["ID", "LABEL", "KIND"], rows: rows.count) { row, column in
                let cell = row * 3 + column
                return UnsafeBufferPointer(rebasing: storage[(cell == 0 ? 0 : ends[cell - 1])..<ends[cell]])
            }
        }
        #expect(String(decoding: out, as: UTF8.self) == Self.reference(header: ["ID", "LABEL", "KIND"], rows: rows))
    }

    @Test func renderAlignsColumnsAndEscapesOnlyTheRowsThatNeedIt() {
        let rows: [[String]] = [["a", "plain"], ["bb", "tab\there"], ["c", "back\\slash"], ["dddd", "x"]]
        // The cells in one buffer that outlives the call, as `render` requires.
        let cells = rows.flatMap { $0 }
        let storage = Array(cells.joined().utf8)
        let ends = cells.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1.utf8.count) }
        let out = storage.withUnsafeBufferPointer { storage in
            Table.render(header: ["K", "V"], rows: rows.count) { row, column in
                let cell = row * 2 + column
                return UnsafeBufferPointer(rebasing: storage[(cell == 0 ? 0 : ends[cell - 1])..<ends[cell]])
            }
        }
        let text = String(decoding: out, as: UTF8.self)
        #expect(text == """
            K     V
            a     plain
            bb    tab\\there
            c     back\\\\slash
            dddd  x

            """)
    }
}
