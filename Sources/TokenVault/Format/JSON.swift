// The one reader of every JSON file ztoken trusts nothing about (vault.json,
// vault-key.json, index.json, a backup's or a bundle's manifest): a strict
// RFC 8259 parser into a small tree, from which each file's model reads its
// fields by name (`JSONObject`, in the model's `init(json:)`). index.json,
// the one large file, is read member by member (`members`, `elements`)
// straight into its entries (`Index.decode`), by the same parser.
//
// Strict means: UTF-8 is validated, raw control characters in strings, lone
// surrogates, trailing bytes and nesting deeper than `maximumDepth` are
// refused, and so is a key that appears twice in one object, compared byte
// for byte after escapes are decoded (JSONDecoder would silently keep one of
// them: a second "state" could hide a revocation). Every check is linear in
// the input, whatever the input. Keys are compared where they lie in the
// input, without a String made for each.
//
// Files are written by JSONEncoder (`VaultJSON.encode`): sorted keys, so they
// are deterministic and diff well. Reading goes through the tree rather than
// JSONDecoder because JSONDecoder keeps one of two equal keys silently, and
// through explicit field reads rather than a `Decoder` because Codable's
// dynamic dispatch cost more than the rest of `ztoken list` at 1,000 tokens.

#if canImport(Glibc)
import Glibc
#endif

/// A JSON value as the strict parser read it.
enum JSONValue {
    case null
    case bool(Bool)
    /// The number's text, checked against the JSON grammar.
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in file order; keys are unique.
    case object([(key: String, value: JSONValue)])

    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value of `key`, when this is an object that has it.
    subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// This value as an integer: a JSON number with no fraction or exponent
    /// and at most 18 digits, so it fits an `Int` on every platform we run on.
    var integer: Int? {
        guard case .number(let text) = self else { return nil }
        var digits = Substring(text)
        let negative = digits.first == "-"
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.count <= 18, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let magnitude = Int(digits)
        else { return nil }
        return negative ? -magnitude : magnitude
    }
}

/// An object's key as the parser read it: where its bytes are, in the input
/// or (when it has escapes) decoded by the parser (`JSONParser.withBytes`).
enum JSONKey {
    case input(Range<Int>)
    case decoded(Range<Int>)

    /// The key's length in bytes.
    var count: Int {
        switch self {
        case .input(let range), .decoded(let range): return range.count
        }
    }
}

/// Parses bytes into a `JSONValue`, or throws `JSONParser.Malformed` naming the
/// byte where the input stops being strict JSON.
struct JSONParser {
    struct Malformed: Error {
        let offset: Int
    }

    static let maximumDepth = 64

    /// Objects with more members than this find duplicate keys with a set;
    /// smaller ones (every object ztoken writes) by comparing with the others.
    private static let smallObject = 16

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    /// The keys of the objects being read, innermost last (`members`).
    private var keys: [JSONKey] = []
    /// Strings with escapes, decoded (`stringBytes`).
    private var decoded: [UInt8] = []

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    static func parse(_ bytes: [UInt8]) throws(Malformed) -> JSONValue {
        try read(bytes) { parser throws(Malformed) in try parser.value(depth: 1) }
    }

    /// Runs `body` on a parser at the start of `bytes`, then checks that
    /// only whitespace follows what it read. `body` reads one value, as a
    /// tree (`value(depth:)`) or member by member (`members`, `elements`).
    static func read<T>(
        _ bytes: [UInt8], _ body: (inout JSONParser) throws(Malformed) -> T
    ) throws(Malformed) -> T {
        let result: Result<T, Malformed> = bytes.withUnsafeBufferPointer { buffer in
            var parser = JSONParser(buffer)
            do throws(Malformed) {
                let value = try body(&parser)
                parser.skipWhitespace()
                guard parser.position == buffer.count else { throw Malformed(offset: parser.position) }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The first byte of the next value, after whitespace: `{` for an
    /// object, `[` for an array.
    mutating func nextByte() -> UInt8? {
        skipWhitespace()
        return peek()
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        var at = position
        while at < bytes.count {
            let byte = bytes[at]
            guard byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D else { break }
            at += 1
        }
        position = at
    }

    private mutating func expect(_ byte: UInt8) throws(Malformed) {
        skipWhitespace()
        guard peek() == byte else { throw Malformed(offset: position) }
        position += 1
    }

    /// The next value, as a tree; `depth` is its nesting (1 at the top).
    mutating func value(depth: Int) throws(Malformed) -> JSONValue {
        guard depth <= Self.maximumDepth else { throw Malformed(offset: position) }
        skipWhitespace()
        guard let byte = peek() else { throw Malformed(offset: position) }
        switch byte {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case UInt8(ascii: "-"), 0x30...0x39: return .number(try number())
        default: throw Malformed(offset: position)
        }
    }

    private mutating func object(depth: Int) throws(Malformed) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        members.reserveCapacity(Self.smallObject)
        try self.members(depth: depth) { key, parser throws(Malformed) in
            members.append((parser.string(of: key), try parser.value(depth: depth + 1)))
        }
        return .object(members)
    }

    /// Reads the object at its opening brace (at depth `depth`, which the
    /// caller has checked, as `value(depth:)` does), calling
    /// `body` with each key and the parser before its value, which `body`
    /// must read (at depth `depth + 1`). A key seen before is refused.
    mutating func members(
        depth: Int, _ body: (JSONKey, inout JSONParser) throws(Malformed) -> Void
    ) throws(Malformed) {
        position += 1
        // This object's keys are `keys[first...]`; a nested object's are
        // pushed after them and popped when it ends.
        let first = keys.count
        defer { keys.removeSubrange(first...) }
        var many = Set<[UInt8]>()
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw Malformed(offset: position) }
            let keyOffset = position
            let key = try self.key()
            if keys.count - first < Self.smallObject {
                guard !keys[first...].contains(where: { self.equal($0, key) }) else {
                    throw Malformed(offset: keyOffset)
                }
                keys.append(key)
            } else {
                if many.isEmpty { many = Set(keys[first...].map { self.withBytes(of: $0, Array.init) }) }
                guard many.insert(withBytes(of: key, Array.init)).inserted else { throw Malformed(offset: keyOffset) }
            }
            try expect(UInt8(ascii: ":"))
            try body(key, &self)
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"):
                position += 1
                return
            default: throw Malformed(offset: position)
            }
        }
    }

    private mutating func array(depth: Int) throws(Malformed) -> JSONValue {
        var elements: [JSONValue] = []
        try self.elements(depth: depth) { _, parser throws(Malformed) in
            elements.append(try parser.value(depth: depth + 1))
        }
        return .array(elements)
    }

    /// Reads the array at its opening bracket (at depth `depth`, checked by
    /// the caller), calling
    /// `body` with each element's position and the parser before it, which
    /// `body` must read (at depth `depth + 1`).
    mutating func elements(
        depth: Int, _ body: (Int, inout JSONParser) throws(Malformed) -> Void
    ) throws(Malformed) {
        position += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return
        }
        var count = 0
        while true {
            try body(count, &self)
            count += 1
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"):
                position += 1
                return
            default: throw Malformed(offset: position)
            }
        }
    }

    private mutating func literal(_ word: StaticString) throws(Malformed) {
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count,
            word.withUTF8Buffer({ $0.elementsEqual(bytes[position..<(position + count)]) })
        else { throw Malformed(offset: position) }
        position += count
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    private mutating func number() throws(Malformed) -> String {
        let start = position
        func digits(_ parser: inout JSONParser) throws(Malformed) {
            let first = parser.position
            while let byte = parser.peek(), byte >= 0x30 && byte <= 0x39 { parser.position += 1 }
            guard parser.position > first else { throw Malformed(offset: parser.position) }
        }
        if peek() == UInt8(ascii: "-") { position += 1 }
        if peek() == UInt8(ascii: "0") { position += 1 } else { try digits(&self) }
        if peek() == UInt8(ascii: ".") {
            position += 1
            try digits(&self)
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            try digits(&self)
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// A string at its opening quote: escapes decoded, UTF-8 validated.
    private mutating func string() throws(Malformed) -> String {
        let start = position + 1
        switch try stringBytes() {
        case .input(let range):
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        case .decoded(let range):
            let text = decoded[range].withUnsafeBufferPointer { String(validating: $0, as: UTF8.self) }
            decoded.removeSubrange(range)
            guard let text else { throw Malformed(offset: start) }
            return text
        }
    }

    /// An object's key at its opening quote, as bytes.
    private mutating func key() throws(Malformed) -> JSONKey {
        let start = position + 1
        let key = try stringBytes()
        if case .decoded(let range) = key {
            guard decoded[range].withUnsafeBufferPointer({ String(validating: $0, as: UTF8.self) }) != nil else {
                throw Malformed(offset: start)
            }
        }
        return key
    }

    /// The bytes of the string at its opening quote: where they are in the
    /// input when it has no escape (most strings), else appended to
    /// `decoded`. Bytes that are not ASCII are validated as UTF-8 in the
    /// input; a decoded string is validated by the caller.
    private mutating func stringBytes() throws(Malformed) -> JSONKey {
        position += 1
        let start = position
        // Scan to the first byte that is not printable ASCII.
        var end = position
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 { break }
            end += 1
        }
        position = end
        if peek() == UInt8(ascii: "\"") {
            position += 1
            return .input(start..<end)
        }
        // Text that is not ASCII, but without escapes: find the end, validate.
        while let byte = peek(), byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte >= 0x20 {
            position += 1
        }
        if peek() == UInt8(ascii: "\"") {
            position += 1
            let text = UnsafeBufferPointer(rebasing: bytes[start..<(position - 1)])
            guard String(validating: text, as: UTF8.self) != nil else { throw Malformed(offset: start) }
            return .input(start..<(position - 1))
        }
        let first = decoded.count
        decoded.append(contentsOf: bytes[start..<position])
        while true {
            guard let byte = peek() else { throw Malformed(offset: position) }
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return .decoded(first..<decoded.count)
            case 0x00..<0x20:
                throw Malformed(offset: position - 1)
            case UInt8(ascii: "\\"):
                try escape()
            default:
                decoded.append(byte)
            }
        }
    }

    /// Calls `body` with the bytes of `key`.
    func withBytes<T>(of key: JSONKey, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        switch key {
        case .input(let range): return body(UnsafeBufferPointer(rebasing: bytes[range]))
        case .decoded(let range):
            return decoded.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[range])) }
        }
    }

    func string(of key: JSONKey) -> String { withBytes(of: key) { String(decoding: $0, as: UTF8.self) } }

    /// True when `key` is `text`.
    func key(_ key: JSONKey, is text: [UInt8]) -> Bool {
        key.count == text.count
            && withBytes(of: key) { found in text.withUnsafeBufferPointer { Self.equal(found, $0) } }
    }

    private func equal(_ one: JSONKey, _ other: JSONKey) -> Bool {
        one.count == other.count && withBytes(of: one) { a in withBytes(of: other) { b in Self.equal(a, b) } }
    }

    private static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }

    /// Byte equality with memcmp: Array's `==` compares element by element,
    /// several instructions a byte on a whole index.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in equal(a, b) } }
    }

    /// The escape after a backslash, appended to `decoded` as UTF-8.
    private mutating func escape() throws(Malformed) {
        guard let byte = peek() else { throw Malformed(offset: position) }
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800..<0xDC00).contains(scalar) {
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else { throw Malformed(offset: position) }
                position += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw Malformed(offset: position) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let value = Unicode.Scalar(scalar) else { throw Malformed(offset: position) }
            decoded.append(contentsOf: UTF8.encode(value)!)
        default:
            throw Malformed(offset: position - 1)
        }
    }

    private mutating func hex4() throws(Malformed) -> UInt32 {
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

// MARK: - Reading a model from the tree

/// A model that reads itself from a vault file's JSON.
protocol JSONReadable {
    init(json: JSONObject) throws
}

/// An object of a vault file, as a model reads its fields. Each read names
/// the field in its error: "missing field \"label\"", "field
/// \"tokens.3.label\" has the wrong type". A `null` reads as absent, and
/// unknown keys are ignored, so a newer file's extra fields are no error.
struct JSONObject {
    let members: [(key: String, value: JSONValue)]
    /// The file, for errors.
    let file: String
    /// Where this object is in the file, for errors: "" at the top, else
    /// the path of its parent ("tokens.") and, in an array, its position.
    private let parent: String
    private let position: Int?

    /// "tokens.3." (made only for an error message).
    private var prefix: String { position.map { "\(parent)\($0)." } ?? parent }

    init(_ value: JSONValue, file: String, parent: String = "", position: Int? = nil) throws {
        self.file = file
        self.parent = parent
        self.position = position
        guard case .object(let members) = value else {
            self.members = []
            throw VaultError.corrupt(path: file, reason: "field \"\(prefix.dropLast())\" has the wrong type")
        }
        self.members = members
    }

    func value(_ key: String) -> JSONValue? {
        for member in members where member.key == key {
            if case .null = member.value { return nil }
            return member.value
        }
        return nil
    }

    func missing(_ key: String) -> VaultError { .corrupt(path: file, reason: "missing field \"\(key)\"") }

    func wrongType(_ key: String) -> VaultError {
        .corrupt(path: file, reason: "field \"\(prefix)\(key)\" has the wrong type")
    }

    /// A required field: absent is "missing", `null` "the wrong type".
    private func required(_ key: String) throws -> JSONValue {
        if let found = value(key) { return found }
        if members.contains(where: { $0.key == key }) { throw wrongType(key) }
        throw missing(key)
    }

    func string(_ key: String) throws -> String {
        guard case .string(let text) = try required(key) else { throw wrongType(key) }
        return text
    }

    func optionalString(_ key: String) throws -> String? {
        guard let found = value(key) else { return nil }
        guard case .string(let text) = found else { throw wrongType(key) }
        return text
    }

    func integer(_ key: String) throws -> Int {
        guard let number = try required(key).integer else { throw wrongType(key) }
        return number
    }

    func optionalObject(_ key: String) throws -> JSONObject? {
        guard let found = value(key) else { return nil }
        return try JSONObject(found, file: file, parent: prefix + key + ".")
    }

    /// An array of objects, each for `T.init(json:)`.
    func array<T: JSONReadable>(_ key: String, of type: T.Type) throws -> [T] {
        guard case .array(let elements) = try required(key) else { throw wrongType(key) }
        let parent = prefix + key + "."
        return try elements.enumerated().map { position, element in
            try T(json: JSONObject(element, file: file, parent: parent, position: position))
        }
    }
}

// MARK: - Reading a model member by member

/// What is wrong with the value of a field.
enum JSONFieldProblem: Error { case wrongType, unknownValue }

/// A field of a model read straight from the parser (`JSONParser.object(into:…)`).
protocol JSONField {
    associatedtype Model
    var key: String { get }
    /// `key` as UTF-8, which the parser compares with the file's keys.
    var keyUTF8: [UInt8] { get }
    /// A required field must be present and not null; an optional one is
    /// absent when it is missing or null.
    var isRequired: Bool { get }
    /// Sets the field from its value (never null), or says what is wrong with it.
    var read: @Sendable (inout Model, JSONValue) -> JSONFieldProblem? { get }
}

extension JSONParser {
    /// Reads the value here (at depth `depth`) into `model` by `fields`, as
    /// `JSONObject` reads would, without the object's tree. Returns the error
    /// those reads would throw, reading `fields` in order, for an object
    /// named `name` ("tokens.3"), or nil. Unknown keys are ignored; `fields`
    /// holds at most 64.
    mutating func object<Field: JSONField>(
        into model: inout Field.Model, fields: [Field], depth: Int, file: String, name: String
    ) throws(Malformed) -> VaultError? {
        guard nextByte() == UInt8(ascii: "{") else {
            _ = try value(depth: depth)
            return .corrupt(path: file, reason: "field \"\(name)\" has the wrong type")
        }
        var present: UInt64 = 0  // bit i: fields[i] was in the object
        var bad: (field: Int, problem: JSONFieldProblem)?
        var next = 0
        try members(depth: depth) { key, parser throws(Malformed) in
            let value = try parser.value(depth: depth + 1)
            // Files ztoken writes have their keys in the order of `fields`.
            guard
                let match = (next..<fields.count).first(where: { parser.key(key, is: fields[$0].keyUTF8) })
                    ?? (0..<next).first(where: { parser.key(key, is: fields[$0].keyUTF8) })
            else { return }
            next = match
            present |= 1 << match
            let problem =
                value.isNull ? (fields[match].isRequired ? .wrongType : nil) : fields[match].read(&model, value)
            if let problem, match < bad?.field ?? fields.count { bad = (match, problem) }
        }
        let end = bad?.field ?? fields.count
        if let missing = fields[..<end].indices.first(where: { fields[$0].isRequired && present & (1 << $0) == 0 }) {
            return .corrupt(path: file, reason: "missing field \"\(fields[missing].key)\"")
        }
        guard let bad else { return nil }
        let what = bad.problem == .wrongType ? "has the wrong type" : "has an unknown value"
        return .corrupt(path: file, reason: "field \"\(name).\(fields[bad.field].key)\" \(what)")
    }
}

/// JSON strings as JSONEncoder writes them.
enum JSONString {
    /// A JSON string as JSONEncoder writes it (slashes unescaped): `"` and
    /// `\` escaped, control characters as \b \t \n \f \r or \u00xx,
    /// everything else as UTF-8.
    static func append(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Nearly every value (ids, times, digests, most labels) needs no escape.
        let plain = text.allUTF8 { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        if plain {
            // From the string's own storage where it is contiguous, in one copy.
            if text.utf8.withContiguousStorageIfAvailable({ out.append(contentsOf: $0) }) == nil { out += text.utf8 }
        } else {
            let hex = Array("0123456789abcdef".utf8)
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
                case 0x08: out += [UInt8(ascii: "\\"), UInt8(ascii: "b")]
                case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case 0x0C: out += [UInt8(ascii: "\\"), UInt8(ascii: "f")]
                case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                case 0x00..<0x20: out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)]]
                default: out.append(byte)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
