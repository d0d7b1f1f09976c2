// A user's `--template FILE` for zbot.properties, parsed once and rendered
// into a `SecureBytes`. Rules: the file must be UTF-8 (at most 1 MiB);
// placeholders are `{{server_url}}`, `{{name}}` and `{{token}}`, with optional
// spaces or tabs inside the braces (`{{ name }}`); an unknown name, a `{{`
// without `}}` on the same line, or a `{{` inside a placeholder is an error
// naming the line. `{{token}}` must appear at least once: a bundle without its
// token is useless, so a template that forgets it is a mistake, not a choice.
// Values are inserted escaped as properties values (JavaProperties); literal
// text is copied as is, except that non-ASCII characters become `\uXXXX` so
// the file is ASCII whether the zBot loads it as ISO-8859-1 or UTF-8. A lone
// `{` or a `}}` outside a placeholder is literal text.

/// A parsed zbot.properties template.
public struct BundleTemplate: Sendable, Equatable {
    /// The values a template can insert.
    public enum Placeholder: String, Sendable, CaseIterable {
        /// `{{server_url}}`: the server the zBot talks to.
        case serverURL = "server_url"
        /// `{{name}}`: the zBot's name.
        case name
        /// `{{token}}`: the token; a template must contain it.
        case token
    }

    /// Literal text or a placeholder, in file order.
    enum Piece: Sendable, Equatable {
        case literal(String)
        case placeholder(Placeholder)
    }

    /// The largest template accepted.
    public static let maxSize = 1 << 20

    /// The template's pieces in order.
    let pieces: [Piece]

    /// Reads and parses the template file at `path`, byte for byte: its
    /// encoding and size are checked here, not lost to a lenient decoding.
    public init(contentsOfFile path: String) throws {
        let bytes = try SecretInput.readExactly(path, limit: Self.maxSize)
        try self.init(parsing: bytes.withUnsafeBytes { Array($0) }, path: path)
    }

    /// Parses the bytes of a template file; `path` names it in errors.
    ///
    /// Throws `VaultError.invalidArgument("template <path>: line N: …")`.
    public init<Bytes: Collection>(parsing bytes: Bytes, path: String) throws where Bytes.Element == UInt8 {
        func fail(_ why: String, line: Int? = nil) -> VaultError {
            let place = line.map { "line \($0): " } ?? ""
            return .invalidArgument(
                "template \(path): \(place)\(why)",
                hint: "placeholders are {{server_url}}, {{name}} and {{token}}")
        }
        guard bytes.count <= Self.maxSize else { throw fail("larger than 1 MiB") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let valid = Array(bytes).withUnsafeBufferPointer { buffer -> Int in
                var iterator = buffer.makeIterator()
                var decoder = UTF8()
                var consumed = 0
                while case .scalarValue(let scalar) = decoder.decode(&iterator) { consumed += UTF8.width(scalar) }
                return consumed
            }
            let line = 1 + bytes.prefix(valid).filter { $0 == UInt8(ascii: "\n") }.count
            throw fail("is not valid UTF-8", line: line)
        }

        // Scan Unicode scalars, not Characters: a combining mark after a brace
        // must not hide the brace from the parser.
        let open: [Unicode.Scalar] = ["{", "{"]
        var pieces: [Piece] = []
        var literal = String.UnicodeScalarView()
        var line = 1
        var rest = Substring(text).unicodeScalars
        while let opening = rest.firstRange(of: open) {
            let before = rest[..<opening.lowerBound]
            literal.append(contentsOf: before)
            line += before.filter { $0 == "\n" }.count
            let afterOpen = rest[opening.upperBound...]
            // Only up to the first `}}`, `{{` or line end, so each scalar is
            // looked at a bounded number of times and a long line stays linear.
            var closing: Range<Substring.UnicodeScalarView.Index>?
            var previous: Unicode.Scalar?
            var index = afterOpen.startIndex
            scan: while index < afterOpen.endIndex {
                let scalar = afterOpen[index]
                switch scalar {
                case "\n", "\r":
                    break scan
                case "{" where previous == "{":
                    throw fail("nested '{{' inside a placeholder", line: line)
                case "}" where previous == "}":
                    closing = afterOpen.index(before: index)..<afterOpen.index(after: index)
                    break scan
                default:
                    previous = scalar
                    index = afterOpen.index(after: index)
                }
            }
            guard let closing else { throw fail("unterminated '{{' (no '}}' on the same line)", line: line) }
            let inner = String(Substring(afterOpen[..<closing.lowerBound]))
            let name = inner.trimmingSpacesAndTabs()
            guard let placeholder = Placeholder(rawValue: String(name)) else {
                throw fail("unknown placeholder '{{\(TerminalSafe.escape(inner))}}'", line: line)
            }
            if !literal.isEmpty {
                pieces.append(.literal(String(literal)))
                literal = String.UnicodeScalarView()
            }
            pieces.append(.placeholder(placeholder))
            rest = afterOpen[closing.upperBound...]
        }
        literal.append(contentsOf: rest)
        if !literal.isEmpty { pieces.append(.literal(String(literal))) }
        guard pieces.contains(.placeholder(.token)) else {
            throw VaultError.invalidArgument(
                "template \(path): no {{token}} placeholder",
                hint: "a bundle without its token is useless; add a line such as zephyrApiToken={{token}}")
        }
        self.pieces = pieces
    }

    /// The rendered file: literals copied, placeholders replaced by their
    /// escaped values, all built directly into one secret buffer.
    func render(name: String, serverURL: String, token: SecureBytes) throws -> SecureBytes {
        let escapedName = JavaProperties.escapedValue(name)
        let escapedURL = JavaProperties.escapedValue(serverURL)
        return try SecureBytes.assemble { writer in
            for piece in pieces {
                switch piece {
                case .literal(let text):
                    for scalar in text.unicodeScalars { JavaProperties.escapeNonASCII(scalar) { writer.append($0) } }
                case .placeholder(.name):
                    writer.append(contentsOf: escapedName)
                case .placeholder(.serverURL):
                    writer.append(contentsOf: escapedURL)
                case .placeholder(.token):
                    try token.withUnsafeBytes { try JavaProperties.escape(utf8: $0, as: .value, into: &writer) }
                }
            }
        }
    }
}

extension String {
    /// The text without leading and trailing spaces and tabs.
    fileprivate func trimmingSpacesAndTabs() -> Substring {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
