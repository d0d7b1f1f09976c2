// Server URLs that go into zBot configurations: http or https only.

/// Validation of the zBot server URL.
public enum ServerURL {
    /// Returns `text` when it is an http(s) URL with a host and no whitespace
    /// or control characters; throws `.invalidArgument` otherwise.
    public static func validated(_ text: String) throws -> String {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") { rest = text.dropFirst(8) } else if lower.hasPrefix("http://") { rest = text.dropFirst(7) } else {
            throw VaultError.invalidArgument("server URL \(VaultError.quoted(text)) is not an http or https URL",
                                             hint: "write it in full, e.g. https://zephyr.example.com")
        }
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !host.isEmpty, !text.unicodeScalars.contains(where: { $0.properties.isWhitespace || TerminalSafe.isDangerous($0) }) else {
            throw VaultError.invalidArgument("server URL \(VaultError.quoted(text)) has no host or contains spaces",
                                             hint: "write it in full, e.g. https://zephyr.example.com")
        }
        return text
    }
}
