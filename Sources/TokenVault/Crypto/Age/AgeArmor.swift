// age's ASCII armor (age-encryption.org/v1, "ASCII armor"): PEM with the type
// "AGE ENCRYPTED FILE", standard padded base64 in lines of exactly 64
// columns but the last, no PEM headers. Read as strictly as age's own armor
// reader: only whitespace (at most 1 KiB) around the armor, LF or CRLF line
// ends, canonical base64, no empty or over-long line, a short line only
// last, then the footer. The armored bytes are ciphertext, never a secret.

enum AgeArmor {
    static let header = Array("-----BEGIN AGE ENCRYPTED FILE-----".utf8)
    static let footer = Array("-----END AGE ENCRYPTED FILE-----".utf8)
    static let columnsPerLine = 64
    static let bytesPerLine = columnsPerLine / 4 * 3
    /// Whitespace allowed before the header and after the footer, as age.
    static let maximumWhitespace = 1024

    /// True when `start` (the first bytes of an input) begins, after
    /// whitespace, with the armor header: age's test for an armored file.
    static func looksArmored(_ start: some Collection<UInt8>) -> Bool {
        let trimmed = start.drop(while: isWhitespace)
        return trimmed.count >= header.count && trimmed.prefix(header.count).elementsEqual(header)
    }

    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    /// Armors a whole age file held in memory.
    static func armor(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        let writer = Writer { out.append(contentsOf: $0) }
        try? bytes.withUnsafeBytes { try writer.write($0) }
        try? writer.finish()
        return out
    }

    /// Removes the armor from a whole file held in memory. Throws `.corrupt`
    /// naming `path` for anything age's reader refuses.
    static func dearmor(_ bytes: [UInt8], path: String) throws -> [UInt8] {
        let reader = Reader(AgeReader(bytes: bytes), path: path)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
            if count == 0 { return out }
            out += chunk[0..<count]
        }
    }

    /// Armors bytes on their way to a sink: the header first, then a line
    /// for every 48 bytes, and the last line and footer at `finish`.
    final class Writer {
        private let sink: AgeSink
        private var started = false
        private var pending: [UInt8] = []

        init(sink: @escaping AgeSink) { self.sink = sink }

        func write(_ bytes: UnsafeRawBufferPointer) throws {
            if !started {
                started = true
                try emit(AgeArmor.header + [0x0A])
            }
            pending.append(contentsOf: bytes)
            var lines: [UInt8] = []
            var offset = 0
            while pending.count - offset >= AgeArmor.bytesPerLine {
                lines += Array(AgeBase64.encodePadded(pending[offset..<(offset + AgeArmor.bytesPerLine)]).utf8)
                lines.append(0x0A)
                offset += AgeArmor.bytesPerLine
            }
            pending.removeFirst(offset)
            if !lines.isEmpty { try emit(lines) }
        }

        func finish() throws {
            if !started { try write(UnsafeRawBufferPointer(start: nil, count: 0)) }
            var tail: [UInt8] = []
            if !pending.isEmpty {
                tail = Array(AgeBase64.encodePadded(pending).utf8) + [0x0A]
                pending = []
            }
            try emit(tail + AgeArmor.footer + [0x0A])
        }

        private func emit(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try sink($0) } }
    }

    /// Removes the armor from bytes as they are read, one line at a time;
    /// `read(into:)` has `AgeSource` semantics (0 = the armored file ended
    /// properly). Every failure is `.corrupt` with the reason age gives.
    final class Reader {
        private let reader: AgeReader
        private let path: String
        private var started = false
        private var ended = false
        private var line: [UInt8] = []
        private var lineOffset = 0

        init(_ reader: AgeReader, path: String) {
            self.reader = reader
            self.path = path
        }

        private func fail(_ reason: String) -> VaultError {
            .corrupt(path: path, reason: "invalid age armor: \(reason)")
        }

        /// The next line without its LF or CRLF (the last may have neither);
        /// throws at the end of input, or for a line of `limit` bytes or more.
        private func nextLine(limit: Int = AgeArmor.columnsPerLine + 3) throws -> [UInt8] {
            var bytes = try reader.readLine(limit: limit)
            if bytes.isEmpty { throw fail("the file ends before the END line") }
            if bytes.last == 0x0A {
                bytes.removeLast()
            } else if bytes.count >= limit {
                throw fail("a line is longer than \(AgeArmor.columnsPerLine) columns")
            }
            if bytes.last == 0x0D { bytes.removeLast() }
            return bytes
        }

        /// After the footer only whitespace may follow, less than 1 KiB of it.
        private func drainTrailing() throws {
            var rest = [UInt8](repeating: 0, count: AgeArmor.maximumWhitespace)
            let count = try rest.withUnsafeMutableBytes { try reader.readFull($0) }
            guard rest[0..<count].allSatisfy(AgeArmor.isWhitespace) else {
                throw fail("data after the END line")
            }
            if count == AgeArmor.maximumWhitespace { throw fail("too much whitespace after the END line") }
        }

        private func start() throws {
            var skipped = 0
            while true {
                let bytes = try nextLine(limit: AgeArmor.maximumWhitespace + AgeArmor.header.count + 3)
                if bytes.allSatisfy(AgeArmor.isWhitespace) {
                    skipped += bytes.count + 1
                    if skipped > AgeArmor.maximumWhitespace { throw fail("too much whitespace before the BEGIN line") }
                    continue
                }
                guard bytes == AgeArmor.header else { throw fail("the first line is not the BEGIN line of age") }
                started = true
                return
            }
        }

        /// Decodes the next line into `line`; false at the footer.
        private func decodeNextLine() throws -> Bool {
            let bytes = try nextLine()
            if bytes == AgeArmor.footer {
                try drainTrailing()
                return false
            }
            if bytes.isEmpty { throw fail("an empty line") }
            if bytes.count > AgeArmor.columnsPerLine {
                throw fail("a line is longer than \(AgeArmor.columnsPerLine) columns")
            }
            guard let decoded = AgeBase64.decodePadded(bytes) else {
                throw fail("a line is not canonical padded base64")
            }
            if decoded.count < AgeArmor.bytesPerLine {
                // A short line is the last: the footer must follow it.
                let next = try nextLine()
                guard next == AgeArmor.footer else { throw fail("a short line that is not followed by the END line") }
                try drainTrailing()
                ended = true
            }
            line = decoded
            lineOffset = 0
            return true
        }

        func read(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
            if lineOffset == line.count {
                if !started { try start() }
                if ended { return 0 }
                guard try decodeNextLine() else {
                    ended = true
                    return 0
                }
            }
            let count = min(destination.count, line.count - lineOffset)
            line.withUnsafeBytes {
                destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[lineOffset..<(lineOffset + count)]))
            }
            lineOffset += count
            return count
        }
    }

    /// The input, armored or not: peeks at its first bytes and, when they
    /// start with the armor header, removes the armor as the input is read.
    static func detecting(_ source: @escaping AgeSource, path: String) throws -> AgeSource {
        var start = [UInt8](repeating: 0, count: maximumWhitespace + header.count)
        var filled = 0
        while filled < start.count {
            let count = try start.withUnsafeMutableBytes {
                try source(UnsafeMutableRawBufferPointer(rebasing: $0[filled...]))
            }
            if count == 0 { break }
            filled += count
        }
        start.removeSubrange(filled...)
        var offset = 0
        let replay: AgeSource = { destination in
            if offset < start.count {
                let count = min(destination.count, start.count - offset)
                start.withUnsafeBytes {
                    destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + count)]))
                }
                offset += count
                return count
            }
            return try source(destination)
        }
        guard looksArmored(start) else { return replay }
        let reader = Reader(AgeReader(replay), path: path)
        return { try reader.read(into: $0) }
    }
}
