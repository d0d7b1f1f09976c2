// The public face of the age v1 format in TokenVault: a streaming encryptor
// and decryptor, and whole-buffer and file-descriptor conveniences on top.
// Rules: nothing here holds more than one 64 KiB chunk of a payload at a time
// (plus the caller's own buffers); the file key, the payload key and the
// plaintext live in `SecureBytes`; decryption is phased (header,
// file key, MAC, nonce, payload) so each failure has one meaning: `.corrupt`
// for a malformed or altered file (exit 65), `.wrongIdentity` /
// `.wrongPassphrase` when no identity opens it (exit 77).

/// Encrypts to age recipients, streaming: feed plaintext with `write`, then
/// call `finish`; the header and each sealed chunk go to the sink as soon as
/// they are ready.
package final class AgeEncryptor {
    private let stream: AgeStreamEncryptor
    private let armor: AgeArmor.Writer?

    /// Writes the header and payload nonce to `sink` at once; with `armored`,
    /// as age's ASCII armor (`age -a`).
    /// Throws `.invalidArgument` for no recipients, or a passphrase mixed with others.
    package init(recipients: [AgeRecipient], armored: Bool = false, sink: @escaping AgeSink) throws {
        guard !recipients.isEmpty else { throw VaultError.invalidArgument("no age recipient given") }
        if recipients.count > 1, recipients.contains(where: { if case .scrypt = $0.kind { true } else { false } }) {
            throw VaultError.invalidArgument(
                "a passphrase cannot be combined with other recipients",
                hint: "encrypt either to a passphrase or to age1… recipients")
        }
        let armor = armored ? AgeArmor.Writer(sink: sink) : nil
        self.armor = armor
        let sink: AgeSink = armor.map { armor in { try armor.write($0) } } ?? sink
        let fileKey = SecureBytes.random(count: AgeFileKey.length)
        let stanzas = try recipients.map { try $0.wrap(fileKey) }
        let header = AgeHeader.encode(stanzas, fileKey: fileKey)
        let nonce = Sodium.randomBytes(AgeStream.nonceSize)
        try header.withUnsafeBytes { try sink($0) }
        try nonce.withUnsafeBytes { try sink($0) }
        stream = AgeStreamEncryptor(key: AgeStream.payloadKey(fileKey: fileKey, nonce: nonce), sink: sink)
    }

    /// Encrypts `bytes`. A full chunk is sealed, and goes to the sink, once
    /// more input shows it is not the end.
    package func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !stream.finished else { throw VaultError.invalidArgument("age encryptor written to after finish") }
        try stream.write(bytes)
    }

    /// Seals the final chunk. The output is a complete age file only after this.
    package func finish() throws {
        guard !stream.finished else { return }
        try stream.finish()
        try armor?.finish()
    }
}

/// Decrypts an age file, streaming: the initialiser reads and checks the
/// header; `nextChunk` then releases the plaintext one authenticated chunk at a time.
package final class AgeDecryptor {
    private let payload: AgeStreamDecryptor

    /// Reads the header from `source`, finds the file key with `identities`,
    /// checks the header MAC and reads the payload nonce. `path` names the
    /// input in errors. The payload is then read one chunk at a time. An
    /// armored input (`age -a`) is recognised by its first line, as age does.
    package init(source: @escaping AgeSource, identities: [AgeIdentity], path: String) throws {
        let reader = AgeReader(try AgeArmor.detecting(source, path: path))
        let header = try AgeHeader.parse(reader, path: path)
        let fileKey = try Self.unwrapFileKey(header, identities: identities, path: path)
        try header.verifyMAC(fileKey: fileKey, path: path)
        payload = try Self.openPayload(reader, fileKey: fileKey, path: path)
    }

    /// Decrypts and authenticates the next chunk and passes its plaintext to
    /// `body` (valid only during the call). Returns false when the file has
    /// ended properly. Plaintext already released stays valid even if a later
    /// chunk fails; a caller who needs all-or-nothing must hold it back.
    package func nextChunk(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        try payload.next(body)
    }

    /// Decrypts the rest of the file into `sink`, chunk by chunk.
    package func decryptAll(to sink: AgeSink) throws {
        while try payload.next(sink) {}
    }

    // MARK: Phases, internal so the vector runner can tell failures apart

    /// The file key from the first stanza an identity opens.
    static func unwrapFileKey(_ header: AgeHeader, identities: [AgeIdentity], path: String) throws -> SecureBytes {
        if header.stanzas.contains(where: { $0.type == AgeScrypt.type }) && header.stanzas.count != 1 {
            throw VaultError.corrupt(
                path: path, reason: "not a valid age file: a passphrase (scrypt) stanza must be the only one")
        }
        for identity in identities {
            for stanza in header.stanzas {
                if let fileKey = try identity.unwrap(stanza, path: path) {
                    guard fileKey.count == AgeFileKey.length else {
                        throw VaultError.corrupt(
                            path: path, reason: "not a valid age file: the file key is not 16 bytes")
                    }
                    return fileKey
                }
            }
        }
        if identities.contains(where: { $0.isPassphrase }) { throw VaultError.wrongPassphrase(path: path) }
        throw VaultError.wrongIdentity(path: path)
    }

    /// Reads the payload nonce and sets up the STREAM decryptor.
    static func openPayload(_ reader: AgeReader, fileKey: SecureBytes, path: String) throws -> AgeStreamDecryptor {
        var nonce = [UInt8](repeating: 0, count: AgeStream.nonceSize)
        let count = try nonce.withUnsafeMutableBytes { try reader.readFull($0) }
        guard count == AgeStream.nonceSize else {
            throw VaultError.corrupt(path: path, reason: "not a valid age file: the payload nonce is missing or short")
        }
        return AgeStreamDecryptor(key: AgeStream.payloadKey(fileKey: fileKey, nonce: nonce), reader: reader, path: path)
    }
}

/// Whole-buffer and file-descriptor age encryption and decryption.
package enum Age {
    /// Encrypts a secret held in memory to `recipients`; returns the age file,
    /// with `armored` in age's ASCII armor.
    package static func encrypt(_ plaintext: SecureBytes, to recipients: [AgeRecipient], armored: Bool = false) throws
        -> [UInt8]
    {
        var out: [UInt8] = []
        out.reserveCapacity(plaintext.count + (plaintext.count / AgeStream.chunkSize + 1) * AgeStream.tagSize + 512)
        let encryptor = try AgeEncryptor(recipients: recipients, armored: armored) { out.append(contentsOf: $0) }
        try plaintext.withUnsafeBytes { try encryptor.write($0) }
        try encryptor.finish()
        return out
    }

    /// Decrypts an age file held in memory; the plaintext comes back as a
    /// secret, and only if the whole file authenticates.
    package static func decrypt(_ ciphertext: [UInt8], with identities: [AgeIdentity], path: String) throws
        -> SecureBytes
    {
        let decryptor = try AgeDecryptor(source: AgeReader.source(over: ciphertext), identities: identities, path: path)
        // The plaintext is never longer than the ciphertext.
        let buffer = SecureBytes(zeroedCount: ciphertext.count)
        var filled = 0
        try decryptor.decryptAll { chunk in
            buffer.withUnsafeMutableBytes {
                UnsafeMutableRawBufferPointer(rebasing: $0[filled..<(filled + chunk.count)]).copyMemory(from: chunk)
            }
            filled += chunk.count
        }
        return buffer.slice(0..<filled)
    }

    /// Encrypts everything readable from `input` to `output`, one 64 KiB
    /// chunk at a time. Paths name the descriptors in errors.
    package static func encrypt(
        from input: Int32, inputPath: String, to output: Int32, outputPath: String,
        recipients: [AgeRecipient]
    ) throws {
        let encryptor = try AgeEncryptor(recipients: recipients) {
            try Syscall.writeAll(output, $0, displayPath: outputPath)
        }
        // The plaintext passes through this buffer, so it is a secret too.
        let buffer = SecureBytes(zeroedCount: AgeStream.chunkSize)
        try buffer.withUnsafeMutableBytes { buffer in
            while true {
                let count = try Syscall.readSome(input, buffer, displayPath: inputPath)
                if count == 0 { break }
                try encryptor.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            }
        }
        try encryptor.finish()
    }

    /// Decrypts an age file from `input` to `output`, releasing each chunk as
    /// it authenticates. On a failure, `output` holds the chunks released so
    /// far: write to a temporary file and keep it only on success.
    package static func decrypt(
        from input: Int32, inputPath: String, to output: Int32, outputPath: String,
        identities: [AgeIdentity]
    ) throws {
        let decryptor = try AgeDecryptor(
            source: { try Syscall.readSome(input, $0, displayPath: inputPath) },
            identities: identities, path: inputPath)
        try decryptor.decryptAll { try Syscall.writeAll(output, $0, displayPath: outputPath) }
    }
}

extension AgeReader {
    /// An `AgeSource` over bytes in memory.
    static func source(over bytes: [UInt8]) -> AgeSource {
        var offset = 0
        return { destination in
            let count = min(destination.count, bytes.count - offset)
            if count > 0 {
                bytes.withUnsafeBytes {
                    destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + count)]))
                }
                offset += count
            }
            return count
        }
    }
}
