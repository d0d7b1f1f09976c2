// The age payload: a 16-byte nonce, then ChaCha20-Poly1305 STREAM over 64 KiB
// chunks under HKDF(file key, nonce, "payload"); each chunk's nonce is an
// 11-byte big-endian counter and a last-chunk flag. Rules: at most one chunk
// is held at a time, in buffers allocated once; decrypted bytes are released
// only after their chunk authenticated; a payload that does not end with a
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

    /// Writes the 12-byte ChaCha20-Poly1305 nonce for chunk `counter`.
    @inline(__always)
    static func fillNonce(_ nonce: inout [UInt8], counter: UInt64, last: Bool) {
        // Bytes 0–2 of the 88-bit counter stay zero: 2^64 chunks is 2^80 bytes.
        for i in 0..<8 { nonce[3 + i] = UInt8(truncatingIfNeeded: counter >> UInt64(56 - 8 * i)) }
        nonce[11] = last ? 1 : 0
    }
}

/// Encrypts a plaintext you feed it, chunk by chunk, into a sink.
final class AgeStreamEncryptor {
    private let key: SecureBytes
    private let sink: AgeSink
    private let plaintext = SecureBytes(zeroedCount: AgeStream.chunkSize)
    private let ciphertext = UnsafeMutableRawBufferPointer.allocate(byteCount: AgeStream.encryptedChunkSize, alignment: 16)
    private var nonce = [UInt8](repeating: 0, count: 12)
    private var filled = 0
    private var counter: UInt64 = 0
    private(set) var finished = false

    init(key: SecureBytes, sink: @escaping AgeSink) {
        self.key = key
        self.sink = sink
    }

    deinit { ciphertext.deallocate() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            // A full buffer is sealed only once more input proves it is not the last.
            if filled == AgeStream.chunkSize { try seal(last: false) }
            let count = min(AgeStream.chunkSize - filled, bytes.count - offset)
            plaintext.withUnsafeMutableBytes {
                UnsafeMutableRawBufferPointer(rebasing: $0[filled..<(filled + count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
            }
            filled += count
            offset += count
        }
    }

    func finish() throws {
        try seal(last: true)
        finished = true
    }

    private func seal(last: Bool) throws {
        AgeStream.fillNonce(&nonce, counter: counter, last: last)
        let count = filled
        plaintext.withUnsafeBytes { p in
            key.withUnsafeBytes { k in
                nonce.withUnsafeBytes { n in
                    Sodium.chachaSeal(UnsafeRawBufferPointer(rebasing: p[0..<count]), into: ciphertext.baseAddress!,
                                      tag: ciphertext.baseAddress! + count, nonce: n, key: k)
                }
            }
        }
        counter += 1
        filled = 0
        try sink(UnsafeRawBufferPointer(rebasing: ciphertext[0..<(count + AgeStream.tagSize)]))
    }
}

/// Decrypts a payload chunk by chunk from a reader, releasing each chunk only
/// after it authenticates.
final class AgeStreamDecryptor {
    private let key: SecureBytes
    private let reader: AgeReader
    private let path: String
    private let plaintext = SecureBytes(zeroedCount: AgeStream.chunkSize)
    private let ciphertext = UnsafeMutableRawBufferPointer.allocate(byteCount: AgeStream.encryptedChunkSize, alignment: 16)
    private var nonce = [UInt8](repeating: 0, count: 12)
    private var counter: UInt64 = 0
    private var sawLastChunk = false
    private(set) var complete = false

    init(key: SecureBytes, reader: AgeReader, path: String) {
        self.key = key
        self.reader = reader
        self.path = path
    }

    deinit { ciphertext.deallocate() }

    private func fail(_ reason: String) -> VaultError { .corrupt(path: path, reason: "age payload: \(reason)") }

    /// Passes the next authenticated chunk's plaintext to `body`; returns
    /// false, having checked nothing follows the final chunk, when done.
    func next(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        if complete { return false }
        if sawLastChunk {
            guard try reader.atEnd() else { throw fail("data after the end of the encrypted file") }
            complete = true
            return false
        }
        let count = try reader.readFull(ciphertext)
        guard count > 0 else { throw fail("the file is truncated (no final chunk)") }
        var last = count < AgeStream.encryptedChunkSize
        guard count >= AgeStream.tagSize else { throw fail("the file is truncated (short chunk)") }
        if last && count == AgeStream.tagSize && counter > 0 {
            throw fail("the final chunk is empty")
        }
        let length = count - AgeStream.tagSize
        var opened = open(length: length, last: last)
        if !opened && !last {
            // A full-size chunk may be the final one.
            last = true
            opened = open(length: length, last: true)
        }
        guard opened else { throw fail("a chunk does not authenticate: the file was altered or truncated") }
        counter += 1
        sawLastChunk = last
        try plaintext.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        return true
    }

    private func open(length: Int, last: Bool) -> Bool {
        AgeStream.fillNonce(&nonce, counter: counter, last: last)
        return plaintext.withUnsafeMutableBytes { p in
            key.withUnsafeBytes { k in
                nonce.withUnsafeBytes { n in
                    Sodium.chachaOpen(UnsafeRawBufferPointer(rebasing: ciphertext[0..<length]), tag: ciphertext.baseAddress! + length,
                                      into: p.baseAddress!, nonce: n, key: k)
                }
            }
        }
    }
}
