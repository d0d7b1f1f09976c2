// Validation of the zephyr server URL a zBot is configured with. The URL ends
// up in a properties file, a manifest and the index, so it must be a plain
// http(s) URL: a scheme of `http://` or `https://`, a non-empty host, an
// optional numeric port, no whitespace or control characters anywhere, and no
// `user:password@` (a credential in a URL would be written in the clear).

/// A checked server URL for a zBot.
package enum ServerURL {
    /// Returns `text` unchanged if it is an acceptable server URL.
    ///
    /// Throws `VaultError.invalidArgument` naming what is wrong, with a hint.
    package static func validate(_ text: String) throws -> String {
        let hint = "give the server's base URL, such as https://zephyr.example.com"
        func fail(_ why: String) -> VaultError {
            .invalidArgument("server URL \(VaultError.quoted(redacted(text))): \(why)", hint: hint)
        }
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace || TerminalSafe.isDangerous(scalar) || scalar.value == 0xFEFF {
                throw fail("contains whitespace or a control character")
            }
        }
        let lowered = text.lowercased()
        let rest: Substring
        if lowered.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else if lowered.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else {
            throw fail("must start with http:// or https://")
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.contains("@") {
            throw fail("must not contain a user name or password")
        }
        var host = authority[...]
        if host.hasPrefix("[") {
            // An IPv6 literal: [address] with an optional :port after it.
            guard let close = host.firstIndex(of: "]") else { throw fail("has an unterminated IPv6 address") }
            let port = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !port.isEmpty { try checkPort(port.dropFirst(port.first == ":" ? 1 : 0), whole: port, fail) }
        } else if let colon = host.lastIndex(of: ":") {
            try checkPort(host[host.index(after: colon)...], whole: host[colon...], fail)
            host = host[..<colon]
        }
        if host.isEmpty { throw fail("has no host") }
        return text
    }

    /// `text` with anything before an `@` in its authority (a user name and
    /// password) replaced by `***`, so no message repeats a password.
    static func redacted(_ text: String) -> String {
        let afterScheme = text.firstRange(of: "://")?.upperBound ?? text.startIndex
        let authorityEnd = text[afterScheme...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? text.endIndex
        guard let at = text[afterScheme..<authorityEnd].lastIndex(of: "@") else { return text }
        return String(text[..<afterScheme]) + "***" + String(text[at...])
    }

    private static func checkPort(_ digits: Substring, whole: Substring, _ fail: (String) -> VaultError) throws {
        guard whole.first == ":", !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(digits), (1...65_535).contains(port)
        else {
            throw fail("has an invalid port")
        }
    }
}
