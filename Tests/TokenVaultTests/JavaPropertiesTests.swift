import TestSupport
import Testing

@testable import TokenVault

@Suite struct JavaPropertiesTests {
    static let nastyValues: [String] = [
        "plain", "", "a=b", "a:b", "#comment", "!bang", "back\\slash", "ends with backslash\\",
        " leading space", "   three leading", "trailing space ", "\ttab first", "mid\ttab",
        "line\nbreak", "cr\rlf\r\n", "form\u{0C}feed", "ü", "€uro", "emoji 🔑 key", "𝄞",
        "nul\u{00}byte", "bell\u{07}", "del\u{7F}", "c1\u{85}", "\\u0041 not an escape",
        "=:#! \\", "\u{FEFF}bom", "\u{202E}rlo", "last\\",
    ]

    @Test(arguments: nastyValues)
    func valueEscapingIsASCII(_ value: String) {
        let escaped = JavaProperties.escapedValue(value)
        #expect(escaped.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
    }

    @Test func knownEscapes() {
        #expect(
            String(decoding: JavaProperties.escapedValue(" a b=c:d#e!f\\\t\n\r\u{0C}"), as: UTF8.self)
                == "\\ a b\\=c\\:d\\#e\\!f\\\\\\t\\n\\r\\f")
        #expect(String(decoding: JavaProperties.escapedKey("a b"), as: UTF8.self) == "a\\ b")
        #expect(
            String(decoding: JavaProperties.escapedValue("ü€🔑\u{0}"), as: UTF8.self)
                == "\\u00FC\\u20AC\\uD83D\\uDD11\\u0000")
    }

    @Test func secretEscapingMatchesStringEscaping() throws {
        for value in Self.nastyValues {
            let secret = try JavaProperties.escapedValue(SecureBytes(copying: Array(value.utf8)))
            #expect(secret.withUnsafeBytes { Array($0) } == JavaProperties.escapedValue(value))
        }
    }

    @Test(arguments: [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0x61, 0xE2, 0x82]] as [[UInt8]])
    func invalidUTF8SecretIsRejected(_ bytes: [UInt8]) {
        #expect(throws: VaultError.self) { try JavaProperties.escapedValue(SecureBytes(copying: bytes)) }
    }

    /// java.util.Properties reads every key and value back exactly, both as
    /// an InputStream (ISO-8859-1) and as a UTF-8 Reader.
    @Test func javaReadsEveryValueBack() throws {
        var file: [UInt8] = Array("# nasty values\n! also a comment\n".utf8)
        var expected: [String: String] = [:]
        for (index, value) in Self.nastyValues.enumerated() {
            let key = "value.\(index)"
            file += JavaProperties.line(key: key, value: value) + [0x0A]
            expected[key] = value
        }
        for (index, key) in Self.nastyValues.enumerated() where !key.isEmpty {
            file += JavaProperties.line(key: key, value: "key \(index)") + [0x0A]
            expected[key] = "key \(index)"
        }
        // The secret path, too, with the nastiest value of all.
        let token = SecureBytes(copying: Array(" =:#!\\\t\n🔑 end\\".utf8))
        file += JavaProperties.escapedKey("token") + [UInt8(ascii: "=")]
        file += try JavaProperties.escapedValue(token).withUnsafeBytes { Array($0) } + [0x0A]
        expected["token"] = " =:#!\\\t\n🔑 end\\"

        let loaded = try ExternalTools.javaLoad(file)
        #expect(loaded == expected)
        for (key, value) in expected where loaded[key] != value {
            Issue.record(
                "key \(key.debugDescription): java read \(String(describing: loaded[key]?.debugDescription)), wrote \(value.debugDescription)"
            )
        }
    }
}
