// The one owner of secret bytes in ztoken. Tokens, passphrases, secret keys
// and derived keys live here and nowhere else: the storage is locked in RAM
// where the OS allows (`sodium_mlock`), wiped on release (`sodium_memzero`),
// readable only inside a closure, and never printed.
internal import CSodium

/// A buffer of secret bytes that is wiped when the last reference goes away.
///
/// Modelled on swift-crypto's `SecureBytes`: a class so that copies share one
/// buffer and there is exactly one place that wipes it. Its `description` never
/// shows the contents, so a secret cannot leak through string interpolation.
public final class SecureBytes: @unchecked Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private let storage: UnsafeMutableRawBufferPointer

    /// The number of secret bytes.
    public let count: Int

    /// Makes a zero-filled buffer of `count` bytes.
    package init(zeroedCount count: Int) {
        Sodium.ensureInitialized()
        self.count = count
        // Never allocate zero bytes: mlock and memzero want a real address.
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        // mlock fails under a small RLIMIT_MEMLOCK; the secret is still wiped.
        _ = sodium_mlock(storage.baseAddress!, storage.count)
    }

    /// Copies `bytes` into a new secret buffer. The caller remains responsible
    /// for wiping its own copy.
    public convenience init<Bytes: Collection>(copying bytes: Bytes) where Bytes.Element == UInt8 {
        self.init(zeroedCount: bytes.count)
        UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]).copyBytes(from: bytes)
    }

    /// Makes a buffer of `count` bytes from libsodium's CSPRNG (`randombytes_buf`).
    package static func random(count: Int) -> SecureBytes {
        let bytes = SecureBytes(zeroedCount: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return bytes
    }

    deinit {
        // Wiped, but deliberately not munlocked: locks are per page and do not
        // nest, so unlocking this buffer could unlock a page another live
        // secret shares. Pages stay locked until the process exits.
        sodium_memzero(storage.baseAddress!, storage.count)
        storage.deallocate()
    }

    /// Gives read access to the secret bytes for the duration of `body`.
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Gives write access to the secret bytes for the duration of `body`.
    package func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// Compares two secrets in constant time (`sodium_memcmp`).
    public func constantTimeEquals(_ other: SecureBytes) -> Bool {
        guard count == other.count else { return false }
        return withUnsafeBytes { a in
            other.withUnsafeBytes { b in sodium_memcmp(a.baseAddress, b.baseAddress, count) == 0 }
        }
    }

    /// A new secret holding bytes `range` of this one.
    package func slice(_ range: Range<Int>) -> SecureBytes {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        return withUnsafeBytes { SecureBytes(copying: $0[range]) }
    }

    /// A new secret without the ASCII whitespace (space, tab, line breaks)
    /// at either end of this one, as a token pasted or piped in often has.
    package func trimmingASCIIWhitespace() -> SecureBytes {
        withUnsafeBytes { bytes in
            func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
            var start = 0
            var end = bytes.count
            while start < end && isSpace(bytes[start]) { start += 1 }
            while end > start && isSpace(bytes[end - 1]) { end -= 1 }
            return SecureBytes(copying: bytes[start..<end])
        }
    }

    /// The secret decoded as UTF-8, for the moment it must be shown to the user
    /// (the token printed once). Swift strings cannot be wiped, so call this
    /// only at the very edge where the text is written out.
    public func unsafeRevealedString() -> String {
        withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
    }

    /// `SecureBytes(N bytes, redacted)`: the length, never the contents.
    public var description: String { "SecureBytes(\(count) bytes, redacted)" }
    /// The same as ``description``: the contents never show in a debugger either.
    public var debugDescription: String { description }
}
