// The list table: columns as wide as their widest cell in characters, two
// spaces between them, none after the last; every cell that is not plain
// printable ASCII is escaped (`Output.safe`) before it reaches a terminal.
import Testing

@testable import ZTokenCLI

@Suite struct TableTests {
    @Test func renderAlignsColumnsAndEscapesCellsThatNeedIt() {
        let rows: [[String]] = [
            ["a", "plain"], ["bb", "tab\there"], ["c", "back\\slash"], ["dddd", "x"],
            ["e", "\u{1B}[31mred"], ["é", "日本"],
        ]
        #expect(
            String(decoding: Table.render(header: ["K", "V"], rows: rows), as: UTF8.self) == """
                K     V
                a     plain
                bb    tab\\there
                c     back\\\\slash
                dddd  x
                e     \\u{1b}[31mred
                é     日本

                """)
    }

    @Test(arguments: [
        ("ascii", 5), ("日本", 4), ("ｱ", 1), ("Ｗ", 2), ("e\u{301}", 1), ("한국", 4), ("\u{1100}\u{1161}", 2),
        ("👍", 2), ("❤️", 2), ("❤", 1), ("🇯🇵", 2), ("👨‍👩‍👧", 2), ("1️⃣", 2), ("a\u{20DD}", 1), ("", 0),
    ])
    func displayWidthCountsTerminalColumns(text: String, columns: Int) {
        #expect(DisplayWidth.of(text) == columns, "\(text.unicodeScalars.map { String($0.value, radix: 16) })")
    }

    @Test func truncationCutsByColumnsAndMarksTheCut() {
        #expect(DisplayWidth.truncated("abcdef", toWidth: 6) == "abcdef")
        #expect(DisplayWidth.truncated("abcdefg", toWidth: 6) == "abcde…")
        // A wide character that would straddle the edge is left out whole.
        #expect(DisplayWidth.truncated("日本語です", toWidth: 6) == "日本…")
        #expect(DisplayWidth.of(DisplayWidth.truncated("日本語です", toWidth: 6)) == 5)
    }

    @Test func aTableWiderThanItsTerminalCutsTheShrinkingColumn() {
        let out = Table.render(
            header: ["ID", "LABEL", "STATE"], rows: [["1", "a long label here", "active"], ["2", "日本語のラベル", "x"]],
            fitting: 24, shrinking: 1)
        #expect(
            String(decoding: out, as: UTF8.self) == """
                ID  LABEL         STATE
                1   a long labe…  active
                2   日本語のラ…   x

                """)
    }

    @Test func anEmptyTableIsItsHeader() {
        #expect(Table.render(header: ["ID", "LABEL"], rows: []) == Array("ID  LABEL\n".utf8))
    }
}
