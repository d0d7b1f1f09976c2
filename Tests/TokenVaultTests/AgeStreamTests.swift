// The STREAM payload's rules, chunk by chunk: the decryptor releases exactly
// the chunks that authenticated, in order, and then throws exactly one error.
// Payloads are sealed here chunk by chunk under a fixed key, so every rule (a
// full-size final chunk, bytes after it, an empty or short final chunk, a
// missing one, a read failure) can be placed at any chunk.
import Testing

@testable import TokenVault

@Suite("age STREAM payload rules")
struct AgeStreamPayloadTests {
    static let key = SecureBytes(copying: [UInt8](repeating: 0x42, count: 32))
    static let full = AgeStream.chunkSize

    /// One chunk's plaintext: its length and what it is sealed as.
    struct Chunk {
        var length: Int
        var last = false
        static let full = Chunk(length: AgeStreamPayloadTests.full)
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
        var payload: [UInt8] = []
        var all: [UInt8] = []
        for (index, chunk) in chunks.enumerated() {
            let plain = plaintext(index, length: chunk.length)
            var sealed = [UInt8](repeating: 0, count: chunk.length + AgeStream.tagSize)
            var nonce = [UInt8](repeating: 0, count: 12)
            nonce.withUnsafeMutableBytes { AgeStream.fillNonce($0, counter: UInt64(index), last: chunk.last) }
            plain.withUnsafeBytes { p in
                sealed.withUnsafeMutableBytes { s in
                    nonce.withUnsafeBytes { n in
                        key.withUnsafeBytes { k in
                            Sodium.chachaSeal(
                                p, into: s.baseAddress!, tag: s.baseAddress! + chunk.length, nonce: n, key: k)
                        }
                    }
                }
            }
            payload += sealed
            all += plain
        }
        return (payload, all)
    }

    /// Decrypts `payload`, reading from a source that yields at most 1000
    /// bytes a call and fails once `failAt` bytes are read; returns the bytes
    /// released and the error thrown.
    static func decrypt(_ payload: [UInt8], failAt: Int? = nil) -> (released: [UInt8], error: VaultError?) {
        var offset = 0
        let source: AgeSource = { destination in
            if let failAt, offset >= failAt { throw VaultError.io(path: "p", operation: "read", errno: 5) }
            let count = min(destination.count, payload.count - offset, 1000, (failAt ?? .max) - offset)
            payload.withUnsafeBytes {
                destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + count)]))
            }
            offset += count
            return count
        }
        let stream = AgeStreamDecryptor(key: key, reader: AgeReader(source), path: "p")
        var released: [UInt8] = []
        do {
            while try stream.next({ released += $0 }) {}
            return (released, nil)
        } catch {
            return (released, error as? VaultError)
        }
    }

    /// 10 chunks and 5 bytes.
    static let long = seal(chunks(forLength: 10 * 65_536 + 5))

    static func corrupt(_ reason: String) -> VaultError { .corrupt(path: "p", reason: "age payload: \(reason)") }
    static let altered = corrupt("a chunk does not authenticate: the file was altered or truncated")
    static let dataAfterEnd = corrupt("data after the end of the encrypted file")

    /// Checks that decrypting releases the first `releasedChunks` chunks'
    /// plaintext (all of it when nil) and then throws `error`.
    static func check(
        _ payload: [UInt8], plaintext: [UInt8], releasedChunks: Int? = nil, error: VaultError?,
        failAt: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let expected = releasedChunks.map { Array(plaintext.prefix($0 * full)) } ?? plaintext
        let got = decrypt(payload, failAt: failAt)
        #expect(got.released.count == expected.count, sourceLocation: sourceLocation)
        #expect(got.released == expected, sourceLocation: sourceLocation)
        #expect(got.error == error, sourceLocation: sourceLocation)
    }

    @Test(
        "whole payloads of 0, 1, 64K − 1, 64K, 64K + 1, 3 chunks and 10 chunks + 5 bytes",
        arguments: [0, 1, 65_535, 65_536, 65_537, 3 * 65_536, 10 * 65_536 + 5])
    func wholePayloads(length: Int) {
        let (payload, plaintext) = Self.seal(Self.chunks(forLength: length))
        #expect(plaintext.count == length)
        Self.check(payload, plaintext: plaintext, error: nil)
    }

    @Test(
        "a flipped bit in a chunk releases every chunk before it, then fails",
        arguments: [0, 1, 3, 9, 10])
    func tamperedChunk(index: Int) {
        var payload = Self.long.payload
        payload[index * AgeStream.encryptedChunkSize + 5] ^= 0x01
        Self.check(payload, plaintext: Self.long.plaintext, releasedChunks: index, error: Self.altered)
    }

    @Test(
        "a full-size chunk sealed as the last ends the payload wherever it falls",
        arguments: [0, 1, 2, 5])
    func fullSizeLastChunk(index: Int) {
        let chunks = Array(repeating: Chunk.full, count: index) + [Chunk(length: Self.full, last: true)]
        let (payload, plaintext) = Self.seal(chunks)
        Self.check(payload, plaintext: plaintext, error: nil)
        // Anything after it, a byte or whole chunks, is refused once it is released.
        let more = Self.seal(chunks + Array(repeating: Chunk.full, count: 4)).payload
        for extra in [1, 20, AgeStream.encryptedChunkSize, 3 * AgeStream.encryptedChunkSize + 7] {
            Self.check(
                Array(more.prefix(payload.count + extra)), plaintext: plaintext, releasedChunks: index + 1,
                error: Self.dataAfterEnd)
        }
    }

    @Test("an empty final chunk after full ones, a short chunk, a missing final chunk")
    func finalChunkRules() {
        let (empty, emptyPlaintext) = Self.seal([Chunk(length: 0, last: true)])
        Self.check(empty, plaintext: emptyPlaintext, error: nil)
        for count in [1, 2, 5] {
            let fullChunks = Array(repeating: Chunk.full, count: count)
            let (payload, plaintext) = Self.seal(fullChunks + [Chunk(length: 0, last: true)])
            Self.check(
                payload, plaintext: plaintext, releasedChunks: count, error: Self.corrupt("the final chunk is empty"))
            let unfinished = Array(payload.prefix(count * AgeStream.encryptedChunkSize))
            Self.check(
                unfinished, plaintext: plaintext, releasedChunks: count,
                error: Self.corrupt("the file is truncated (no final chunk)"))
            Self.check(
                unfinished + [1, 2, 3, 4, 5], plaintext: plaintext, releasedChunks: count,
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
        for chunk in [0, 1, 3, 9] {
            let boundary = chunk * AgeStream.encryptedChunkSize
            Self.check(payload, plaintext: plaintext, releasedChunks: chunk, error: ioError, failAt: boundary)
            Self.check(payload, plaintext: plaintext, releasedChunks: chunk, error: ioError, failAt: boundary + 500)
        }
        // After a full-size final chunk, a failure is the error; bytes read before it are data after the end.
        let (last, lastPlaintext) = Self.seal([Chunk.full, Chunk.full, Chunk(length: Self.full, last: true)])
        Self.check(last + [9], plaintext: lastPlaintext, error: ioError, failAt: last.count)
        Self.check(last + [9], plaintext: lastPlaintext, error: Self.dataAfterEnd, failAt: last.count + 1)
    }
}
