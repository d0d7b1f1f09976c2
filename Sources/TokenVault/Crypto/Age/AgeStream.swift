// The age payload: a 16-byte nonce, then ChaCha20-Poly1305 STREAM over 64 KiB
// chunks under HKDF(file key, nonce, "payload"); each chunk's nonce is an
// 11-byte big-endian counter and a last-chunk flag. Rules: at most a fixed
// batch of chunks is held at a time, in buffers allocated once; decrypted bytes are released
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

    /// Writes the 12-byte ChaCha20-Poly1305 nonce for chunk `counter` into
    /// `nonce`, whose first three bytes are zero.
    @inline(__always)
    static func fillNonce(_ nonce: UnsafeMutableRawBufferPointer, counter: UInt64, last: Bool) {
        // Bytes 0–2 of the 88-bit counter stay zero: 2^64 chunks is 2^80 bytes.
        for i in 0..<8 { nonce[3 + i] = UInt8(truncatingIfNeeded: counter >> UInt64(56 - 8 * i)) }
        nonce[11] = last ? 1 : 0
    }
}

/// Encrypts a plaintext, chunk by chunk, into a sink. The chunks are sealed
/// in place in one locked buffer laid out as the payload is (chunk ‖ tag ‖
/// chunk ‖ tag …): plaintext read or copied into its chunk's place is never
/// copied again, and up to `chunksPerSinkCall` sealed chunks reach the sink in
/// one call (one write(2) for a file), with no allocation per chunk.
final class AgeStreamEncryptor {
    private let key: SecureBytes
    private let sink: AgeSink
    private let chunksPerSinkCall: Int
    /// Plaintext until a chunk is sealed, then ciphertext; locked and wiped
    /// because the plaintext is a secret.
    private let chunks: SecureBytes
    /// The place of the chunk being filled, and its plaintext bytes so far.
    private var slot = 0
    private var filled = 0
    /// Full chunks known not to be the last wait, unsealed, in places
    /// `pendingStart..<slot`, to be sealed together (on several cores) just
    /// before they go to the sink. `counter` is the chunk number at `pendingStart`.
    private var pendingStart = 0
    private var counter: UInt64 = 0
    /// Where the sealed bytes not yet given to the sink begin.
    private var unsentStart = 0
    private(set) var finished = false

    init(key: SecureBytes, sink: @escaping AgeSink, chunksPerSinkCall: Int) {
        precondition(chunksPerSinkCall >= 1)
        self.key = key
        self.sink = sink
        self.chunksPerSinkCall = chunksPerSinkCall
        chunks = SecureBytes(zeroedCount: chunksPerSinkCall * AgeStream.encryptedChunkSize)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            // A full chunk is sealed only once more input proves it is not the last.
            if filled == AgeStream.chunkSize { try sealFullChunk() }
            let count = min(AgeStream.chunkSize - filled, bytes.count - offset)
            let start = slot * AgeStream.encryptedChunkSize + filled
            chunks.withUnsafeMutableBytes {
                UnsafeMutableRawBufferPointer(rebasing: $0[start..<(start + count)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
            }
            filled += count
            offset += count
        }
    }

    /// Encrypts everything `source` yields until it ends, reading straight
    /// into the chunks' places. Needs `chunksPerSinkCall` ≥ 2: a full chunk
    /// stays unsealed until the next chunk's first bytes are read into another place.
    func read(from source: AgeSource) throws {
        precondition(chunksPerSinkCall >= 2)
        while true {
            if filled < AgeStream.chunkSize {
                let count = try readChunk(at: slot, offset: filled, from: source)
                if count == 0 { return }
                filled += count
                continue
            }
            let next = (slot + 1) % chunksPerSinkCall
            // Wrapping to the buffer's start: the chunks there go to the sink before they are overwritten.
            if next == 0 {
                sealPending()
                try send(upTo: slot * AgeStream.encryptedChunkSize)
            }
            let count = try readChunk(at: next, offset: 0, from: source)
            // Input that ends right after a full chunk makes it the last one, sealed by `finish`.
            if count == 0 { return }
            try sealFullChunk()
            filled = count
        }
    }

    func finish() throws {
        sealPending()
        seal(slot, counter: counter, last: true)
        finished = true
        try send(upTo: slot * AgeStream.encryptedChunkSize + filled + AgeStream.tagSize)
    }

    /// One read from `source` into the plaintext space of chunk place `slot` after `offset`.
    private func readChunk(at slot: Int, offset: Int, from source: AgeSource) throws -> Int {
        let start = slot * AgeStream.encryptedChunkSize
        return try chunks.withUnsafeMutableBytes {
            try source(UnsafeMutableRawBufferPointer(rebasing: $0[(start + offset)..<(start + AgeStream.chunkSize)]))
        }
    }

    /// Marks the full current chunk as not the last and moves to the next
    /// place; when the buffer is used up, seals the waiting chunks and gives
    /// them to the sink.
    private func sealFullChunk() throws {
        slot += 1
        filled = 0
        if slot == chunksPerSinkCall {
            sealPending()
            try send(upTo: slot * AgeStream.encryptedChunkSize)
            slot = 0
            pendingStart = 0
            unsentStart = 0
        }
    }

    /// Seals the waiting full chunks (`pendingStart..<slot`), not the last.
    /// Chunks are independent (each has its own nonce), so with more than
    /// one core they are sealed on several threads: ChaCha20-Poly1305 is
    /// what a file encryption spends its time on.
    private func sealPending() {
        let count = slot - pendingStart
        guard count > 0 else { return }
        let first = pendingStart, firstCounter = counter
        let parts = min(count, Parallel.processorCount, 4)
        Parallel.run(parts: parts) { part in
            for index in stride(from: part, to: count, by: parts) {
                seal(first + index, counter: firstCounter + UInt64(index), last: false)
            }
        }
        pendingStart = slot
        counter += UInt64(count)
    }

    /// Seals the chunk in place `place` (its first `filled` bytes if it is
    /// the current one, else a full chunk) as chunk number `counter`.
    /// Touches only that chunk's bytes, so calls for different places may
    /// run at the same time.
    private func seal(_ place: Int, counter: UInt64, last: Bool) {
        var nonce = (UInt64(0), UInt32(0))     // 12 bytes, on the stack
        let start = place * AgeStream.encryptedChunkSize
        let count = place == slot ? filled : AgeStream.chunkSize
        withUnsafeMutableBytes(of: &nonce) { n in
            AgeStream.fillNonce(n, counter: counter, last: last)
            let nonceBytes = UnsafeRawBufferPointer(rebasing: n[0..<12])
            chunks.withUnsafeMutableBytes { c in
                key.withUnsafeBytes { k in
                    Sodium.chachaSeal(UnsafeRawBufferPointer(rebasing: c[start..<(start + count)]), into: c.baseAddress! + start,
                                      tag: c.baseAddress! + start + count, nonce: nonceBytes, key: k)
                }
            }
        }
    }

    /// Gives the sealed bytes before `end` to the sink.
    private func send(upTo end: Int) throws {
        guard end > unsentStart else { return }
        try chunks.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[unsentStart..<end])) }
        unsentStart = end
    }
}

/// Decrypts a payload from a reader, releasing each chunk's plaintext only
/// after it authenticates, in order. Up to `chunksPerBatch` chunks are read
/// ahead and opened together, on several cores as the encryptor seals them
/// (ChaCha20-Poly1305 is nearly all a file decryption's time). What a batch
/// finds wrong after its authenticated chunks is kept in `pending` and thrown
/// only once they are released, so a caller sees the same chunks and the same
/// error at the same point as when chunks are opened one at a time.
final class AgeStreamDecryptor {
    private let key: SecureBytes
    private let reader: AgeReader
    private let path: String
    private let chunksPerBatch: Int
    /// The batch's encrypted chunks as read, chunk `i` at `i * encryptedChunkSize`.
    private let ciphertext: UnsafeMutableRawBufferPointer
    /// Their plaintext, chunk `i` at `i * chunkSize`; locked and wiped
    /// because it is a secret.
    private let plaintext: SecureBytes
    /// The number of the batch's first chunk, for the nonces.
    private var counter: UInt64 = 0
    /// Chunks `released..<ready` of the batch authenticated and are not yet
    /// released; each is full-size but chunk `ready - 1`, of `lastReadyLength` bytes.
    private var released = 0
    private var ready = 0
    private var lastReadyLength = 0
    /// The error that follows the batch's authenticated chunks.
    private var pending: (any Error)?
    private var sawLastChunk = false
    private(set) var complete = false

    init(key: SecureBytes, reader: AgeReader, path: String, chunksPerBatch: Int = 1) {
        precondition(chunksPerBatch >= 1)
        self.key = key
        self.reader = reader
        self.path = path
        self.chunksPerBatch = chunksPerBatch
        ciphertext = .allocate(byteCount: chunksPerBatch * AgeStream.encryptedChunkSize, alignment: 16)
        plaintext = SecureBytes(zeroedCount: chunksPerBatch * AgeStream.chunkSize)
    }

    deinit { ciphertext.deallocate() }

    private func fail(_ reason: String) -> VaultError { .corrupt(path: path, reason: "age payload: \(reason)") }

    /// Passes the next authenticated chunk's plaintext to `body`; returns
    /// false, having checked nothing follows the final chunk, when done.
    func next(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        while released == ready {
            if let pending { throw pending }
            if complete { return false }
            if sawLastChunk {
                guard try reader.atEnd() else { throw fail("data after the end of the encrypted file") }
                complete = true
                return false
            }
            openBatch()
        }
        let place = released
        let length = place == ready - 1 ? lastReadyLength : AgeStream.chunkSize
        released += 1
        let start = place * AgeStream.chunkSize
        try plaintext.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + length)])) }
        return true
    }

    /// Reads the next batch, full chunks until `chunksPerBatch` of them or
    /// the input ends, and opens it with the rules of reading one chunk at a
    /// time: a full chunk is not the last unless it opens only as the last;
    /// a shorter one is the last. Sets `ready`, and `pending` when the
    /// payload turns out wrong after the ready chunks.
    private func openBatch() {
        counter += UInt64(ready)
        released = 0
        ready = 0
        // Full chunks read, then what ended the batch: a short chunk of
        // `shortSize` bytes (0: none, the input ended) or a read failure.
        var fullCount = 0
        var shortSize = 0
        var readFailure: (any Error)?
        while fullCount < chunksPerBatch {
            let start = fullCount * AgeStream.encryptedChunkSize
            let (size, failure) = reader.readFullReportingFailure(
                UnsafeMutableRawBufferPointer(rebasing: ciphertext[start..<(start + AgeStream.encryptedChunkSize)]))
            if let failure {
                (shortSize, readFailure) = (size, failure)
                break
            }
            if size < AgeStream.encryptedChunkSize {
                shortSize = size
                break
            }
            fullCount += 1
        }
        let batchIsFull = fullCount == chunksPerBatch
        let notLast = openFullChunksAsNotLast(fullCount)
        ready = notLast
        lastReadyLength = AgeStream.chunkSize
        if notLast < fullCount {
            // A full-size chunk may be the final one; then nothing may follow it.
            guard open(notLast, size: AgeStream.encryptedChunkSize, last: true) else {
                pending = fail("a chunk does not authenticate: the file was altered or truncated")
                return
            }
            ready = notLast + 1
            sawLastChunk = true
            if notLast + 1 < fullCount || shortSize > 0 {
                pending = fail("data after the end of the encrypted file")
            } else if let readFailure {
                pending = readFailure
            }
            return
        }
        if let readFailure {
            pending = readFailure
        } else if batchIsFull {
            return
        } else if shortSize == 0 {
            pending = fail("the file is truncated (no final chunk)")
        } else if shortSize < AgeStream.tagSize {
            pending = fail("the file is truncated (short chunk)")
        } else if shortSize == AgeStream.tagSize && counter + UInt64(fullCount) > 0 {
            pending = fail("the final chunk is empty")
        } else if open(fullCount, size: shortSize, last: true) {
            ready = fullCount + 1
            lastReadyLength = shortSize - AgeStream.tagSize
            sawLastChunk = true
        } else {
            pending = fail("a chunk does not authenticate: the file was altered or truncated")
        }
    }

    /// Opens the batch's first `count` chunks, all full-size, as chunks that
    /// are not the last, on several threads when there are several cores;
    /// returns the index of the first that does not open so, or `count`.
    private func openFullChunksAsNotLast(_ count: Int) -> Int {
        guard count > 0 else { return 0 }
        let parts = min(count, Parallel.processorCount, 4)
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: parts) { firstFailure in
            Parallel.run(parts: parts) { part in
                firstFailure[part] = count
                // Chunks after a failure are never released: a part stops at its first.
                for index in stride(from: part, to: count, by: parts)
                where !open(index, size: AgeStream.encryptedChunkSize, last: false) {
                    firstFailure[part] = index
                    break
                }
            }
            return firstFailure.min()!
        }
    }

    /// Opens the batch's chunk `index` (`size` bytes, tag included) as chunk
    /// number `counter + index` into its plaintext place. Touches only that
    /// chunk's bytes, so calls for different chunks may run at the same time.
    private func open(_ index: Int, size: Int, last: Bool) -> Bool {
        var nonce = (UInt64(0), UInt32(0))     // 12 bytes, on the stack
        let start = index * AgeStream.encryptedChunkSize
        let length = size - AgeStream.tagSize
        return withUnsafeMutableBytes(of: &nonce) { n in
            AgeStream.fillNonce(n, counter: counter + UInt64(index), last: last)
            return plaintext.withUnsafeMutableBytes { p in
                key.withUnsafeBytes { k in
                    Sodium.chachaOpen(UnsafeRawBufferPointer(rebasing: ciphertext[start..<(start + length)]),
                                      tag: ciphertext.baseAddress! + start + length,
                                      into: p.baseAddress! + index * AgeStream.chunkSize,
                                      nonce: UnsafeRawBufferPointer(rebasing: n[0..<12]), key: k)
                }
            }
        }
    }
}
