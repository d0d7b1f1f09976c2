import Foundation
import TestSupport
import Testing

@testable import TokenVault

@Suite struct BundleTemplateTests {
    static func parse(_ text: String) throws -> BundleTemplate {
        try BundleTemplate(parsing: Array(text.utf8), path: "t.tmpl")
    }

    static func render(
        _ template: BundleTemplate, name: String = "bot", url: String = "https://z.example",
        token: String = "ztk_abc"
    ) throws -> String {
        let out = try template.render(name: name, serverURL: url, token: SecureBytes(copying: Array(token.utf8)))
        return out.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// The message of the `invalidArgument` error `body` throws, or nil.
    static func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let VaultError.invalidArgument(text, hint) {
            #expect(hint != nil)
            return text
        } catch { return "unexpected \(error)" }
    }

    @Test(arguments: [
        ("t={{token}}", "t=ztk_abc"),
        ("n={{name}}\nt={{token}}", "n=bot\nt=ztk_abc"),
        ("u={{server_url}} t={{token}}", "u=https\\://z.example t=ztk_abc"),
        ("t={{ token }}", "t=ztk_abc"),
        ("t={{\ttoken  }}", "t=ztk_abc"),
        ("a={{name}}{{name}}{{token}}{{token}}", "a=botbotztk_abcztk_abc"),
        ("# { brace } and }} and {x}\nt={{token}}", "# { brace } and }} and {x}\nt=ztk_abc"),
        ("# grüße 🔑\nt={{token}}\r\n", "# gr\\u00FC\\u00DFe \\uD83D\\uDD11\nt=ztk_abc\r\n"),
    ])
    func placeholdersAreReplaced(_ template: String, _ expected: String) throws {
        #expect(try Self.render(Self.parse(template)) == expected)
    }

    @Test func valuesAreEscapedAsPropertiesValues() throws {
        let out = try Self.render(Self.parse("n={{name}}\nt={{token}}"), name: " a=b:ü", token: "x#!\\")
        #expect(out == "n=\\ a\\=b\\:\\u00FC\nt=x\\#\\!\\\\")
    }

    @Test(arguments: [
        ("t={{token}}\nx={{foo}}", "line 2: unknown placeholder '{{foo}}'"),
        ("t={{token}}\n\n\nx={{ Token }}", "line 4: unknown placeholder '{{ Token }}'"),
        ("x={{}}\nt={{token}}", "line 1: unknown placeholder '{{}}'"),
        ("t={{token}}\nx={{name", "line 2: unterminated '{{'"),
        ("t={{token}}\nx={{name\n}}", "line 2: unterminated '{{'"),
        ("a\nb\nx={{ {{name}} }}\nt={{token}}", "line 3: nested '{{'"),
        ("x={{na{{me}}\nt={{token}}", "line 1: nested '{{'"),
    ])
    func badPlaceholdersNameTheLine(_ template: String, _ fragment: String) {
        let text = Self.message { _ = try Self.parse(template) }
        #expect(text?.hasPrefix("template t.tmpl: ") == true)
        #expect(text?.contains(fragment) == true, "got \(String(describing: text))")
    }

    @Test func templateWithoutTokenIsRefused() {
        let text = Self.message { _ = try Self.parse("zbotName={{name}}\nzephyrServerURL={{server_url}}\n") }
        #expect(text == "template t.tmpl: no {{token}} placeholder")
    }

    @Test(arguments: [[0xFF], [0x74, 0x3D, 0xC3, 0x28], [0xED, 0xA0, 0x80]] as [[UInt8]])
    func nonUTF8IsRefused(_ bytes: [UInt8]) {
        let text = Self.message { _ = try BundleTemplate(parsing: Array("t={{token}}\n".utf8) + bytes, path: "t.tmpl") }
        #expect(text == "template t.tmpl: line 2: is not valid UTF-8")
    }

    @Test func oversizedTemplateIsRefused() {
        let big = Array("t={{token}}\n".utf8) + [UInt8](repeating: 0x23, count: BundleTemplate.maxSize)
        #expect(Self.message { _ = try BundleTemplate(parsing: big, path: "t.tmpl") }?.contains("larger") == true)
    }

    /// Templates of one 1 MiB line: many placeholders, braces, an unclosed
    /// `{{`. Parsing once looked from every `{{` to the end of its line, so
    /// a line of placeholders took time quadratic in its length (hours for
    /// this one); it is linear now. The bound is loose on purpose.
    @Test func aOneMebibyteLineIsParsedOrRefusedPromptly() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let count = BundleTemplate.maxSize / 9
        let template = try Self.parse(String(repeating: "{{token}}", count: count))
        #expect(template.pieces.count == count)
        #expect(try Self.render(template, token: "t") == String(repeating: "t", count: count))
        let spaced = try Self.parse(
            String(repeating: "{{ name }} { ", count: BundleTemplate.maxSize / 13 - 1) + "{{token}}")
        #expect(spaced.pieces.count == 2 * (BundleTemplate.maxSize / 13 - 1) + 1)
        let braces = String(repeating: "{", count: BundleTemplate.maxSize)
        #expect(
            Self.message { _ = try Self.parse(braces) } == "template t.tmpl: line 1: nested '{{' inside a placeholder")
        let open = "t={{token}}\nx={{ " + String(repeating: "a}", count: BundleTemplate.maxSize / 2 - 20)
        #expect(
            Self.message { _ = try Self.parse(open) }
                == "template t.tmpl: line 2: unterminated '{{' (no '}}' on the same line)")
        #expect(clock.now - start < .seconds(60))
    }

    @Test func controlCharactersInAnUnknownPlaceholderAreShownEscaped() {
        let text = Self.message { _ = try Self.parse("x={{\u{1B}[31m}}\nt={{token}}") }
        #expect(text?.contains("\u{1B}") == false)
    }

    /// A user template rendered with nasty values is read back by Java.
    @Test func javaReadsARenderedTemplate() throws {
        let template = try Self.parse(
            "# my zBot ✓\nzephyrServerURL = {{ server_url }}\nzbotName={{name}}\nzephyrApiToken:{{token}}\nlabel=prefix-{{name}}\n"
        )
        let out = try template.render(
            name: " Ünïcødé bot=1 🤖", serverURL: "https://z.example:8443/a?b=c#d",
            token: SecureBytes(copying: Array("  tok\\en:#!\t".utf8)))
        let loaded = try ExternalTools.javaLoad(out.withUnsafeBytes { Array($0) })
        #expect(
            loaded == [
                "zephyrServerURL": "https://z.example:8443/a?b=c#d",
                "zbotName": " Ünïcødé bot=1 🤖",
                "zephyrApiToken": "  tok\\en:#!\t",
                "label": "prefix- Ünïcødé bot=1 🤖",
            ])
    }

    /// Read from a file, a template is taken byte for byte: invalid UTF-8 is
    /// refused (not replaced by U+FFFD), the last newline kept, size checked.
    @Test func readFromFileByteForByte() throws {
        let path = "/tmp/ztoken-template-\(getpid())"
        defer { unlink(path) }
        func put(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { b in FileManager.default.createFile(atPath: path, contents: Data(b)) }
        }
        put(Array("t={{token}}\n".utf8))
        #expect(try Self.render(BundleTemplate(contentsOfFile: path)) == "t=ztk_abc\n")
        put(Array("t={{token}}\nx=".utf8) + [0xFF, 0x0A])
        #expect(
            Self.message { _ = try BundleTemplate(contentsOfFile: path) }?.contains("line 2: is not valid UTF-8")
                == true)
        put(Array("t={{token}}\n".utf8) + [UInt8](repeating: 0x23, count: BundleTemplate.maxSize))
        #expect(Self.message { _ = try BundleTemplate(contentsOfFile: path) }?.contains("larger than 1 MiB") == true)
    }
}
