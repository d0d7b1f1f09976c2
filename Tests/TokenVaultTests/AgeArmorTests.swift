// age's ASCII armor: what we write (64 columns, padded base64, header and
// footer) reads back for every length around a line boundary, and malformed
// armor is refused with a reason, as strictly as age's own reader.
import Testing

@testable import TokenVault

private func lines(_ armored: [UInt8]) -> [String] {
    String(decoding: armored, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

/// A valid armored age file of about 200 bytes of plaintext, whose short
/// last line ends in "==" (header, full lines, the short one, footer).
private func sample() throws -> (armored: [UInt8], identity: AgeIdentity, size: Int) {
    let identity = AgeX25519Identity.generate()
    for size in 200..<203 {
        let file = try Age.encrypt(
            SecureBytes(copying: [UInt8](repeating: 7, count: size)), to: [.x25519(identity.recipient)], armored: true)
        if lines(file).dropLast(2).last?.hasSuffix("==") == true { return (file, .x25519(identity), size) }
    }
    throw VaultError.invalidArgument("no sample size gives a padded last line")
}

@Suite("age ASCII armor")
struct AgeArmorTests {
    @Test("armor and dearmor round-trip around line boundaries", arguments: [0, 1, 2, 3, 47, 48, 49, 96, 1000])
    func roundTrip(_ count: Int) throws {
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let armored = AgeArmor.armor(bytes)
        let text = lines(armored)
        #expect(text.first == "-----BEGIN AGE ENCRYPTED FILE-----")
        #expect(text.dropLast().last == "-----END AGE ENCRYPTED FILE-----")
        #expect(text.last == "", "the footer ends with a newline")
        let body = text.dropFirst().dropLast(2)
        #expect(body.dropLast().allSatisfy { $0.count == 64 }, "every line but the last is 64 columns")
        #expect(body.last.map { $0.count <= 64 && $0.count % 4 == 0 } ?? true)
        #expect(try AgeArmor.dearmor(armored, path: "t") == bytes)
    }

    @Test("an armored age file decrypts, and is detected without being asked for")
    func armoredFileDecrypts() throws {
        let (armored, identity, size) = try sample()
        #expect(AgeArmor.looksArmored(armored))
        let plaintext = try Age.decrypt(armored, with: [identity], path: "t")
        #expect(plaintext.withUnsafeBytes { Array($0) } == [UInt8](repeating: 7, count: size))
        // CRLF line ends and whitespace around the armor are accepted, as age accepts them.
        let crlf =
            Array(" \n\r\n".utf8) + lines(armored).dropLast().flatMap { Array(($0 + "\r\n").utf8) }
            + Array("\n \n".utf8)
        #expect(try Age.decrypt(crlf, with: [identity], path: "t").count == size)
    }

    /// Each malformation of the sample and the reason it is refused for.
    static let malformations: [(name: String, reason: String, change: @Sendable ([String]) -> [String])] = [
        (
            "bad base64 character", "not canonical padded base64",
            { l in
                var l = l
                l[1] = "!" + l[1].dropFirst()
                return l
            }
        ),
        (
            "missing padding", "not canonical padded base64",
            { l in
                var l = l
                l[l.count - 3] = String(l[l.count - 3].filter { $0 != "=" })
                return l
            }
        ),
        (
            "a line of 65 columns", "longer than 64 columns",
            { l in
                var l = l
                l[1] += "A"
                return l
            }
        ),
        (
            "a short line before the last", "short line that is not followed by the END line",
            { l in
                var l = l
                l[1].removeLast(4)
                return l
            }
        ),
        (
            "an empty line", "an empty line",
            { l in
                var l = l
                l.insert("", at: 2)
                return l
            }
        ),
        ("missing footer", "ends before the END line", { l in Array(l.dropLast(2)) }),
        ("trailing garbage", "data after the END line", { l in l.dropLast() + ["garbage", ""] }),
        (
            "a PEM header line", "not canonical padded base64",
            { l in
                var l = l
                l.insert("Comment: x", at: 1)
                return l
            }
        ),
        (
            "another PEM type", "the first line is not the BEGIN line",
            { l in
                var l = l
                l[0] = "-----BEGIN PGP MESSAGE-----"
                return l
            }
        ),
    ]

    @Test("malformed armor is refused as corrupt with the reason", arguments: malformations.indices)
    func malformedArmorIsRefused(_ index: Int) throws {
        let (armored, identity, _) = try sample()
        #expect(lines(armored).count >= 6, "header, full lines, a short one, footer")
        let (name, reason, change) = Self.malformations[index]
        let bad = Array(change(lines(armored)).joined(separator: "\n").utf8)
        do {
            _ = try AgeArmor.dearmor(bad, path: "bad.age")
            Issue.record("\(name): accepted")
        } catch let VaultError.corrupt(path, message) {
            #expect(path == "bad.age")
            #expect(message.hasPrefix("invalid age armor: ") && message.contains(reason), "\(name): \(message)")
        }
        // Decrypting refuses it the same way (a PGP header is not armor at all: a header failure).
        #expect(throws: VaultError.self, "\(name)") { try Age.decrypt(bad, with: [identity], path: "bad.age") }
    }

    @Test("padded base64: canonical only")
    func paddedBase64() {
        #expect(AgeBase64.encodePadded(Array("f".utf8)) == "Zg==")
        #expect(AgeBase64.encodePadded(Array("fo".utf8)) == "Zm8=")
        #expect(AgeBase64.encodePadded(Array("foo".utf8)) == "Zm9v")
        #expect(AgeBase64.decodePadded(Array("Zm8=".utf8)) == Array("fo".utf8))
        for bad in ["Zg", "Zh==", "Zm8", "Zg=", "Z===", "====", "Zm9v=", "Zg==Zg=="] {
            #expect(AgeBase64.decodePadded(Array(bad.utf8)) == nil, "\(bad)")
        }
    }
}
