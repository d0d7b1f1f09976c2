// The byte search behind `ztoken scan`: one stream (a file, standard input, a
// git blob) read in fixed chunks into one buffer, so memory does not grow
// with the input. What it looks for (docs/SPEC.md §5, scan):
//
// - a minted-form token: `ztk_` found by glibc's vectorised memmem, followed
//   by base62 digits up to the minted length, with a valid checksum, anywhere
//   (no delimiter needed: the checksum alone rejects look-alikes);
// - an imported token of a shape the vault knows (its length and last four
//   characters): memmem finds the last four, and the run before them must be
//   printable non-space ASCII of that length between two delimiters.
//
// A candidate that straddles two reads is found because the last `keep`
// bytes of a chunk (the longest candidate plus one delimiter) are searched
// again with the next; each candidate is reported by the round that holds
// its start, so none is reported twice. Lines and columns are counted only
// up to where they are needed (a candidate, or the bytes about to be
// dropped), 64 bytes at a time; a line ends at \n, \r\n or a lone \r; the
// column is the byte offset in its line, from 1, as ripgrep counts it.
internal import CProcessShims

/// A token-shaped string found in a stream: where it starts, and its bytes.
struct TokenCandidate {
    enum Form: Sendable { case minted, imported }
    var form: Form
    /// Byte offset in the stream, from 0.
    var offset: Int
    /// 1-based line.
    var line: Int
    /// 1-based byte column within the line.
    var column: Int
    /// The candidate itself: a possible secret, wiped when released.
    var token: SecureBytes
}

/// Imported tokens' lengths and last four characters: the shapes to look for.
struct ImportedShape: Hashable, Sendable {
    var length: Int
    var last4: [UInt8]
}

/// A streaming search of one byte stream at a time for token candidates.
final class TokenSearch {
    /// Bytes read per round: a size that stays in the L2 cache while the
    /// memmem and line-counting passes go over it.
    static let defaultChunkSize = 256 * 1024

    /// Lengths of the imported shapes, by their last four characters.
    private let lengthsByLast4: [([UInt8], [Int])]
    /// Bytes kept from one round to the next: the longest candidate + 1.
    let keep: Int
    let chunkSize: Int
    private let buffer: UnsafeMutableRawBufferPointer

    /// Valid bytes at the front of `buffer`.
    private(set) var filled = 0
    /// Stream offset of `buffer[0]`.
    private var base = 0
    /// Line breaks before `counted`, the stream offset up to which they are counted.
    private var lineBreaks = 0
    private var counted = 0
    /// Stream offset where the line holding `counted` starts.
    private var lineStart = 0

    init(shapes: Set<ImportedShape> = [], chunkSize: Int = TokenSearch.defaultChunkSize) {
        var byLast4: [[UInt8]: Set<Int>] = [:]
        for shape in shapes where shape.last4.count == 4 && shape.length >= 4 {
            byLast4[shape.last4, default: []].insert(shape.length)
        }
        lengthsByLast4 = byLast4.map { ($0.key, $0.value.sorted()) }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
        keep = max(TokenFormat.mintedLength, shapes.map(\.length).max() ?? 0) + 1
        self.chunkSize = max(chunkSize, 1)
        buffer = .allocate(byteCount: self.chunkSize + keep, alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    /// How much of the buffer holds bytes of the stream: wiped at its end.
    private var used = 0

    deinit {
        wipe()
        buffer.deallocate()
    }

    /// The buffer held whatever the scanned files held, tokens included.
    private func wipe() {
        UnsafeMutableRawBufferPointer(rebasing: buffer[0..<used]).initializeMemory(as: UInt8.self, repeating: 0)
        used = 0
    }

    /// Starts a new stream.
    func reset() {
        wipe()
        filled = 0
        base = 0
        lineBreaks = 0
        counted = 0
        lineStart = 0
    }

    /// The bytes read but not yet searched (the first up to a chunk of a stream,
    /// for the UTF-16 test before the first round).
    var pending: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[0..<filled]) }

    /// True when no more bytes fit: time for `search(final: false)`.
    var isFull: Bool { filled == buffer.count }

    /// Lets `read` fill the free end of the buffer; it returns how many bytes
    /// it wrote (0 at the end of the stream), which this returns too.
    func fill(_ read: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int {
        let count = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
        filled += count
        used = max(used, filled)
        return count
    }

    /// Copies `bytes` in, searching whenever the buffer fills; for callers
    /// that already hold the bytes (tests, the fuzz target).
    func feed(_ bytes: UnsafeRawBufferPointer, found: (TokenCandidate) throws -> Void) rethrows {
        var offset = 0
        while offset < bytes.count {
            offset += fill { free in
                let count = min(free.count, bytes.count - offset)
                free.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
                return count
            }
            if isFull { try search(final: false, found: found) }
        }
    }

    /// Searches the buffer and reports the candidates that start in this
    /// round, in stream order. Unless `final`, keeps the last `keep` bytes
    /// for the next round; `final` ends the stream.
    func search(final: Bool, found: (TokenCandidate) throws -> Void) rethrows {
        let count = filled
        guard let start = UnsafeRawPointer(buffer.baseAddress) else { return }
        // Candidates starting in lower..<upper belong to this round: byte
        // lower - 1 (the left delimiter) is the last byte the previous round
        // kept; upper leaves every candidate its bytes and right delimiter.
        let lower = base == 0 ? 0 : 1
        let upper = final ? count : count - keep + 1
        var candidates: [(offset: Int, length: Int, form: TokenCandidate.Form)] = []

        if upper > lower {
            let prefix = Array(TokenFormat.prefix.utf8)
            let length = TokenFormat.mintedLength
            var from = lower
            let end = min(upper + prefix.count - 1, count)
            while from < end, let hit = ztoken_memmem(start + from, end - from, prefix, prefix.count) {
                let position = UnsafeRawPointer(hit) - start
                from = position + 1
                guard position + length <= count,
                    TokenFormat.isWellFormedMinted(UnsafeRawBufferPointer(start: start + position, count: length))
                else { continue }
                candidates.append((position, length, .minted))
            }
            for (last4, lengths) in lengthsByLast4 {
                var from = max(lower + lengths[0] - 4, 0)
                while from < count, let hit = ztoken_memmem(start + from, count - from, last4, 4) {
                    let tail = UnsafeRawPointer(hit) - start + 4
                    from = tail - 3
                    for length in lengths {
                        let position = tail - length
                        guard position >= lower, position < upper,
                            isImportedCandidate(start, position: position, end: tail, count: count, final: final)
                        else { continue }
                        candidates.append((position, length, .imported))
                    }
                }
            }
        }
        if candidates.count > 1 { candidates.sort { ($0.offset, $0.length) < ($1.offset, $1.length) } }
        for candidate in candidates {
            countLines(upTo: candidate.offset, start: start, count: count)
            try found(
                TokenCandidate(
                    form: candidate.form, offset: base + candidate.offset, line: lineBreaks + 1,
                    column: base + candidate.offset - lineStart + 1,
                    token: SecureBytes(
                        copying: UnsafeRawBufferPointer(start: start + candidate.offset, count: candidate.length))))
        }
        if final {
            filled = 0
            wipe()
            return
        }
        // Keep the last `keep` bytes: they start the next round.
        let kept = count - keep
        countLines(upTo: kept, start: start, count: count)
        buffer.baseAddress!.copyMemory(from: start + kept, byteCount: keep)
        base += kept
        filled = keep
    }

    /// Whether the `end - position` bytes at `position` are an imported-token
    /// candidate: printable non-space ASCII, with a delimiter (or the stream's
    /// edge) on each side.
    private func isImportedCandidate(
        _ start: UnsafeRawPointer, position: Int, end: Int, count: Int, final: Bool
    ) -> Bool {
        if position > 0 {
            guard Self.isDelimiter(start.load(fromByteOffset: position - 1, as: UInt8.self)) else { return false }
        } else if base != 0 {
            return false
        }
        if end < count {
            guard Self.isDelimiter(start.load(fromByteOffset: end, as: UInt8.self)) else { return false }
        } else if !final {
            return false
        }
        for offset in position..<end {
            let byte = start.load(fromByteOffset: offset, as: UInt8.self)
            guard byte >= 0x21 && byte <= 0x7E else { return false }
        }
        return true
    }

    /// The bytes that end an imported-token candidate: any byte that is not
    /// printable ASCII (spaces, tabs, line ends, controls, non-ASCII), quotes,
    /// `=` `:` `,` `;`, brackets of every kind, and `&` `?` `/` `\` `|` `@` `#`
    /// (URLs, shell, properties). docs/SPEC.md §5 lists the same set.
    static func isDelimiter(_ byte: UInt8) -> Bool {
        if byte <= 0x20 || byte >= 0x7F { return true }
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`"), UInt8(ascii: "="), UInt8(ascii: ":"),
            UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["),
            UInt8(ascii: "]"), UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "<"), UInt8(ascii: ">"),
            UInt8(ascii: "&"), UInt8(ascii: "?"), UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: "|"),
            UInt8(ascii: "@"), UInt8(ascii: "#"):
            return true
        default:
            return false
        }
    }

    // MARK: Lines

    /// Counts the line breaks from `counted` up to buffer position `limit`
    /// (byte `limit` must be in the buffer: it tells a \r\n from a lone \r).
    private func countLines(upTo limit: Int, start: UnsafeRawPointer, count: Int) {
        let from = counted - base
        guard limit > from else { return }
        let breaks = Self.lineBreaks(
            in: start + from, count: limit - from, next: start.load(fromByteOffset: limit, as: UInt8.self))
        if breaks > 0 {
            // The line starts after the last \n or \r: a \r that pairs with a
            // \n at `limit` moves it one byte early, and that \n, counted
            // next, moves it back.
            let n = ztoken_memrchr(start + from, 0x0A, limit - from).map { UnsafeRawPointer($0) - start } ?? -1
            let r = ztoken_memrchr(start + from, 0x0D, limit - from).map { UnsafeRawPointer($0) - start } ?? -1
            lineStart = base + max(n, r) + 1
            lineBreaks += breaks
        }
        counted = base + limit
    }

    /// The line breaks in `count` bytes at `bytes`: each \n, and each \r that
    /// is not followed by \n (`next` is the byte after the range). Every
    /// byte of a scanned file passes here, so it goes 64 bytes at a time
    /// (about 12 GB/s here, against 1 GB/s for a byte loop): each comparison
    /// gives a mask whose true lanes are all ones, i.e. -1 as a byte, and
    /// subtracting it counts; 255 rounds at most, so no lane overflows.
    static func lineBreaks(in bytes: UnsafeRawPointer, count: Int, next: UInt8) -> Int {
        typealias Vector = SIMD64<UInt8>
        let newline = Vector(repeating: 0x0A)
        let carriageReturn = Vector(repeating: 0x0D)
        var total = 0
        var offset = 0
        // Each vector also loads the byte after it, to tell \r\n from a lone \r.
        while offset + Vector.scalarCount < count {
            var sums = Vector()
            var rounds = 0
            while rounds < 255 && offset + Vector.scalarCount < count {
                let here = bytes.loadUnaligned(fromByteOffset: offset, as: Vector.self)
                let after = bytes.loadUnaligned(fromByteOffset: offset + 1, as: Vector.self)
                let lone = (here .== carriageReturn) .& (after .!= newline)
                sums &-= unsafeBitCast((here .== newline) .| lone, to: Vector.self)
                offset += Vector.scalarCount
                rounds += 1
            }
            total += Int(SIMD64<UInt16>(truncatingIfNeeded: sums).wrappedSum())
        }
        while offset < count {
            let byte = bytes.load(fromByteOffset: offset, as: UInt8.self)
            if byte == 0x0A {
                total += 1
            } else if byte == 0x0D {
                let following = offset + 1 < count ? bytes.load(fromByteOffset: offset + 1, as: UInt8.self) : next
                if following != 0x0A { total += 1 }
            }
            offset += 1
        }
        return total
    }

    // MARK: Encodings

    /// True when a stream's first bytes say it is UTF-16 text: a byte-order
    /// mark (FF FE or FE FF), or, in the first 256 bytes (at least 16 of
    /// them), a zero byte at every odd offset and none at an even one, or the
    /// reverse (ASCII text in UTF-16LE or BE without a mark). Such a file is
    /// skipped with a note: its tokens are not byte-for-byte ASCII.
    static func looksLikeUTF16(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if bytes.count >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF)) {
            return true
        }
        let sample = min(bytes.count, 256) & ~1
        guard sample >= 16 else { return false }
        var evenZeros = 0
        var oddZeros = 0
        for offset in 0..<sample where bytes[offset] == 0 {
            if offset & 1 == 0 { evenZeros += 1 } else { oddZeros += 1 }
        }
        let half = sample / 2
        return (oddZeros == half && evenZeros == 0) || (evenZeros == half && oddZeros == 0)
    }
}
