// The byte search behind `ztoken scan` (Scan/TokenSearch.swift): what is a
// candidate, where it is (line and byte column across line endings), and
// that the answer does not depend on where the reads happen to split.
import Testing

@testable import TokenVault

@Suite struct TokenSearchTests {
    struct Hit: Equatable, CustomStringConvertible {
        var line: Int
        var column: Int
        var offset: Int
        var token: String
        var description: String { "\(line):\(column)@\(offset) …\(token.suffix(4))" }
    }

    /// Every candidate in `bytes`, read in steps of `step` bytes through a
    /// search whose chunk is `chunk` bytes.
    static func hits(
        _ bytes: [UInt8], shapes: Set<ImportedShape> = [], chunk: Int = TokenSearch.defaultChunkSize,
        step: Int? = nil
    ) -> [Hit] {
        let search = TokenSearch(shapes: shapes, chunkSize: chunk)
        var found: [Hit] = []
        let record = { (candidate: TokenCandidate) in
            found.append(
                Hit(
                    line: candidate.line, column: candidate.column, offset: candidate.offset,
                    token: candidate.token.unsafeRevealedString()))
        }
        bytes.withUnsafeBytes { all in
            var offset = 0
            let size = step ?? max(all.count, 1)
            while offset < all.count {
                let end = min(offset + size, all.count)
                search.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end]), found: record)
                offset = end
            }
        }
        search.search(final: true, found: record)
        return found
    }

    static func hits(_ text: String, shapes: Set<ImportedShape> = [], chunk: Int = 1 << 18) -> [Hit] {
        hits(Array(text.utf8), shapes: shapes, chunk: chunk)
    }

    static func mint() -> String { TokenFormat.mint().unsafeRevealedString() }

    @Test func lineAndByteColumnAcrossLineEndings() {
        let token = Self.mint()
        // \n, \r\n and a lone \r each end a line; the column counts bytes (é is two).
        let text = "one\ntwo\r\nthree\rfour\r\n\r\né=\(token) tail\n"
        #expect(Self.hits(text) == [Hit(line: 6, column: 4, offset: 26, token: token)])
        #expect(Self.hits("\(token)") == [Hit(line: 1, column: 1, offset: 0, token: token)])
        #expect(Self.hits("\r\n\r\n\(token)").map(\.line) == [3])
        #expect(Self.hits("\n\r\(token)").map(\.line) == [3])
    }

    /// Reads and chunks of every small size find the same tokens at the
    /// same places as one read of the whole input: candidates that straddle
    /// a chunk boundary are found once, and a \r\n split across reads is one break.
    @Test func chunkBoundariesChangeNothing() {
        let tokens = (0..<4).map { _ in Self.mint() }
        let imported = "imported-Token_value.123456789"
        let shapes: Set = [ImportedShape(length: imported.utf8.count, last4: Array(imported.utf8.suffix(4)))]
        let text = Array(
            "a\r\n\(tokens[0])\r\r\n key=\(tokens[1])\(tokens[2]) x\n\"\(imported)\"\r\(tokens[3])\r\n".utf8)
        let whole = Self.hits(text, shapes: shapes)
        #expect(whole.map(\.token) == [tokens[0], tokens[1], tokens[2], imported, tokens[3]])
        for chunk in [1, 2, 3, 7, 16, 43, 44, 45, 64] {
            for step in [1, 5, 64, 1000] {
                #expect(
                    Self.hits(text, shapes: shapes, chunk: chunk, step: step) == whole, "chunk \(chunk) step \(step)")
            }
        }
    }

    @Test func aVeryLongLine() {
        let token = Self.mint()
        var text = [UInt8](repeating: UInt8(ascii: "x"), count: 3_000_000)
        text += [UInt8(ascii: " ")] + Array(token.utf8) + [UInt8](repeating: UInt8(ascii: "y"), count: 500_000)
        text += Array("\n\(token)\n".utf8)
        let found = Self.hits(text, chunk: 4096)
        #expect(found.map(\.line) == [1, 2])
        #expect(found.map(\.column) == [3_000_002, 1])
    }

    @Test func binaryBytesAroundAToken() {
        let token = Self.mint()
        let bytes: [UInt8] = [0, 0xFF, 0x0D, 0, 0x89] + Array(token.utf8) + [0, 0, 0x0A, 0xC3]
        #expect(Self.hits(bytes) == [Hit(line: 2, column: 3, offset: 5, token: token)])
    }

    @Test func lookAlikesAreNotCandidates() {
        let token = Self.mint()
        var changed = Array(token.utf8)
        changed[20] = changed[20] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let badChecksum = String(decoding: changed, as: UTF8.self)
        // Bad checksum, truncated, split by a line break, a wrong prefix.
        let head = String(token.prefix(20))
        let tail = String(token.dropFirst(20))
        let text = [
            badChecksum, String(token.dropLast()), head + "\n" + tail, head + "\r\n" + tail,
            "ZTK_" + String(token.dropFirst(4)),
        ].joined(separator: "\n")
        #expect(Self.hits(text).isEmpty)
    }

    @Test func aTokenInAURLJSONOrProperties() {
        let token = Self.mint()
        let text = """
            curl -H 'Authorization: Bearer \(token)' https://z.example/api?token=\(token)&x=1
            {"zephyrApiToken":"\(token)"}
            zephyrApiToken=\(token)
            """
        var expected: [[Int]] = []
        for (number, line) in text.split(separator: "\n").enumerated() {
            let bytes = Array(line.utf8)
            for start in 0..<bytes.count where bytes[start...].starts(with: token.utf8) {
                expected.append([number + 1, start + 1])
            }
        }
        #expect(expected.count == 4)
        #expect(Self.hits(text).map { [$0.line, $0.column] } == expected)
    }

    @Test func importedTokensNeedTheirShapeAndDelimiters() {
        let imported = "ghp_Imported-Token.value/1234"
        let shape = ImportedShape(length: imported.utf8.count, last4: Array("1234".utf8))
        let text = """
            a \(imported) b
            key=\(imported)
            url: https://h/x?t=\(imported)&more
            "\(imported)",
            x\(imported)
            \(imported)5
            short/1234 \(imported.dropFirst())
            """
        let found = Self.hits(text, shapes: [shape])
        #expect(found.map(\.line) == [1, 2, 3, 4])
        #expect(found.allSatisfy { $0.token == imported })
        #expect(Self.hits(text).isEmpty, "no shapes, no imported candidates")
    }

    @Test func utf16IsRecognised() {
        func utf16(_ text: String, bigEndian: Bool = false, mark: Bool) -> [UInt8] {
            var bytes: [UInt8] = mark ? (bigEndian ? [0xFE, 0xFF] : [0xFF, 0xFE]) : []
            for unit in text.utf16 {
                bytes += bigEndian ? [UInt8(unit >> 8), UInt8(unit & 0xFF)] : [UInt8(unit & 0xFF), UInt8(unit >> 8)]
            }
            return bytes
        }
        let text = "token = ztk_something, and more text"
        for bytes in [utf16(text, mark: true), utf16(text, mark: false), utf16(text, bigEndian: true, mark: false)] {
            #expect(bytes.withUnsafeBytes { TokenSearch.looksLikeUTF16($0) })
        }
        for bytes in [Array(text.utf8), [0, 0, 0, 0] + Array(text.utf8), Array("short\0x\0".utf8), []] {
            #expect(!bytes.withUnsafeBytes { TokenSearch.looksLikeUTF16($0) })
        }
    }

    @Test func lineBreakCountingMatchesAByteByByteCount() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let bytes = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in
                [UInt8(0x0A), 0x0D, 0x41][Int.random(in: 0..<3, using: &generator)]
            }
            let next = [UInt8(0x0A), 0x0D, 0x41][Int.random(in: 0..<3, using: &generator)]
            var expected = 0
            for (position, byte) in bytes.enumerated() {
                let following = position + 1 < bytes.count ? bytes[position + 1] : next
                if byte == 0x0A || (byte == 0x0D && following != 0x0A) { expected += 1 }
            }
            let counted = bytes.withUnsafeBytes { buffer in
                buffer.baseAddress.map { TokenSearch.lineBreaks(in: $0, count: buffer.count, next: next) } ?? 0
            }
            #expect(counted == expected)
        }
    }
}
