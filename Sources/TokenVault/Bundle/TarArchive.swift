// POSIX ustar archives, written deterministically and read strictly.
//
// Writer: ustar headers only (no pax, no GNU extensions), numeric owner 0:0
// with empty user and group names (GNU and BSD tar extract such entries as
// the extracting user), the caller's mtime, GNU-style numeric fields, two zero
// blocks at the end, and zero padding to a 10240-byte record as GNU tar does.
// Contents go straight into a `SecureBytes`.
//
// Reader: treats its input as hostile (bundles and backups come from other
// machines). It accepts only what a ustar writer of plain files and
// directories produces: valid checksums, `ustar\0` + `00` magic, octal fields,
// relative UTF-8 names without `.`/`..`/empty components or control
// characters, no duplicates, regular files and directories only, sizes inside
// the archive, two zero end blocks followed by nothing but zero padding, and
// the caller's limits on total size and entry count. Every failure is
// `VaultError.corrupt(path:reason:)` with the caller's display path.

/// Writes and reads ustar archives of plain files and directories.
enum TarArchive {
    /// The size of a tar block.
    static let blockSize = 512
    /// GNU tar's default record size (20 blocks); archives are padded to it.
    static let recordSize = 10_240

    /// One file or directory in an archive.
    struct Entry: Sendable {
        /// Relative path with `/` separators and no trailing slash.
        var path: String
        /// Permission bits (at most 0o7777).
        var mode: UInt32
        /// True for a directory, which has no contents.
        var isDirectory: Bool
        /// The file's bytes; empty for a directory.
        var contents: SecureBytes

        /// A directory entry.
        static func directory(_ path: String, mode: UInt32) -> Entry {
            Entry(path: path, mode: mode, isDirectory: true, contents: SecureBytes(zeroedCount: 0))
        }

        /// A regular-file entry.
        static func file(_ path: String, mode: UInt32, contents: SecureBytes) -> Entry {
            Entry(path: path, mode: mode, isDirectory: false, contents: contents)
        }
    }

    /// Caller-given bounds on an archive being read.
    struct Limits: Sendable {
        /// The largest archive accepted, in bytes (headers and padding included).
        var maxTotalSize: Int
        /// The most entries (files and directories) accepted.
        var maxEntryCount: Int
    }

    // MARK: Writing

    /// The archive of `entries`, in order, each stamped with `modificationTime`
    /// (Unix seconds).
    ///
    /// Throws `VaultError.invalidArgument` if a path does not fit ustar or is
    /// not a safe relative path, or a mode or mtime is out of range: the reader
    /// must be able to read back everything the writer writes.
    static func write(_ entries: [Entry], modificationTime: Int64) throws -> SecureBytes {
        let start = try StreamWriter(modificationTime: modificationTime)
        // Check every entry before anything is assembled.
        let headers = try entries.map {
            try start.header(path: $0.path, mode: $0.mode, isDirectory: $0.isDirectory, size: $0.contents.count)
        }
        return SecureBytes.assemble { out in
            // `assemble` may run this more than once (to measure, then to write).
            var writer = start
            for (entry, header) in zip(entries, headers) {
                entry.contents.withUnsafeBytes { contents in
                    writer.add(header: header, contents: entry.isDirectory ? nil : contents) {
                        out.append(contentsOf: $0)
                    }
                }
            }
            writer.finish { out.append(contentsOf: $0) }
        }
    }

    /// Writes an archive piece by piece into a sink, so that a large one (a
    /// backup of 100,000 records) need never exist whole in memory: each
    /// piece can go straight into the age encryptor.
    struct StreamWriter {
        let modificationTime: Int64
        /// Bytes written so far (for the padding to a whole record).
        private(set) var count = 0
        private static let zeros = [UInt8](repeating: 0, count: recordSize)

        init(modificationTime: Int64) throws {
            guard modificationTime >= 0, modificationTime <= 0o77777777777 else {
                throw VaultError.invalidArgument(
                    "tar: modification time \(modificationTime) does not fit a ustar header")
            }
            self.modificationTime = modificationTime
        }

        /// The checked header of an entry (see `TarArchive.write`).
        func header(path: String, mode: UInt32, isDirectory: Bool, size: Int) throws -> [UInt8] {
            guard mode <= 0o7777 else {
                throw VaultError.invalidArgument(
                    "tar: mode \(String(mode, radix: 8)) of \(VaultError.quoted(path)) is not a permission mode")
            }
            if let problem = TarArchive.pathProblem(path) {
                throw VaultError.invalidArgument("tar: path \(VaultError.quoted(path)): \(problem)")
            }
            return try TarArchive.header(
                path: path, mode: mode, isDirectory: isDirectory, size: size, modificationTime: modificationTime)
        }

        /// A regular file: header, contents, padding to a whole block.
        mutating func addFile(
            _ path: String, mode: UInt32, contents: UnsafeRawBufferPointer,
            to sink: (UnsafeRawBufferPointer) throws -> Void
        ) throws {
            let header = try header(path: path, mode: mode, isDirectory: false, size: contents.count)
            try add(header: header, contents: contents, to: sink)
        }

        /// An entry whose header was made by `header`; nil contents for a directory.
        mutating func add(
            header: [UInt8], contents: UnsafeRawBufferPointer?,
            to sink: (UnsafeRawBufferPointer) throws -> Void
        ) rethrows {
            try header.withUnsafeBytes { try put($0, to: sink) }
            guard let contents else { return }
            try put(contents, to: sink)
            try pad(TarArchive.paddingToBlock(contents.count), to: sink)
        }

        /// Two zero blocks, then zeros to a whole record as GNU tar writes.
        mutating func finish(to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
            try pad(2 * blockSize, to: sink)
            let remainder = count % recordSize
            if remainder != 0 { try pad(recordSize - remainder, to: sink) }
        }

        private mutating func put(_ bytes: UnsafeRawBufferPointer, to sink: (UnsafeRawBufferPointer) throws -> Void)
            rethrows
        {
            try sink(bytes)
            count += bytes.count
        }

        private mutating func pad(_ zeroCount: Int, to sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
            guard zeroCount > 0 else { return }
            try Self.zeros.withUnsafeBytes { try put(UnsafeRawBufferPointer(rebasing: $0[0..<zeroCount]), to: sink) }
        }
    }

    static func paddingToBlock(_ size: Int) -> Int {
        (blockSize - size % blockSize) % blockSize
    }

    /// The 512-byte ustar header of an entry. Headers carry no secret.
    ///
    /// Written through a pointer into one uninitialized 512-byte array: one
    /// header per record of a backup.
    static func header(path: String, mode: UInt32, isDirectory: Bool, size: Int, modificationTime: Int64) throws
        -> [UInt8]
    {
        guard isDirectory || size <= 0o77777777777 else {
            throw VaultError.invalidArgument("tar: \(VaultError.quoted(path)) is too large for a ustar header")
        }
        var stored = isDirectory ? path + "/" : path
        return try stored.withUTF8 { stored in
            guard let (prefix, name) = split(stored) else {
                throw VaultError.invalidArgument(
                    "tar: path \(VaultError.quoted(path)) is too long for a ustar header",
                    hint: "ustar names are at most 100 bytes, or 255 split at a '/'")
            }
            return [UInt8](unsafeUninitializedCapacity: blockSize) { block, count in
                block.initialize(repeating: 0)
                func put(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) {
                    guard let base = bytes.baseAddress else { return }
                    (block.baseAddress! + offset).update(from: base, count: bytes.count)
                }
                func put(_ text: StaticString, at offset: Int) {
                    put(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount), at: offset)
                }
                /// `width - 1` zero-padded octal digits and a NUL, as GNU tar
                /// writes them (the caller checked the value fits).
                func octal(_ value: Int64, width: Int, at offset: Int) {
                    var rest = value
                    for i in stride(from: offset + width - 2, through: offset, by: -1) {
                        block[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest & 7)
                        rest >>= 3
                    }
                    block[offset + width - 1] = 0
                }
                put(name, at: 0)
                octal(Int64(mode), width: 8, at: 100)
                octal(0, width: 8, at: 108)  // uid
                octal(0, width: 8, at: 116)  // gid
                octal(Int64(isDirectory ? 0 : size), width: 12, at: 124)
                octal(modificationTime, width: 12, at: 136)
                put("        ", at: 148)  // checksum, as spaces while summing
                block[156] = isDirectory ? UInt8(ascii: "5") : UInt8(ascii: "0")
                put("ustar\0", at: 257)
                put("00", at: 263)
                // uname and gname stay empty; devmajor and devminor as GNU tar writes them.
                octal(0, width: 8, at: 329)
                octal(0, width: 8, at: 337)
                put(prefix, at: 345)
                octal(Int64(byteSum(UnsafeRawBufferPointer(block))), width: 7, at: 148)
                block[155] = UInt8(ascii: " ")
                count = blockSize
            }
        }
    }

    /// The sum of a header's bytes (its checksum), eight at a time: each
    /// 64-bit word is split into four 16-bit lanes of byte pairs, and 64
    /// words add at most 64 × 510 to a lane, which fits.
    static func byteSum(_ block: UnsafeRawBufferPointer) -> Int {
        precondition(block.count == blockSize)
        let evenBytes: UInt64 = 0x00FF_00FF_00FF_00FF
        var lanes: UInt64 = 0
        for offset in stride(from: 0, to: blockSize, by: 8) {
            let word = UInt64(littleEndian: block.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            lanes &+= (word & evenBytes) &+ ((word >> 8) & evenBytes)
        }
        return Int(lanes & 0xFFFF) + Int((lanes >> 16) & 0xFFFF) + Int((lanes >> 32) & 0xFFFF) + Int(lanes >> 48)
    }

    /// Splits a stored name into ustar's (prefix, name) fields, or nil if it
    /// cannot fit: name ≤ 100 bytes, prefix ≤ 155, split at a `/`.
    private static func split(_ path: UnsafeBufferPointer<UInt8>) -> (
        UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>
    )? {
        if path.count <= 100 { return (UnsafeBufferPointer(rebasing: path[0..<0]), path) }
        // Try the split that puts the most into the prefix first.
        for index in path.indices.reversed() where path[index] == UInt8(ascii: "/") {
            let prefix = UnsafeBufferPointer(rebasing: path[..<index])
            let name = UnsafeBufferPointer(rebasing: path[(index + 1)...])
            if prefix.count <= 155, name.count <= 100, !name.isEmpty { return (prefix, name) }
        }
        return nil
    }

    /// Why `path` is not a safe relative archive path, or nil if it is.
    static func pathProblem(_ path: String) -> String? {
        if path.isEmpty { return "is empty" }
        if path.utf8.first == UInt8(ascii: "/") { return "is absolute" }
        var path = path
        // One pass over the bytes, component by component; only a path with
        // a byte outside printable ASCII needs its scalars looked at.
        let (needsScalars, problem) = path.withUTF8 { bytes -> (Bool, String?) in
            var needsScalars = false
            var start = 0
            for position in 0...bytes.count {
                if position < bytes.count {
                    let byte = bytes[position]
                    if byte < 0x20 || byte >= 0x7F { needsScalars = true }
                    if byte != UInt8(ascii: "/") { continue }
                }
                switch position - start {
                case 0: return (needsScalars, "has an empty component")
                case 1 where bytes[start] == UInt8(ascii: "."): return (needsScalars, "has a '.' component")
                case 2 where bytes[start] == UInt8(ascii: ".") && bytes[start + 1] == UInt8(ascii: "."):
                    return (needsScalars, "has a '..' component")
                default: start = position + 1
                }
            }
            return (needsScalars, nil)
        }
        if needsScalars || problem != nil {
            // A control character is reported before a component problem.
            for scalar in path.unicodeScalars where TerminalSafe.isDangerous(scalar) {
                return "contains a control character"
            }
        }
        return problem
    }

    // MARK: Reading

    /// The entries of `archive`, checked as described at the top of this file.
    ///
    /// `displayPath` names what is being read in errors (a file name, or
    /// "bundle from standard input"); it is never opened.
    static func read(_ archive: SecureBytes, displayPath: String, limits: Limits) throws -> [Entry] {
        func corrupt(_ reason: String) -> VaultError { .corrupt(path: displayPath, reason: reason) }
        guard archive.count <= limits.maxTotalSize else {
            throw corrupt("archive is \(archive.count) bytes, more than the limit of \(limits.maxTotalSize)")
        }
        guard archive.count % blockSize == 0 else {
            throw corrupt("archive is truncated (\(archive.count) bytes is not a whole number of 512-byte blocks)")
        }
        var reader = StreamReader(displayPath: displayPath, maxEntryCount: limits.maxEntryCount)
        var entries: [Entry] = []
        // Contents go straight into a `SecureBytes` (a bundle holds a token).
        var filled = 0
        try archive.withUnsafeBytes { bytes in
            try reader.feed(bytes) { event in
                switch event {
                case .begin(let header):
                    entries.append(
                        Entry(
                            path: header.path, mode: header.mode, isDirectory: header.isDirectory,
                            contents: SecureBytes(zeroedCount: header.isDirectory ? 0 : header.size)))
                    filled = 0
                case .contents(let piece):
                    entries[entries.count - 1].contents.withUnsafeMutableBytes {
                        $0.baseAddress!.advanced(by: filled).copyMemory(
                            from: piece.baseAddress!, byteCount: piece.count)
                    }
                    filled += piece.count
                case .end:
                    break
                }
            }
        }
        try reader.finish()
        return entries
    }

    /// One member as the stream reader announces it.
    struct MemberHeader: Sendable {
        var path: String
        var mode: UInt32
        var size: Int
        var isDirectory: Bool
        /// "entry N at byte M", for errors about this member.
        var place: String
    }

    /// Reads an archive as it arrives, one piece at a time, with the checks
    /// of `read`: each member is announced (`.begin`), its contents passed on
    /// in the pieces they arrive in (`.contents`, never empty), then `.end`.
    /// It holds at most one header block, so a caller that streams the
    /// contents on keeps memory flat whatever the archive's size.
    struct StreamReader {
        enum Event {
            case begin(MemberHeader)
            case contents(UnsafeRawBufferPointer)
            case end
        }

        private enum State {
            case header
            case contents(remaining: Int, padding: Int)
            case padding(remaining: Int)
            /// After the first zero block: the second must follow.
            case secondEndBlock
            /// After both end blocks: only zeros may follow.
            case trailer
        }

        let displayPath: String
        let maxEntryCount: Int
        private var state = State.header
        private var block: [UInt8] = []
        private var offset = 0
        private var entryCount = 0
        private var seen = Set<String>()
        private var current: MemberHeader?

        init(displayPath: String, maxEntryCount: Int) {
            self.displayPath = displayPath
            self.maxEntryCount = maxEntryCount
            block.reserveCapacity(blockSize)
        }

        private func corrupt(_ reason: String) -> VaultError { .corrupt(path: displayPath, reason: reason) }

        /// Bytes read so far.
        var byteCount: Int { offset }

        /// Takes the next piece of the archive.
        mutating func feed(_ bytes: UnsafeRawBufferPointer, to consumer: (Event) throws -> Void) throws {
            var rest = bytes
            while !rest.isEmpty {
                switch state {
                case .contents(let remaining, let padding):
                    let count = min(remaining, rest.count)
                    try consumer(
                        .contents(UnsafeRawBufferPointer(rebasing: rest[rest.startIndex..<(rest.startIndex + count)])))
                    rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + count)...])
                    offset += count
                    if count == remaining {
                        try consumer(.end)
                        current = nil
                        state = padding > 0 ? .padding(remaining: padding) : .header
                    } else {
                        state = .contents(remaining: remaining - count, padding: padding)
                    }
                case .padding(let remaining):
                    let count = min(remaining, rest.count)
                    rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + count)...])
                    offset += count
                    state = count == remaining ? .header : .padding(remaining: remaining - count)
                case .trailer:
                    guard rest.allSatisfy({ $0 == 0 }) else {
                        throw corrupt("trailing data after the end of the archive")
                    }
                    offset += rest.count
                    rest = UnsafeRawBufferPointer(start: nil, count: 0)
                case .header, .secondEndBlock:
                    let count = min(blockSize - block.count, rest.count)
                    block.append(contentsOf: rest[rest.startIndex..<(rest.startIndex + count)])
                    rest = UnsafeRawBufferPointer(rebasing: rest[(rest.startIndex + count)...])
                    offset += count
                    if block.count == blockSize { try takeBlock(consumer) }
                }
            }
        }

        private mutating func takeBlock(_ consumer: (Event) throws -> Void) throws {
            defer { block.removeAll(keepingCapacity: true) }
            let start = offset - blockSize
            if case .secondEndBlock = state {
                guard block.allSatisfy({ $0 == 0 }) else {
                    throw corrupt("zero block at byte \(start - blockSize) is followed by data")
                }
                state = .trailer
                return
            }
            if block.allSatisfy({ $0 == 0 }) {
                state = .secondEndBlock
                return
            }
            guard entryCount < maxEntryCount else { throw corrupt("archive has more than \(maxEntryCount) entries") }
            let place = "entry \(entryCount + 1) at byte \(start)"
            let parsed = try block.withUnsafeBytes { try parseHeader($0, where: place, corrupt: corrupt) }
            guard seen.insert(parsed.path).inserted else {
                throw corrupt("\(place): \(VaultError.quoted(parsed.path)) appears twice")
            }
            entryCount += 1
            let header = MemberHeader(
                path: parsed.path, mode: parsed.mode, size: parsed.size,
                isDirectory: parsed.isDirectory, place: place)
            current = header
            try consumer(.begin(header))
            if parsed.size == 0 {
                try consumer(.end)
                current = nil
                state = .header
            } else {
                state = .contents(remaining: parsed.size, padding: paddingToBlock(parsed.size))
            }
        }

        /// Checks that the archive ended where an archive may end.
        func finish() throws {
            if case .contents = state, let header = current {
                throw corrupt("\(header.place): archive is truncated (\(header.size) bytes of contents announced)")
            }
            guard offset % blockSize == 0 else {
                throw corrupt("archive is truncated (\(offset) bytes is not a whole number of 512-byte blocks)")
            }
            switch state {
            case .trailer: return
            case .secondEndBlock: throw corrupt("archive is truncated (only one end-of-archive block)")
            default: throw corrupt("archive is truncated (no end-of-archive blocks)")
            }
        }
    }

    private struct Header {
        var path: String
        var mode: UInt32
        var size: Int
        var isDirectory: Bool
    }

    private static func parseHeader(
        _ block: UnsafeRawBufferPointer, where place: String,
        corrupt: (String) -> VaultError
    ) throws -> Header {
        func field(_ offset: Int, _ length: Int) -> UnsafeRawBufferPointer {
            UnsafeRawBufferPointer(rebasing: block[offset..<(offset + length)])
        }
        func octal(_ name: String, _ offset: Int, _ length: Int) throws -> Int64 {
            guard let value = parseOctal(field(offset, length)) else {
                throw corrupt("\(place): the \(name) field is not an octal number")
            }
            return value
        }
        // Checksum first: nothing else in a block with a bad checksum is trusted.
        let recorded = try octal("checksum", 148, 8)
        // The checksum field itself counts as eight spaces.
        let sum = Int64(byteSum(block) - field(148, 8).reduce(0) { $0 + Int($1) } + 8 * 32)
        guard recorded == sum else { throw corrupt("\(place): header checksum mismatch") }

        guard field(257, 6).elementsEqual(Array("ustar".utf8) + [0]), field(263, 2).elementsEqual(Array("00".utf8))
        else {
            throw corrupt("\(place): not a POSIX ustar header")
        }
        let isDirectory: Bool
        switch block[156] {
        case UInt8(ascii: "0"), 0: isDirectory = false
        case UInt8(ascii: "5"): isDirectory = true
        case UInt8(ascii: "1"): throw corrupt("\(place): hard links are not allowed")
        case UInt8(ascii: "2"): throw corrupt("\(place): symbolic links are not allowed")
        case UInt8(ascii: "3"), UInt8(ascii: "4"), UInt8(ascii: "6"):
            throw corrupt("\(place): device and FIFO entries are not allowed")
        case UInt8(ascii: "x"), UInt8(ascii: "g"):
            throw corrupt("\(place): pax extended headers are not supported")
        default:
            throw corrupt("\(place): entry type \(typeDescription(block[156])) is not supported")
        }
        guard field(157, 100).allSatisfy({ $0 == 0 }) else {
            throw corrupt("\(place): a plain file or directory has a link name")
        }
        let mode = try octal("mode", 100, 8)
        guard mode <= 0o7777 else { throw corrupt("\(place): mode \(String(mode, radix: 8)) is not a permission mode") }
        _ = try octal("uid", 108, 8)
        _ = try octal("gid", 116, 8)
        _ = try octal("mtime", 136, 12)
        let size = try octal("size", 124, 12)
        if isDirectory && size != 0 { throw corrupt("\(place): a directory has contents") }

        guard let name = try nameField(field(0, 100), place: place, corrupt: corrupt) else {
            throw corrupt("\(place): name is not UTF-8")
        }
        guard !name.isEmpty else { throw corrupt("\(place): empty name") }
        guard let prefix = try nameField(field(345, 155), place: place, corrupt: corrupt) else {
            throw corrupt("\(place): name prefix is not UTF-8")
        }
        var path = prefix.isEmpty ? name : prefix + "/" + name
        if path.hasSuffix("/") {
            guard isDirectory else { throw corrupt("\(place): a file name ends with '/'") }
            path.removeLast()
        }
        if let problem = pathProblem(path) {
            throw corrupt("\(place): name \(VaultError.quoted(path)) \(problem)")
        }
        return Header(path: path, mode: UInt32(mode), size: Int(size), isDirectory: isDirectory)
    }

    /// A NUL-terminated name field: the bytes before the first NUL, which must
    /// be followed only by NULs (no hidden second name) and be valid UTF-8.
    private static func nameField(
        _ bytes: UnsafeRawBufferPointer, place: String,
        corrupt: (String) -> VaultError
    ) throws -> String? {
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        guard bytes[end...].allSatisfy({ $0 == 0 }) else {
            throw corrupt("\(place): name field has data after its NUL terminator")
        }
        return String(validating: bytes[..<end], as: UTF8.self)
    }

    /// A ustar numeric field: optional leading spaces, one or more octal
    /// digits, then only NULs or spaces. GNU base-256 and empty fields are nil.
    static func parseOctal(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        var index = 0
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
        var value: Int64 = 0
        var digits = 0
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(bytes[index]) {
            value = value * 8 + Int64(bytes[index] - UInt8(ascii: "0"))
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        while index < bytes.count {
            guard bytes[index] == 0 || bytes[index] == UInt8(ascii: " ") else { return nil }
            index += 1
        }
        return value
    }

    private static func typeDescription(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
    }
}
