// Decrypting the STREAM payload in batches of chunks opened together must
// release exactly the chunks, and throw exactly the error, that opening one
// chunk at a time does. Payloads are sealed here chunk by chunk under a fixed
// key, so every rule (a full-size final chunk, bytes after it, an empty or
// short final chunk, a missing one, a read failure) can be placed anywhere in
// a batch, and each is decrypted with batches of 1, 3 and 64 chunks.
import Testing
@testable import TokenVault

@Suite("age STREAM in batches")
struct AgeBatchDecryptionTests {
    static let key = SecureBytes(copying: [UInt8](repeating: 0x42, count: 32))
    static let full = AgeStream.chunkSize
    static let batchSizes = [1, 3, Age.chunksPerFileRead]

    /// One chunk's plaintext: its length and what it is sealed as.
    struct Chunk {
        var length: Int
        var last = false
        static let full = Chunk(length: AgeBatchDecryptionTests.full)
    }

    /// Plaintext bytes of chunk `index`, different for every chunk.
    static func plaintext(_ index: Int, length: Int) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index &* 131) }
    }

    /// The chunks age makes of `length` bytes: full ones, then the last (full-size, short or empty).
    static func chunks(forLength length: Int) -> [Chunk] {
        var chunks = Array(repeating: Chunk.full, count: max(0, (length - 1) / full))
        chunks.append(Chunk(length: length - chunks.count * full, last: true))
        return chunks
    }

    /// The payload (after the nonce) of `chunks` sealed in order under `key`,
    /// and their plaintext, concatenated.
    static func seal(_ chunks: [Chunk]) -> (payload: [UInt8], plaintext: [UInt8]) {
        var payload: [UInt8] = [], all: [UInt8] = []
        for (index, chunk) in chunks.enumerated() {
            let plain = plaintext(index, length: chunk.length)
            var sealed = [UInt8](repeating: 0, count: chunk.length + AgeStream.tagSize)
            var nonce = [UInt8](repeating: 0, count: 12)
            nonce.withUnsafeMutableBytes { AgeStream.fillNonce($0, counter: UInt64(index), last: chunk.last) }
            plain.withUnsafeBytes { p in
                sealed.withUnsafeMutableBytes { s in
                    nonce.withUnsafeBytes { n in
                        key.withUnsafeBytes { k in
                            Sodium.chachaSeal(p, into: s.baseAddress!, tag: s.baseAddress! + chunk.length, nonce: n, key: k)
                        }
                    }
                }
            }
            payload += sealed
            all += plain
        }
        return (payload, all)
    }

    /// Decrypts `payload` in batches of `chunksPerBatch`, reading from a
    /// source that yields at most 1000 bytes a call and fails once `failAt`
    /// bytes are read; returns the bytes released and the error thrown.
    static func decrypt(_ payload: [UInt8], chunksPerBatch: Int, failAt: Int? = nil) -> (released: [UInt8], error: VaultError?) {
        var offset = 0
        let source: AgeSource = { destination in
            if let failAt, offset >= failAt { throw VaultError.io(path: "p", operation: "read", errno: 5) }
            let count = min(destination.count, payload.count - offset, 1000, (failAt ?? .max) - offset)
            payload.withUnsafeBytes { destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + count)])) }
            offset += count
            return count
        }
        let stream = AgeStreamDecryptor(key: key, reader: AgeReader(source), path: "p", chunksPerBatch: chunksPerBatch)
        var released: [UInt8] = []
        do {
            while try stream.next({ released += $0 }) {}
            return (released, nil)
        } catch {
            return (released, error as? VaultError)
        }
    }

    /// 130 chunks and 5 bytes: two full batches of 64, then a third.
    static let long = seal(chunks(forLength: 130 * 65_536 + 5))

    static func corrupt(_ reason: String) -> VaultError { .corrupt(path: "p", reason: "age payload: \(reason)") }
    static let altered = corrupt("a chunk does not authenticate: the file was altered or truncated")
    static let dataAfterEnd = corrupt("data after the end of the encrypted file")

    /// Checks every batch size releases the first `releasedChunks` chunks'
    /// plaintext (all of it when nil) and then throws `error`.
    static func check(_ payload: [UInt8], plaintext: [UInt8], releasedChunks: Int? = nil, error: VaultError?,
                      failAt: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let expected = releasedChunks.map { Array(plaintext.prefix($0 * full)) } ?? plaintext
        for chunksPerBatch in batchSizes {
            let got = decrypt(payload, chunksPerBatch: chunksPerBatch, failAt: failAt)
            #expect(got.released.count == expected.count, "batch of \(chunksPerBatch)", sourceLocation: sourceLocation)
            #expect(got.released == expected, "batch of \(chunksPerBatch)", sourceLocation: sourceLocation)
            #expect(got.error == error, "batch of \(chunksPerBatch)", sourceLocation: sourceLocation)
        }
    }

    @Test("whole payloads of 0, 1, 64K, 64 chunks, 64 chunks + 1 byte and 130 chunks + 5 bytes",
          arguments: [0, 1, 65_536, 64 * 65_536, 64 * 65_536 + 1, 130 * 65_536 + 5])
    func wholePayloads(length: Int) {
        let (payload, plaintext) = Self.seal(Self.chunks(forLength: length))
        #expect(plaintext.count == length)
        Self.check(payload, plaintext: plaintext, error: nil)
    }

    @Test("a flipped bit in a chunk releases every chunk before it, then fails",
          arguments: [0, 3, 62, 63, 64, 70, 127, 128, 130])
    func tamperedChunk(index: Int) {
        var payload = Self.long.payload
        payload[index * AgeStream.encryptedChunkSize + 5] ^= 0x01
        Self.check(payload, plaintext: Self.long.plaintext, releasedChunks: index, error: Self.altered)
    }

    @Test("a full-size chunk sealed as the last ends the payload wherever it falls in a batch",
          arguments: [0, 2, 62, 63, 64, 70])
    func fullSizeLastChunk(index: Int) {
        let chunks = Array(repeating: Chunk.full, count: index) + [Chunk(length: Self.full, last: true)]
        let (payload, plaintext) = Self.seal(chunks)
        Self.check(payload, plaintext: plaintext, error: nil)
        // Anything after it, a byte or whole chunks, is refused once it is released.
        let more = Self.seal(chunks + Array(repeating: Chunk.full, count: 4)).payload
        for extra in [1, 20, AgeStream.encryptedChunkSize, 3 * AgeStream.encryptedChunkSize + 7] {
            Self.check(Array(more.prefix(payload.count + extra)), plaintext: plaintext, releasedChunks: index + 1,
                       error: Self.dataAfterEnd)
        }
    }

    @Test("an empty final chunk after full ones, a short chunk, a missing final chunk")
    func finalChunkRules() {
        let (empty, emptyPlaintext) = Self.seal([Chunk(length: 0, last: true)])
        Self.check(empty, plaintext: emptyPlaintext, error: nil)
        for count in [1, 5, 63, 64, 70] {
            let fullChunks = Array(repeating: Chunk.full, count: count)
            let (payload, plaintext) = Self.seal(fullChunks + [Chunk(length: 0, last: true)])
            Self.check(payload, plaintext: plaintext, releasedChunks: count, error: Self.corrupt("the final chunk is empty"))
            let unfinished = Array(payload.prefix(count * AgeStream.encryptedChunkSize))
            Self.check(unfinished, plaintext: plaintext, releasedChunks: count,
                       error: Self.corrupt("the file is truncated (no final chunk)"))
            Self.check(unfinished + [1, 2, 3, 4, 5], plaintext: plaintext, releasedChunks: count,
                       error: Self.corrupt("the file is truncated (short chunk)"))
            // A short chunk not sealed as the last does not authenticate as the last.
            let (notLast, notLastPlaintext) = Self.seal(fullChunks + [Chunk(length: 100)])
            Self.check(notLast, plaintext: notLastPlaintext, releasedChunks: count, error: Self.altered)
        }
        Self.check([], plaintext: [], error: Self.corrupt("the file is truncated (no final chunk)"))
    }

    @Test("a read failure is thrown after the chunks read before it are released")
    func readFailure() {
        let (payload, plaintext) = Self.long
        let ioError = VaultError.io(path: "p", operation: "read", errno: 5)
        for chunk in [0, 3, 64, 66] {
            let boundary = chunk * AgeStream.encryptedChunkSize
            Self.check(payload, plaintext: plaintext, releasedChunks: chunk, error: ioError, failAt: boundary)
            Self.check(payload, plaintext: plaintext, releasedChunks: chunk, error: ioError, failAt: boundary + 500)
        }
        // After a full-size final chunk, a failure is the error; bytes read before it are data after the end.
        let (last, lastPlaintext) = Self.seal([Chunk.full, Chunk.full, Chunk(length: Self.full, last: true)])
        Self.check(last + [9], plaintext: lastPlaintext, error: ioError, failAt: last.count)
        Self.check(last + [9], plaintext: lastPlaintext, error: Self.dataAfterEnd, failAt: last.count + 1)
    }

    @Test("files of several batches round-trip through the file descriptor path",
          arguments: [64 * 65_536, 130 * 65_536 + 5])
    func fileDescriptorRoundTrip(length: Int) throws {
        let plaintext = Self.plaintext(1, length: length)
        let identity = AgeX25519Identity.generate()
        let file = try Age.encrypt(SecureBytes(copying: plaintext), to: [.x25519(identity.recipient)])
        let encrypted = try TemporaryFile(contents: file)
        let output = try TemporaryFile(contents: [])
        try Age.decrypt(from: encrypted.fd, inputPath: encrypted.path, to: output.fd, outputPath: output.path,
                        identities: [.x25519(identity)])
        #expect(try output.readAll() == plaintext)
        #expect(try Age.decrypt(file, with: [.x25519(identity)], path: "f").withUnsafeBytes { Array($0) } == plaintext)
    }
}
