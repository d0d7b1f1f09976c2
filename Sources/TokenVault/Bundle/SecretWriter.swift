// Builds secrets in two passes: size first, then fill. Anything that contains
// a token (a rendered properties file, a tar archive) is produced by running
// the same deterministic closure twice — once counting bytes, once writing
// them into a `SecureBytes` of exactly that size — so no growable Swift
// `String` or `[UInt8]` ever holds (and reallocates, leaving copies of) the
// secret. A mismatch between the two passes is a programming error.

/// Appends bytes either to nothing (counting) or into a fixed secret buffer.
struct SecretWriter {
    private let buffer: UnsafeMutableRawBufferPointer?

    /// Bytes appended so far.
    private(set) var count = 0

    /// A writer that only counts.
    fileprivate init() { buffer = nil }

    /// A writer that fills `buffer`, which must be exactly as large as the
    /// counting pass said.
    fileprivate init(filling buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    /// Appends one byte.
    mutating func append(_ byte: UInt8) {
        if let buffer {
            precondition(count < buffer.count, "SecretWriter: fill pass wrote more than the count pass")
            buffer[count] = byte
        }
        count += 1
    }

    /// Appends the bytes of a (non-secret, or already secret) buffer.
    mutating func append(contentsOf bytes: UnsafeRawBufferPointer) {
        if let buffer, bytes.count > 0 {
            precondition(count + bytes.count <= buffer.count, "SecretWriter: fill pass wrote more than the count pass")
            UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + bytes.count)]).copyMemory(from: bytes)
        }
        count += bytes.count
    }

    /// Appends non-secret bytes (ASCII literals, tar headers, JSON metadata).
    mutating func append<Bytes: Sequence>(contentsOf bytes: Bytes) where Bytes.Element == UInt8 {
        for byte in bytes { append(byte) }
    }

    /// Appends the contents of a secret without copying it anywhere else.
    mutating func append(secret: SecureBytes) {
        secret.withUnsafeBytes { append(contentsOf: $0) }
    }

    /// Appends `count` zero bytes (tar padding).
    mutating func appendZeros(_ zeroCount: Int) {
        // The buffer starts zeroed, so filling only needs to move the cursor.
        if let buffer {
            precondition(count + zeroCount <= buffer.count, "SecretWriter: fill pass wrote more than the count pass")
        }
        count += zeroCount
    }
}

extension SecureBytes {
    /// Builds a secret by running `body` twice: once to count its bytes, once
    /// to write them into a buffer of exactly that size.
    ///
    /// `body` must append the same bytes both times (it must not consume
    /// iterators, read clocks or random numbers); a difference traps.
    static func assemble(_ body: (inout SecretWriter) throws -> Void) rethrows -> SecureBytes {
        var counter = SecretWriter()
        try body(&counter)
        let result = SecureBytes(zeroedCount: counter.count)
        try result.withUnsafeMutableBytes { buffer in
            var writer = SecretWriter(filling: buffer)
            try body(&writer)
            precondition(writer.count == buffer.count, "SecretWriter: fill pass wrote fewer bytes than the count pass")
        }
        return result
    }
}
