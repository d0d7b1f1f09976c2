// The strict index.json parser (see IndexCodec.swift for the rules). One pass
// over the bytes, no intermediate tree: known fields become strings, anything
// else is checked for syntax and skipped. Schema problems are remembered, not
// thrown, until the version is known, because "version" sorts after "tokens".
//
// vault.json, which every command reads first, goes through the same grammar
// (`decodeMetadata`): JSONDecoder spent ~0.9 M instructions on its 400 bytes,
// a sixth of `ztoken list`'s own work at 1,000 tokens. Its errors read as
// JSONDecoder's did ("missing field", "field \"kdf.salt\" has the wrong type").

struct IndexReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private let path: String
    /// The first schema problem met; reported only if the version is known.
    private var schemaProblem: String?

    private static let maximumDepth = 64

    private init(bytes: UnsafeBufferPointer<UInt8>, path: String) {
        self.bytes = bytes
        self.path = path
    }

    private struct Malformed: Error { let offset: Int }

    /// A value where the schema wants a string (or null for optional fields).
    private enum Scalar {
        case string(String)
        case null
        case other
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws -> IndexFile {
        var reader = IndexReader(bytes: bytes, path: path)
        let version: Int?
        let tokens: [IndexFile.Entry]?
        do {
            (version, tokens) = try reader.document()
        } catch let malformed as Malformed {
            throw VaultError.corrupt(path: path, reason: "malformed JSON (at byte \(malformed.offset))")
        }
        guard let version else {
            throw VaultError.corrupt(path: path, reason: "not a ztoken file (no readable \"version\")")
        }
        guard (1...IndexFile.currentVersion).contains(version) else {
            throw VaultError.unsupportedVersion(path: path, version: version)
        }
        if let problem = reader.schemaProblem { throw VaultError.corrupt(path: path, reason: problem) }
        guard let tokens else { throw VaultError.corrupt(path: path, reason: "missing field \"tokens\"") }
        return IndexFile(version: version, tokens: tokens)
    }

    private mutating func noteSchema(_ problem: String) {
        if schemaProblem == nil { schemaProblem = problem }
    }

    // MARK: The index schema

    private mutating func document() throws -> (Int?, [IndexFile.Entry]?) {
        var version: Int?
        var versionSeen = false
        var tokens: [IndexFile.Entry]?
        try expect(UInt8(ascii: "{"))
        try members { reader, key in
            switch key {
            case "version":
                guard !versionSeen else { throw Malformed(offset: reader.position) }
                versionSeen = true
                version = try reader.integerOrSkip()
            case "tokens":
                guard tokens == nil else { throw Malformed(offset: reader.position) }
                tokens = try reader.entries()
            default:
                try reader.skipValue(depth: 1)
            }
        }
        skipWhitespace()
        guard position == bytes.count else { throw Malformed(offset: position) }
        return (version, tokens)
    }

    private mutating func entries() throws -> [IndexFile.Entry] {
        skipWhitespace()
        guard peek() == UInt8(ascii: "[") else {
            noteSchema("field \"tokens\" has the wrong type")
            try skipValue(depth: 1)
            return []
        }
        position += 1
        var result: [IndexFile.Entry] = []
        result.reserveCapacity(bytes.count / 300)
        try elements { reader in
            if let entry = try reader.entry(number: result.count) { result.append(entry) }
        }
        return result
    }

    private mutating func entry(number: Int) throws -> IndexFile.Entry? {
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else {
            noteSchema("field \"tokens.\(number)\" has the wrong type")
            try skipValue(depth: 2)
            return nil
        }
        position += 1
        // Field order: id, label, kind, createdAt, last4, digest, state, revokedAt, agent, serverURL.
        var values = [Scalar?](repeating: nil, count: 10)
        try members { reader, key in
            let slot: Int
            switch key {
            case "id": slot = 0
            case "label": slot = 1
            case "kind": slot = 2
            case "createdAt": slot = 3
            case "last4": slot = 4
            case "digest": slot = 5
            case "state": slot = 6
            case "revokedAt": slot = 7
            case "agent": slot = 8
            case "serverURL": slot = 9
            default:
                try reader.skipValue(depth: 3)
                return
            }
            guard values[slot] == nil else { throw Malformed(offset: reader.position) }
            values[slot] = try reader.scalar(depth: 3)
        }
        let names = ["id", "label", "kind", "createdAt", "last4", "digest", "state", "revokedAt", "agent", "serverURL"]
        var strings = [String?](repeating: nil, count: 10)
        for slot in 0..<10 {
            switch values[slot] {
            case .string(let text)?:
                strings[slot] = text
            case nil where slot < 7:
                noteSchema("missing field \"\(names[slot])\"")
                return nil
            case .null? where slot < 7, .other?:
                noteSchema("field \"tokens.\(number).\(names[slot])\" has the wrong type")
                return nil
            case nil, .null?:
                break
            }
        }
        return IndexFile.Entry(id: strings[0]!, label: strings[1]!, kind: strings[2]!, createdAt: strings[3]!,
                               last4: strings[4]!, digest: strings[5]!, state: strings[6]!,
                               revokedAt: strings[7], agent: strings[8], serverURL: strings[9])
    }

    /// An integer "version"; anything else is skipped and reads as no version.
    private mutating func integerOrSkip() throws -> Int? {
        skipWhitespace()
        let start = position
        try skipValue(depth: 1)
        return integer(start..<position)
    }

    /// The JSON value at `range` as an integer of at most 18 digits, or nil
    /// (a fraction, an exponent, anything not a number).
    private func integer(_ range: Range<Int>) -> Int? {
        var digits = bytes[range]
        var negative = false
        if digits.first == UInt8(ascii: "-") { negative = true; digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let magnitude = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return negative ? -magnitude : magnitude
    }

    // MARK: vault.json

    /// A value as far as vault.json's schema looks at it; arrays and booleans
    /// are checked for syntax and kept as `.other`.
    private indirect enum Value {
        case string(String)
        case number(Range<Int>)
        case null
        case object([(key: String, value: Value)])
        case other
    }

    private mutating func value(depth: Int) throws -> Value {
        guard depth <= Self.maximumDepth else { throw Malformed(offset: position) }
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "n"): try literal("null"); return .null
        case .some(UInt8(ascii: "-")), .some(0x30...0x39):
            let start = position
            try number()
            return .number(start..<position)
        case UInt8(ascii: "{"):
            position += 1
            var members: [(key: String, value: Value)] = []
            try self.members { reader, key in
                guard !members.contains(where: { $0.key == key }) else { throw Malformed(offset: reader.position) }
                members.append((key, try reader.value(depth: depth + 1)))
            }
            return .object(members)
        default:
            try skipValue(depth: depth)
            return .other
        }
    }

    /// vault.json, checked field by field in MetadataFile's declaration
    /// order, as its synthesized Decodable init would.
    static func decodeMetadata(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws -> MetadataFile {
        var reader = IndexReader(bytes: bytes, path: path)
        let document: Value
        do {
            document = try reader.value(depth: 1)
            reader.skipWhitespace()
            guard reader.position == bytes.count else { throw Malformed(offset: reader.position) }
        } catch let malformed as Malformed {
            throw VaultError.corrupt(path: path, reason: "malformed JSON (at byte \(malformed.offset))")
        }
        func member(_ key: String, of object: [(key: String, value: Value)]) -> Value? {
            object.first { $0.key == key }?.value
        }
        guard case .object(let top) = document, case .number(let range)? = member("version", of: top),
              let version = reader.integer(range) else {
            throw VaultError.corrupt(path: path, reason: "not a ztoken file (no readable \"version\")")
        }
        guard (1...MetadataFile.currentVersion).contains(version) else {
            throw VaultError.unsupportedVersion(path: path, version: version)
        }
        func wrongType(_ field: String) -> VaultError { .corrupt(path: path, reason: "field \"\(field)\" has the wrong type") }
        func missing(_ key: String) -> VaultError { .corrupt(path: path, reason: "missing field \"\(key)\"") }
        func string(_ key: String, of object: [(key: String, value: Value)], at prefix: String = "") throws -> String {
            switch member(key, of: object) {
            case .string(let text)?: return text
            case nil: throw missing(key)
            default: throw wrongType(prefix + key)
            }
        }
        func optionalString(_ key: String, of object: [(key: String, value: Value)]) throws -> String? {
            switch member(key, of: object) {
            case .string(let text)?: return text
            case nil, .null?: return nil
            default: throw wrongType(key)
            }
        }
        func integer(_ key: String, of object: [(key: String, value: Value)], at prefix: String) throws -> Int {
            switch member(key, of: object) {
            case .number(let range)?:
                guard let value = reader.integer(range) else { throw wrongType(prefix + key) }
                return value
            case nil: throw missing(key)
            default: throw wrongType(prefix + key)
            }
        }
        let vaultID = try string("vaultID", of: top)
        let createdAt = try string("createdAt", of: top)
        let user = try string("user", of: top)
        let serverURL = try optionalString("serverURL", of: top)
        let publicKey = try string("publicKey", of: top)
        let keyProtection = try string("keyProtection", of: top)
        var kdf: MetadataFile.KDFParameters?
        switch member("kdf", of: top) {
        case .object(let fields)?:
            let algorithm = try string("algorithm", of: fields, at: "kdf.")
            let opsLimit = try integer("opsLimit", of: fields, at: "kdf.")
            guard opsLimit >= 0 else { throw wrongType("kdf.opsLimit") }
            kdf = MetadataFile.KDFParameters(algorithm: algorithm, opsLimit: UInt64(opsLimit),
                                             memLimit: try integer("memLimit", of: fields, at: "kdf."),
                                             salt: try string("salt", of: fields, at: "kdf."))
        case nil, .null?:
            kdf = nil
        default:
            throw wrongType("kdf")
        }
        return MetadataFile(version: version, vaultID: vaultID, createdAt: createdAt, user: user, serverURL: serverURL,
                            publicKey: publicKey, keyProtection: keyProtection, kdf: kdf)
    }

    // MARK: JSON grammar

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8) throws {
        skipWhitespace()
        guard peek() == byte else { throw Malformed(offset: position) }
        position += 1
    }

    /// The members of an object whose `{` was consumed: calls `body` with each
    /// key, positioned before the value; consumes the closing `}`.
    private mutating func members(_ body: (inout IndexReader, String) throws -> Void) throws {
        skipWhitespace()
        if peek() == UInt8(ascii: "}") { position += 1; return }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw Malformed(offset: position) }
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try body(&self, key)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return
            default: throw Malformed(offset: position)
            }
        }
    }

    /// The elements of an array whose `[` was consumed; consumes the `]`.
    private mutating func elements(_ body: (inout IndexReader) throws -> Void) throws {
        skipWhitespace()
        if peek() == UInt8(ascii: "]") { position += 1; return }
        while true {
            try body(&self)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return
            default: throw Malformed(offset: position)
            }
        }
    }

    private mutating func scalar(depth: Int) throws -> Scalar {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: try skipValue(depth: depth); return .other
        }
    }

    /// Checks and skips any JSON value, nesting at most `maximumDepth` deep.
    private mutating func skipValue(depth: Int) throws {
        guard depth <= Self.maximumDepth else { throw Malformed(offset: position) }
        skipWhitespace()
        guard let byte = peek() else { throw Malformed(offset: position) }
        switch byte {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "{"):
            position += 1
            var keys = Set<String>()
            try members { reader, key in
                guard keys.insert(key).inserted else { throw Malformed(offset: reader.position) }
                try reader.skipValue(depth: depth + 1)
            }
        case UInt8(ascii: "["):
            position += 1
            try elements { reader in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), 0x30...0x39: try number()
        default: throw Malformed(offset: position)
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count,
              word.withUTF8Buffer({ $0.elementsEqual(bytes[position..<(position + count)]) }) else {
            throw Malformed(offset: position)
        }
        position += count
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    private mutating func number() throws {
        func digits(_ reader: inout IndexReader) throws {
            let start = reader.position
            while let byte = reader.peek(), byte >= 0x30 && byte <= 0x39 { reader.position += 1 }
            guard reader.position > start else { throw Malformed(offset: reader.position) }
        }
        if peek() == UInt8(ascii: "-") { position += 1 }
        if peek() == UInt8(ascii: "0") { position += 1 } else { try digits(&self) }
        if peek() == UInt8(ascii: ".") { position += 1; try digits(&self) }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            try digits(&self)
        }
    }

    /// A string at `"`: escapes decoded, UTF-8 validated, raw control characters refused.
    private mutating func string() throws -> String {
        position += 1
        let start = position
        // Fast path: no escapes, the common case for every index field; pure
        // ASCII needs no UTF-8 validation (and skips the generic validator).
        var high: UInt8 = 0
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<position])
                position += 1
                if high < 0x80 { return String(decoding: raw, as: UTF8.self) }
                guard let text = String(validating: raw, as: UTF8.self) else { throw Malformed(offset: start) }
                return text
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            high |= byte
            position += 1
        }
        var out = Array(bytes[start..<position])
        while true {
            guard position < bytes.count else { throw Malformed(offset: position) }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: out, as: UTF8.self) else { throw Malformed(offset: start) }
                return text
            case 0x00..<0x20:
                throw Malformed(offset: position - 1)
            case UInt8(ascii: "\\"):
                guard position < bytes.count else { throw Malformed(offset: position) }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                              bytes[position + 1] == UInt8(ascii: "u") else { throw Malformed(offset: position) }
                        position += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw Malformed(offset: position) }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw Malformed(offset: position)
                    }
                    guard let value = Unicode.Scalar(scalar) else { throw Malformed(offset: position) }
                    out.append(contentsOf: UTF8.encode(value)!)
                default:
                    throw Malformed(offset: position - 1)
                }
            default:
                out.append(byte)
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw Malformed(offset: position) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw Malformed(offset: position)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }
}
