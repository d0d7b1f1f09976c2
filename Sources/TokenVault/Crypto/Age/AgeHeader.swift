// The age v1 header: the version line, recipient stanzas, and the `---` line
// with the header MAC (age-encryption.org/v1, C2SP). Parsing is strict —
// every rule the spec states is checked and anything else is `.corrupt`, so
// one header has exactly one spelling and the MAC covers all of it. Errors
// never quote header text back: it comes from a file a stranger may have made.

/// One recipient stanza: `-> type args…` and a binary body.
struct AgeStanza: Sendable, Equatable {
    var type: String
    var arguments: [String]
    var body: [UInt8]
}

/// A parsed age header.
struct AgeHeader: Sendable {
    static let versionLine = "age-encryption.org/v1"
    static let columnsPerLine = 64
    static let bytesPerLine = columnsPerLine / 4 * 3
    /// Bounds on a header read from a file. One X25519 stanza is about 140
    /// bytes and a file for many people has a few dozen, so no real header
    /// comes near them; they stop a hostile file from making us read, buffer
    /// or unwrap without end. Beyond them the file is `.corrupt`.
    static let maximumSize = 64 << 10
    static let maximumStanzas = 64

    var stanzas: [AgeStanza]
    var mac: [UInt8]
    /// The header bytes the MAC covers: everything up to and including `---`.
    var macInput: [UInt8]

    // MARK: Parsing

    /// Reads a header from `reader`, leaving it at the first payload byte.
    static func parse(_ reader: AgeReader, path: String) throws -> AgeHeader {
        func fail(_ reason: String) -> VaultError { .corrupt(path: path, reason: "not a valid age file: \(reason)") }
        var macInput: [UInt8] = []
        func nextLine() throws -> ArraySlice<UInt8> {
            // Never more than the header may still hold, so a line without end stops at the cap.
            let room = maximumSize - macInput.count
            let line = try reader.readLine(limit: room)
            guard line.last == 0x0A else {
                if line.count == room { throw fail("the header is larger than \(maximumSize >> 10) KiB") }
                throw fail(
                    line.isEmpty ? "the file is empty or ends inside the header" : "the header ends without a newline")
            }
            macInput += line
            return line.dropLast()
        }

        guard try nextLine().elementsEqual(versionLine.utf8) else {
            throw fail("unknown version line (only age-encryption.org/v1 is supported)")
        }

        var stanzas: [AgeStanza] = []
        while true {
            let line = try nextLine()
            if line.starts(with: "---".utf8) {
                let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
                guard parts.count == 2, parts[0].elementsEqual("---".utf8),
                    let mac = AgeBase64.decode(parts[1]), mac.count == 32
                else {
                    throw fail("malformed closing line")
                }
                // The MAC covers the header up to "---", not the space and MAC after it.
                macInput.removeLast(line.count - 3 + 1)
                return AgeHeader(stanzas: stanzas, mac: mac, macInput: macInput)
            }
            guard line.starts(with: "->".utf8) else { throw fail("unexpected line in header") }
            guard stanzas.count < maximumStanzas else { throw fail("more than \(maximumStanzas) recipient stanzas") }
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count >= 2, parts[0].elementsEqual("->".utf8) else { throw fail("malformed stanza line") }
            for argument in parts.dropFirst() {
                guard !argument.isEmpty, argument.allSatisfy({ $0 >= 33 && $0 <= 126 }) else {
                    throw fail("malformed stanza argument")
                }
            }
            let strings = parts.dropFirst().map { String(decoding: $0, as: UTF8.self) }
            // The body: full 64-column lines, then one shorter line (maybe empty).
            var body: [UInt8] = []
            while true {
                let bodyLine = try nextLine()
                guard bodyLine.count <= columnsPerLine else { throw fail("stanza body line longer than 64 columns") }
                guard let bytes = AgeBase64.decode(bodyLine) else { throw fail("stanza body is not canonical base64") }
                body += bytes
                if bytes.count < bytesPerLine { break }
            }
            stanzas.append(AgeStanza(type: strings[0], arguments: Array(strings.dropFirst()), body: body))
        }
    }

    // MARK: Writing

    /// The header text without the MAC: up to and including `---`.
    static func encodeWithoutMAC(_ stanzas: [AgeStanza]) -> [UInt8] {
        var out = Array((versionLine + "\n").utf8)
        for stanza in stanzas {
            out += Array((["->", stanza.type] + stanza.arguments).joined(separator: " ").utf8)
            out.append(0x0A)
            let text = Array(AgeBase64.encode(stanza.body).utf8)
            var offset = 0
            // Every body ends with a line shorter than 64 columns, even an empty one.
            while true {
                let count = min(columnsPerLine, text.count - offset)
                out += text[offset..<(offset + count)]
                out.append(0x0A)
                offset += count
                if count < columnsPerLine { break }
            }
        }
        out += Array("---".utf8)
        return out
    }

    /// The complete header for `stanzas`, MACed under `fileKey`.
    static func encode(_ stanzas: [AgeStanza], fileKey: SecureBytes) -> [UInt8] {
        var out = encodeWithoutMAC(stanzas)
        let mac = computeMAC(out, fileKey: fileKey)
        out += Array((" " + AgeBase64.encode(mac) + "\n").utf8)
        return out
    }

    /// HMAC-SHA256 under HKDF(file key, "header") over the header up to `---`.
    static func computeMAC(_ macInput: [UInt8], fileKey: SecureBytes) -> [UInt8] {
        let key = Sodium.hkdfSHA256(secret: fileKey, salt: [], info: "header")
        let mac = key.withUnsafeBytes { k in macInput.withUnsafeBytes { Sodium.hmacSHA256(key: k, [$0]) } }
        return mac.withUnsafeBytes { Array($0) }
    }

    /// Checks the MAC in constant time; `.corrupt` when it does not match.
    func verifyMAC(fileKey: SecureBytes, path: String) throws {
        guard Sodium.constantTimeEquals(Self.computeMAC(macInput, fileKey: fileKey), mac) else {
            throw VaultError.corrupt(path: path, reason: "the age header MAC does not match: the file was altered")
        }
    }
}
