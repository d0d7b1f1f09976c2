// Unit tests of the age format pieces: bech32 keys, key files, base64, header
// parsing edge cases, STREAM chunk boundaries, tampering and truncation.
import Testing

@testable import TokenVault

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func secret(_ text: String) -> SecureBytes { SecureBytes(copying: Array(text.utf8)) }
private func pattern(_ count: Int) -> SecureBytes {
    SecureBytes(copying: (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 16) })
}
private func sha(_ value: SecureBytes) -> [UInt8] { value.withUnsafeBytes { Sodium.sha256($0) } }

/// A file encrypted to a fresh identity, with the identity.
private func encrypted(_ plaintext: SecureBytes) throws -> ([UInt8], AgeIdentity) {
    let identity = AgeX25519Identity.generate()
    let file = try Age.encrypt(plaintext, to: [.x25519(identity.recipient)])
    return (file, .x25519(identity))
}

/// The length of the header plus nonce of an age file (where chunks begin).
private func payloadStart(_ file: [UInt8]) throws -> Int {
    let reader = AgeReader(bytes: file)
    let header = try AgeHeader.parse(reader, path: "t")
    return header.macInput.count + 1 + 43 + 1 + AgeStream.nonceSize
}

@Suite("age keys and key files")
struct AgeKeyTests {
    // age's own test identity from its documentation and the CCTV vectors.
    static let identityText = "AGE-SECRET-KEY-1XMWWC06LY3EE5RYTXM9MFLAZ2U56JJJ36S0MYPDRWSVLUL66MV4QX3S7F6"

    @Test func knownRecipient() throws {
        // A recipient string from age's own tests: decodes and re-encodes to the same text.
        let recipient = try AgeX25519Recipient(
            parsing: "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq")
        #expect(recipient.encoded == "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq")
    }

    @Test func recipientRoundTrip() throws {
        let identity = AgeX25519Identity.generate()
        let text = identity.recipient.encoded
        #expect(text.hasPrefix("age1") && text.count == 62)
        #expect(try AgeX25519Recipient(parsing: text) == identity.recipient)
    }

    @Test func identityRoundTrip() throws {
        let identity = try AgeX25519Identity(parsing: secret(Self.identityText))
        #expect(identity.encoded().unsafeRevealedString() == Self.identityText)
        let again = try AgeX25519Identity(parsing: identity.encoded())
        #expect(again.recipient == identity.recipient)
        #expect(!"\(identity)".contains("AGE-SECRET"))
    }

    @Test(
        "malformed recipients are refused",
        arguments: [
            "", "age1", "AGE1QQQQ", "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gr",  // bad checksum
            "Age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq",  // mixed case
            "AGE1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS3290GQ",  // upper-case hrp
            "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqsqqqq3290gq",  // extra data, bad checksum
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",  // other hrp, 20 bytes
        ])
    func badRecipients(_ text: String) {
        #expect(throws: VaultError.self) { try AgeX25519Recipient(parsing: text) }
    }

    @Test func everySingleCharacterChangeBreaksTheChecksum() throws {
        let text = Array(AgeX25519Identity.generate().recipient.encoded.utf8)
        let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
        for index in 4..<text.count {
            var changed = text
            changed[index] = charset.first { $0 != text[index] }!
            #expect(throws: VaultError.self) {
                try AgeX25519Recipient(parsing: String(decoding: changed, as: UTF8.self))
            }
        }
    }

    @Test func secretKeyGivenAsRecipientIsNotEchoed() {
        do {
            _ = try AgeX25519Recipient(parsing: Self.identityText)
            Issue.record("accepted a secret key as a recipient")
        } catch let error as VaultError {
            #expect(!error.message.contains("XMWWC"))
            #expect(error.exitCode == 64)
        } catch { Issue.record("\(error)") }
    }

    @Test func lowercaseSecretKeyIsRefused() {
        #expect(throws: VaultError.self) { try AgeX25519Identity(parsing: secret(Self.identityText.lowercased())) }
    }

    @Test func identityFileWithCommentsBlankLinesAndCRLF() throws {
        let file =
            "# created: 2021-01-01T00:00:00Z\r\n# public key: age1…\r\n\r\n\(Self.identityText)\r\n\(AgeX25519Identity.generate().encoded().unsafeRevealedString())"
        let identities = try AgeKeyFile.parseIdentities(secret(file), path: "key.txt")
        #expect(identities.count == 2)
    }

    @Test func identityFileBadLineNamesTheLineOnly() {
        let file = "# comment\n\(Self.identityText)\nAGE-SECRET-KEY-1NOTAKEY\n"
        do {
            _ = try AgeKeyFile.parseIdentities(secret(file), path: "key.txt")
            Issue.record("accepted a bad identity line")
        } catch let error as VaultError {
            #expect(error.message == "key.txt: line 3 is not an age identity (AGE-SECRET-KEY-1…)")
        } catch { Issue.record("\(error)") }
        #expect(throws: VaultError.self) { try AgeKeyFile.parseIdentities(secret("# only comments\n\n"), path: "k") }
    }

    @Test func recipientsFile() throws {
        let a = AgeX25519Identity.generate().recipient
        let b = AgeX25519Identity.generate().recipient
        let parsed = try AgeKeyFile.parseRecipients(bytes("# team\n\(a)\n\n\(b)\r\n"), path: "r.txt")
        #expect(parsed.map(\.description) == [a.encoded, b.encoded])
        do {
            _ = try AgeKeyFile.parseRecipients(bytes("\(a)\n\(Self.identityText)\n"), path: "r.txt")
            Issue.record("accepted a secret key in a recipients file")
        } catch let error as VaultError {
            #expect(error.message == "r.txt: line 2 is a secret key, not a recipient")
            #expect(!error.message.contains("XMWWC") && !(error.hint ?? "").contains("XMWWC"))
        } catch { Issue.record("\(error)") }
        #expect(throws: VaultError.invalidArgument("r.txt: line 1 is not an age recipient (age1… or ssh-ed25519 …)")) {
            try AgeKeyFile.parseRecipients(bytes("age2notarecipient\n"), path: "r.txt")
        }
        #expect(
            throws: VaultError.invalidArgument(
                "r.txt: line 1: malformed ssh-ed25519 public key: not a valid Ed25519 key",
                hint: "pass the line ssh-keygen wrote to the .pub file")
        ) {
            try AgeKeyFile.parseRecipients(bytes("ssh-ed25519 AAAA\n"), path: "r.txt")
        }
    }

    /// The X25519 points of low order (libsodium's list: 0, 1, two of order
    /// 8, p − 1, p, p + 1), each also with the top bit set, which X25519
    /// ignores: with any of them every shared secret is all zeros.
    static let lowOrderPoints: [[UInt8]] = {
        let hex = [
            "00", "01", "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        ]
        var points = hex.map { text -> [UInt8] in
            let bytes = Hex.decode(text) ?? []
            return bytes + [UInt8](repeating: 0, count: 32 - bytes.count)
        }
        for low: UInt8 in [0xEC, 0xED, 0xEE] { points.append([low] + [UInt8](repeating: 0xFF, count: 30) + [0x7F]) }
        return points + points.map { $0.prefix(31) + [$0[31] | 0x80] }
    }()

    @Test func lowOrderRecipientsAreRefusedWhereParsedAndWhenWrapping() throws {
        for point in Self.lowOrderPoints {
            #expect(!Sodium.isUsableX25519PublicKey(point))
            let text = Bech32.encode(hrp: "age", data: SecureBytes(copying: point), uppercase: false)
                .unsafeRevealedString()
            #expect(
                throws: VaultError.invalidArgument(
                    "age recipient \(text) is a low-order point, not a usable public key",
                    hint: "pass the recipient that 'age-keygen -y' prints for the key")
            ) {
                try AgeX25519Recipient(parsing: text)
            }
            #expect(
                throws: VaultError.corrupt(
                    path: "r.txt", reason: "line 2 is a low-order point, not a usable public key")
            ) {
                try AgeKeyFile.parseRecipients(bytes("# team\n\(text)\n"), path: "r.txt")
            }
            // A recipient made without the parser: wrapping throws, it does not try again for ever.
            #expect(throws: VaultError.self) {
                try Age.encrypt(pattern(1), to: [.x25519(AgeX25519Recipient(publicKey: point))])
            }
        }
        #expect(
            Self.lowOrderPoints.contains(
                try #require(Bech32.decode("age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq5cu47z"))
                    .data.withUnsafeBytes { Array($0) }))
        for _ in 0..<100 { #expect(Sodium.isUsableX25519PublicKey(AgeX25519Identity.generate().recipient.publicKey)) }
    }

    @Test func renderedIdentityFile() throws {
        let identity = AgeX25519Identity.generate()
        let text = AgeKeyFile.render(identity, created: 1_700_000_000).unsafeRevealedString()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines[3].isEmpty)
        #expect(lines[0] == "# created: 2023-11-14T22:13:20Z")
        #expect(lines[1] == "# public key: \(identity.recipient)")
        let parsed = try AgeKeyFile.parseIdentities(secret(text), path: "k")
        #expect(parsed.map(\.recipient) == [identity.recipient])
    }

    @Test(
        "RFC 3339 dates",
        arguments: [
            (Int64(0), "1970-01-01T00:00:00Z"), (951_782_400, "2000-02-29T00:00:00Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"), (-1, "1969-12-31T23:59:59Z"),
        ])
    func dates(_ seconds: Int64, _ expected: String) {
        #expect(RFC3339.format(secondsSince1970: seconds) == expected)
    }
}

@Suite("age primitives")
struct AgePrimitiveTests {
    @Test func hkdfRFC5869CaseA3() {
        // RFC 5869 A.3: 22 bytes of 0x0b, no salt, no info, 42 bytes out (two HMAC blocks).
        let ikm = SecureBytes(copying: [UInt8](repeating: 0x0b, count: 22))
        let a3 = Sodium.hkdfSHA256(secret: ikm, salt: [], info: "", count: 42)
        #expect(
            AgeVectors.hex(a3.withUnsafeBytes { Array($0) })
                == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }

    @Test func base64IsCanonical() {
        #expect(AgeBase64.encode([0xff]) == "/w")
        #expect(AgeBase64.decode("/w") == [0xff])
        #expect(AgeBase64.decode("/x") == nil)  // stray low bits
        #expect(AgeBase64.decode("/w==") == nil)  // padding
        #expect(AgeBase64.decode("A") == nil)  // impossible length
        #expect(AgeBase64.decode("AA\n") == nil)
        #expect(AgeBase64.decode("") == [])
    }
}

@Suite("age header")
struct AgeHeaderTests {
    static let mac = String(repeating: "A", count: 43)

    static func parse(_ text: String) throws -> AgeHeader {
        try AgeHeader.parse(AgeReader(bytes: bytes(text)), path: "h")
    }

    /// A header that never ends: the version line and `start`, then `line`
    /// over and over (up to 16 MiB, then the input ends). Returns the error
    /// and how many bytes the parser took from the source.
    static func endless(_ start: String, _ line: String) -> (error: VaultError?, consumed: Int) {
        let head = bytes("age-encryption.org/v1\n" + start)
        let body = bytes(line)
        var consumed = 0
        let source: AgeSource = { destination in
            guard consumed < 16 << 20 else { return 0 }
            for i in 0..<destination.count {
                let at = consumed + i
                destination[i] = at < head.count ? head[at] : body[(at - head.count) % body.count]
            }
            consumed += destination.count
            return destination.count
        }
        do {
            _ = try AgeHeader.parse(AgeReader(source), path: "h")
            return (nil, consumed)
        } catch {
            return (error as? VaultError, consumed)
        }
    }

    @Test func aHugeHeaderIsRefusedWithoutReadingItAll() {
        func corrupt(_ reason: String) -> VaultError { .corrupt(path: "h", reason: "not a valid age file: \(reason)") }
        let share = String(repeating: "A", count: 43)
        let cases: [(start: String, line: String, error: VaultError)] = [
            // Stanzas without end: refused at the 65th stanza line, before its body.
            ("", "-> X25519 \(share)\n\(share)\n", corrupt("more than 64 recipient stanzas")),
            // One stanza with a body without end; one line without end.
            ("-> X\n", String(repeating: "A", count: 64) + "\n", corrupt("the header is larger than 64 KiB")),
            ("-> X ", String(repeating: "A", count: 1000), corrupt("the header is larger than 64 KiB")),
        ]
        for (start, line, expected) in cases {
            let (error, consumed) = Self.endless(start, line)
            #expect(error == expected)
            // The header cap plus the reader's 4 KiB buffer, not the 16 MiB on offer.
            #expect(consumed <= AgeHeader.maximumSize + 4096, "read \(consumed) bytes")
        }
    }

    @Test func minimalHeaderParses() throws {
        let header = try Self.parse("age-encryption.org/v1\n-> x a b\nAAAA\n--- \(Self.mac)\npayload")
        #expect(header.stanzas == [AgeStanza(type: "x", arguments: ["a", "b"], body: [0, 0, 0])])
        #expect(header.macInput == bytes("age-encryption.org/v1\n-> x a b\nAAAA\n---"))
    }

    @Test(
        "malformed headers are refused",
        arguments: [
            "",  // empty
            "age-encryption.org/v1",  // no newline
            "age-encryption.org/v2\n--- \(mac)\n",  // version
            "age-encryption.org/v1\r\n--- \(mac)\n",  // CRLF
            "age-encryption.org/v1\n---\n",  // no MAC
            "age-encryption.org/v1\n---  \(mac)\n",  // two spaces
            "age-encryption.org/v1\n--- \(mac) \n",  // trailing space
            "age-encryption.org/v1\n--- \(mac.dropLast())\n",  // short MAC
            "age-encryption.org/v1\n-> x\n--- \(mac)\n",  // stanza without a body line
            "age-encryption.org/v1\n->\n\n--- \(mac)\n",  // no type
            "age-encryption.org/v1\n-> x  y\n\n--- \(mac)\n",  // empty argument
            "age-encryption.org/v1\n-> x\u{7f}\n\n--- \(mac)\n",  // invalid character
            "age-encryption.org/v1\n-> x\nAA==\n--- \(mac)\n",  // padding
            "age-encryption.org/v1\n-> x\n\(String(repeating: "A", count: 68))\n\n--- \(mac)\n",  // long line
            "age-encryption.org/v1\n-> x\n\(String(repeating: "A", count: 64))\n--- \(mac)\n",  // no final short line
            "age-encryption.org/v1\n-> x\nAA\nAA\n--- \(mac)\n",  // two short lines
            "age-encryption.org/v1\nhello\n--- \(mac)\n",  // stray line
            "age-encryption.org/v1\n-> x\n\r\n--- \(mac)\n",  // spurious CR
            "age-encryption.org/v1\n-> x\n\n--- \(mac)",  // MAC line without newline
        ])
    func malformed(_ text: String) {
        #expect(throws: VaultError.self) { try Self.parse(text) }
    }

    @Test func encodeWrapsBodiesAt64Columns() throws {
        for length in [0, 1, 47, 48, 49, 96, 200] {
            let stanza = AgeStanza(
                type: "t", arguments: ["a"], body: (0..<length).map { UInt8(truncatingIfNeeded: $0) })
            let key = SecureBytes.random(count: 16)
            let encoded = AgeHeader.encode([stanza], fileKey: key)
            let header = try AgeHeader.parse(AgeReader(bytes: encoded), path: "h")
            #expect(header.stanzas == [stanza])
            try header.verifyMAC(fileKey: key, path: "h")
            #expect(throws: VaultError.self) { try header.verifyMAC(fileKey: SecureBytes.random(count: 16), path: "h") }
        }
    }
}

@Suite("age STREAM")
struct AgeStreamTests {
    static let sizes = [0, 1, 100, 65_535, 65_536, 65_537, 2 * 65_536, 2 * 65_536 + 1, 3 * 65_536, 5 * 65_536 + 12_345]

    @Test("round trip at chunk boundaries", arguments: sizes)
    func roundTrip(_ size: Int) throws {
        let plaintext = pattern(size)
        let (file, identity) = try encrypted(plaintext)
        let chunks = max(1, (size + 65_535) / 65_536)
        #expect(file.count == (try payloadStart(file)) + size + 16 * chunks)
        let decrypted = try Age.decrypt(file, with: [identity], path: "f")
        #expect(decrypted.constantTimeEquals(plaintext))
    }

    @Test("streaming writes in odd pieces give the same chunks")
    func oddPieces() throws {
        let plaintext = pattern(3 * 65_536 + 7)
        let identity = AgeX25519Identity.generate()
        var out: [UInt8] = []
        let encryptor = try AgeEncryptor(recipients: [.x25519(identity.recipient)]) { out += $0 }
        try plaintext.withUnsafeBytes { all in
            var offset = 0
            var step = 1
            while offset < all.count {
                let count = min(step, all.count - offset)
                try encryptor.write(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + count)]))
                offset += count
                step = step * 3 + 1
            }
        }
        try encryptor.finish()
        #expect(try Age.decrypt(out, with: [.x25519(identity)], path: "f").constantTimeEquals(plaintext))
        #expect(throws: VaultError.self) {
            try [UInt8](repeating: 0, count: 1).withUnsafeBytes { try encryptor.write($0) }
        }
    }

    @Test(
        "the sink gets the header, the nonce, then one sealed chunk per call",
        arguments: [0, 1, 65_535, 65_536, 65_537, 3 * 65_536, 3 * 65_536 + 5])
    func oneChunkPerSinkCall(_ size: Int) throws {
        let plaintext = pattern(size)
        let identity = AgeX25519Identity.generate()
        var calls: [[UInt8]] = []
        let encryptor = try AgeEncryptor(recipients: [.x25519(identity.recipient)]) { calls.append(Array($0)) }
        try plaintext.withUnsafeBytes { all in
            var offset = 0
            var step = 1
            // Writes of varying size, as a pipe gives.
            while offset < all.count {
                let count = min(step, all.count - offset)
                try encryptor.write(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + count)]))
                offset += count
                step = step * 3 % 100_000 + 1
            }
        }
        try encryptor.finish()
        let chunks = max(1, (size + 65_535) / 65_536)
        #expect(calls.count == 2 + chunks)
        #expect(calls.dropFirst(2).map(\.count) == (0..<chunks).map { min(65_536, size - $0 * 65_536) + 16 })
        #expect(
            try Age.decrypt(calls.flatMap { $0 }, with: [.x25519(identity)], path: "f").constantTimeEquals(plaintext))
    }

    @Test("decryptor releases only authenticated chunks, one at a time")
    func chunkByChunk() throws {
        let plaintext = pattern(2 * 65_536 + 10)
        let (file, identity) = try encrypted(plaintext)
        let decryptor = try AgeDecryptor(source: AgeReader.source(over: file), identities: [identity], path: "f")
        var sizes: [Int] = []
        while try decryptor.nextChunk({ sizes.append($0.count) }) {}
        #expect(sizes == [65_536, 65_536, 10])
    }

    /// Flips one bit at `offset` and returns how many plaintext bytes were released and the error.
    static func tamper(_ file: [UInt8], at offset: Int, identity: AgeIdentity) -> (released: Int, error: VaultError?) {
        var file = file
        file[offset] ^= 0x01
        var released = 0
        do {
            let decryptor = try AgeDecryptor(source: AgeReader.source(over: file), identities: [identity], path: "f")
            try decryptor.decryptAll { released += $0.count }
            return (released, nil)
        } catch let error as VaultError {
            return (released, error)
        } catch { return (released, nil) }
    }

    @Test("a flipped bit anywhere fails, and nothing of the tampered chunk is released")
    func tamperingEverywhere() throws {
        let plaintext = pattern(2 * 65_536 + 100)
        let (file, identity) = try encrypted(plaintext)
        let start = try payloadStart(file)
        // Every header byte and nonce byte, then a spread of payload bytes.
        var offsets = Array(0..<start)
        offsets += stride(from: start, to: file.count, by: 997)
        offsets += [start + 65_536 + 15, start + 65_552, file.count - 1]
        for offset in offsets {
            let (released, error) = Self.tamper(file, at: offset, identity: identity)
            #expect(error != nil, "flip at \(offset) was accepted")
            if offset >= start {
                let chunk = (offset - start) / (65_536 + 16)
                #expect(released == chunk * 65_536, "flip at \(offset) released \(released) bytes")
                #expect(error?.exitCode == 65)
            }
        }
    }

    @Test("truncation at any chunk boundary or inside a chunk fails")
    func truncation() throws {
        let plaintext = pattern(2 * 65_536 + 100)
        let (file, identity) = try encrypted(plaintext)
        let start = try payloadStart(file)
        let cuts = [
            0, 1, start - 17, start - 1, start, start + 1, start + 15, start + 16, start + 65_552 - 1,
            start + 65_552, start + 65_553, start + 2 * 65_552, file.count - 17, file.count - 1,
        ]
        for cut in cuts {
            #expect(throws: VaultError.self, "cut at \(cut)") {
                try Age.decrypt(Array(file[0..<cut]), with: [identity], path: "f")
            }
        }
        #expect(throws: VaultError.self) { try Age.decrypt(file + [0], with: [identity], path: "f") }
        #expect(throws: VaultError.self) { try Age.decrypt(file + file, with: [identity], path: "f") }
    }

    @Test func wrongIdentityAndPassphrase() throws {
        let (file, _) = try encrypted(pattern(10))
        #expect(throws: VaultError.wrongIdentity(path: "f")) {
            try Age.decrypt(file, with: [.x25519(.generate())], path: "f")
        }
        let locked = try Age.encrypt(pattern(10), to: [.testOnlyPassphrase(secret("right"), workFactor: 10)])
        #expect(throws: VaultError.wrongPassphrase(path: "f")) {
            try Age.decrypt(locked, with: [.passphrase(secret("wrong"))], path: "f")
        }
        #expect(
            try Age.decrypt(locked, with: [.passphrase(secret("right"))], path: "f").constantTimeEquals(pattern(10)))
        #expect(throws: VaultError.self) {
            try Age.encrypt(
                pattern(1), to: [.passphrase(secret("p")), .x25519(AgeX25519Identity.generate().recipient)])
        }
    }

    @Test func scryptWorkFactorAboveTheCapIsRefused() throws {
        let stanza = AgeStanza(
            type: "scrypt", arguments: [AgeBase64.encode([UInt8](repeating: 1, count: 16)), "23"],
            body: [UInt8](repeating: 0, count: 32))
        #expect(throws: VaultError.self) { try AgeScrypt.unwrap(stanza, passphrase: secret("p"), path: "f") }
    }

    @Test func fileDescriptorRoundTrip() throws {
        let plaintext = pattern(3 * 65_536 + 1)
        let identity = AgeX25519Identity.generate()
        let input = try TemporaryFile(contents: plaintext.withUnsafeBytes { Array($0) })
        let encrypted = try TemporaryFile(contents: [])
        try Age.encrypt(
            from: input.fd, inputPath: input.path, to: encrypted.fd, outputPath: encrypted.path,
            recipients: [.x25519(identity.recipient)])
        try encrypted.rewind()
        let output = try TemporaryFile(contents: [])
        try Age.decrypt(
            from: encrypted.fd, inputPath: encrypted.path, to: output.fd, outputPath: output.path,
            identities: [.x25519(identity)])
        #expect(try output.readAll() == plaintext.withUnsafeBytes { Array($0) })
    }
}
