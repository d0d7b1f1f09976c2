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

    @Test func anEmptyTableIsItsHeader() {
        #expect(Table.render(header: ["ID", "LABEL"], rows: []) == Array("ID  LABEL\n".utf8))
    }
}
