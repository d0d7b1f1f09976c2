// The age payload: a 16-byte nonce, then ChaCha20-Poly1305 STREAM over 64 KiB
// chunks under HKDF(file key, nonce, "payload"); each chunk's nonce is an
// 11-byte big-endian counter and a last-chunk flag. Rules, as age's own
// reader and writer: one chunk is held at a time; a chunk's plaintext is
// released only after it authenticated; a payload that does not end with a
// flagged chunk, has an empty final chunk after the first, or has bytes after
// its final chunk is `.corrupt`.

enum AgeStream {
    static let chunkSize = 64 * 1024
    static let tagSize = 16
    static let encryptedChunkSize = chunkSize + tagSize
    static let nonceSize = 16

    static func payloadKey(fileKey: SecureBytes, nonce: [UInt8]) -> SecureBytes {
        Sodium.hkdfSHA256(secret: fileKey, salt: nonce, info: "payload")
    }

    /// Writes the 12-byte ChaCha20-Poly1305 nonce for chunk `counter` into
    /// `nonce`, whose first three bytes are zero.
    static func fillNonce(_ nonce: UnsafeMutableRawBufferPointer, counter: UInt64, last: Bool) {
        // Bytes 0–2 of the 88-bit counter stay zero: 2^64 chunks is 2^80 bytes.
        for i in 0..<8 { nonce[3 + i] = UInt8(truncatingIfNeeded: counter >> UInt64(56 - 8 * i)) }
        nonce[11] = last ? 1 : 0
    }

    /// Calls `body` with the nonce of chunk `counter`.
    static func withNonce<R>(counter: UInt64, last: Bool, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var nonce = (UInt64(0), UInt32(0))  // 12 bytes, on the stack
        return try withUnsafeMutableBytes(of: &nonce) { n in
            fillNonce(n, counter: counter, last: last)
            return try body(UnsafeRawBufferPointer(rebasing: n[0..<12]))
        }
    }
}

/// Encrypts a plaintext, chunk by chunk, into a sink. Bytes are gathered
/// into one chunk buffer; a full chunk is sealed in place and given to the
/// sink once more input shows it is not the last, and `finish` seals the
/// last (possibly short or empty) one.
final class AgeStreamEncryptor {
    private let key: SecureBytes
    private let sink: AgeSink
    /// One chunk and its tag: plaintext until sealed, then ciphertext;
    /// locked and wiped because the plaintext is a secret.
    private let chunk = SecureBytes(zeroedCount: AgeStream.encryptedChunkSize)
    /// Plaintext bytes in `chunk` so far.
    private var filled = 0
    private var counter: UInt64 = 0
    private(set) var finished = false

    init(key: SecureBytes, sink: @escaping AgeSink) {
        self.key = key
        self.sink = sink
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            if filled == AgeStream.chunkSize { try sealAndSend(last: false) }
            let count = min(AgeStream.chunkSize - filled, bytes.count - offset)
            chunk.withUnsafeMutableBytes {
                UnsafeMutableRawBufferPointer(rebasing: $0[filled..<(filled + count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
            }
            filled += count
            offset += count
        }
    }

    func finish() throws {
        finished = true
        try sealAndSend(last: true)
    }

    /// Seals the chunk in place as chunk number `counter` and gives it, tag
    /// included, to the sink.
    private func sealAndSend(last: Bool) throws {
        let count = filled
        try AgeStream.withNonce(counter: counter, last: last) { nonce in
            try chunk.withUnsafeMutableBytes { c in
                key.withUnsafeBytes { k in
                    Sodium.chachaSeal(
                        UnsafeRawBufferPointer(rebasing: c[0..<count]), into: c.baseAddress!,
                        tag: c.baseAddress! + count, nonce: nonce, key: k)
                }
                try sink(UnsafeRawBufferPointer(rebasing: c[0..<(count + AgeStream.tagSize)]))
            }
        }
        counter += 1
        filled = 0
    }
}

/// Decrypts a payload from a reader one chunk at a time, releasing each
/// chunk's plaintext only after it authenticates.
final class AgeStreamDecryptor {
    private let key: SecureBytes
    private let reader: AgeReader
    private let path: String
    /// One encrypted chunk as read (ciphertext carries no secret).
    private var ciphertext = [UInt8](repeating: 0, count: AgeStream.encryptedChunkSize)
    /// Its plaintext; locked and wiped because it is a secret.
    private let plaintext = SecureBytes(zeroedCount: AgeStream.chunkSize)
    private var counter: UInt64 = 0
    private var sawLastChunk = false
    /// Set once a chunk failed: nothing after it is ever released.
    private var failure: (any Error)?
    private(set) var complete = false

    init(key: SecureBytes, reader: AgeReader, path: String) {
        self.key = key
        self.reader = reader
        self.path = path
    }

    private func fail(_ reason: String) -> VaultError { .corrupt(path: path, reason: "age payload: \(reason)") }

    /// Passes the next authenticated chunk's plaintext to `body`; returns
    /// false, having checked nothing follows the final chunk, when done.
    func next(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        if let failure { throw failure }
        if complete { return false }
        let length: Int
        do {
            if sawLastChunk {
                guard try reader.atEnd() else { throw fail("data after the end of the encrypted file") }
                complete = true
                return false
            }
            length = try openNextChunk()
        } catch {
            failure = error
            throw error
        }
        try plaintext.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        return true
    }

    /// Reads and opens the next chunk into `plaintext`; returns its length.
    /// A full-size chunk is not the last unless it opens only as the last;
    /// a shorter one is the last.
    private func openNextChunk() throws -> Int {
        let size = try ciphertext.withUnsafeMutableBytes { try reader.readFull($0) }
        defer { counter += 1 }
        if size == AgeStream.encryptedChunkSize {
            if open(size: size, last: false) { return AgeStream.chunkSize }
            // A full-size chunk may be the final one; then nothing may follow it.
            guard open(size: size, last: true) else { throw altered }
            sawLastChunk = true
            return AgeStream.chunkSize
        }
        if size == 0 { throw fail("the file is truncated (no final chunk)") }
        if size < AgeStream.tagSize { throw fail("the file is truncated (short chunk)") }
        if size == AgeStream.tagSize && counter > 0 { throw fail("the final chunk is empty") }
        guard open(size: size, last: true) else { throw altered }
        sawLastChunk = true
        return size - AgeStream.tagSize
    }

    private var altered: VaultError { fail("a chunk does not authenticate: the file was altered or truncated") }

    /// Opens the chunk in `ciphertext` (`size` bytes, tag included) as chunk
    /// number `counter` into `plaintext`.
    private func open(size: Int, last: Bool) -> Bool {
        let length = size - AgeStream.tagSize
        return AgeStream.withNonce(counter: counter, last: last) { nonce in
            ciphertext.withUnsafeBytes { c in
                plaintext.withUnsafeMutableBytes { p in
                    key.withUnsafeBytes { k in
                        Sodium.chachaOpen(
                            UnsafeRawBufferPointer(rebasing: c[0..<length]), tag: c.baseAddress! + length,
                            into: p.baseAddress!, nonce: nonce, key: k)
                    }
                }
            }
        }
    }
}
