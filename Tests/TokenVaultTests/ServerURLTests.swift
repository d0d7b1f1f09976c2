import Testing

@testable import TokenVault

@Suite struct ServerURLTests {
    @Test(arguments: [
        "https://zephyr.example.com", "http://localhost:8080", "HTTPS://Z.example/path?q=1#f",
        "http://[::1]:443/", "https://10.0.0.1", "https://bücher.example",
    ])
    func acceptable(_ url: String) throws {
        #expect(try ServerURL.validate(url) == url)
    }

    @Test(arguments: [
        "", "zephyr.example.com", "ftp://x", "file:///etc", "https://", "https:///path", "http://:80",
        "https://a b", "https://a\tb", "https://x\n", " https://x", "https://x\u{7F}", "https://x\u{85}",
        "https://x:0", "https://x:99999", "https://x:8a", "https://user:pw@x", "http://[::1", "javascript:alert(1)",
    ])
    func refused(_ url: String) {
        do {
            _ = try ServerURL.validate(url)
            Issue.record("accepted \(url.debugDescription)")
        } catch let VaultError.invalidArgument(text, hint) {
            #expect(text.hasPrefix("server URL "))
            #expect(hint != nil)
            #expect(!text.contains("\n") && !text.contains("\t"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite struct ServerURLRedactionTests {
    /// No message repeats a password given in a URL, whatever else is wrong with it.
    @Test(arguments: [
        "https://bob:hunter2@z.example", "https://bob:hunter2@z.example:99999/x",
        "ftp://bob:hunter2@z.example", "https://bob:hunter2@@z.example/p@th", "https://bob:hunter2@ z",
    ])
    func aPasswordInAURLNeverReachesTheMessage(_ url: String) {
        do {
            _ = try ServerURL.validate(url)
            Issue.record("accepted \(url)")
        } catch let VaultError.invalidArgument(text, hint) {
            #expect(!text.contains("hunter2") && !(hint ?? "").contains("hunter2"), "\(text)")
            #expect(text.contains("***@"), "\(text)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func aURLWithoutUserInfoIsShownWhole() {
        #expect(ServerURL.redacted("https://z.example/a@b") == "https://z.example/a@b")
        #expect(ServerURL.redacted("https://u:p@z.example/a@b") == "https://***@z.example/a@b")
    }
}
