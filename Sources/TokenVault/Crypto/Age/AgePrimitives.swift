// The libsodium primitives the age format needs, as thin named wrappers in the
// style of Sodium.swift: HMAC-SHA256 and HKDF-SHA256 built on it, scrypt,
// ChaCha20-Poly1305 (IETF), X25519 and SHA-256. Every key, scalar, passphrase
// and derived key goes in and out as `SecureBytes`; C state that held a key is
// wiped before it goes out of scope. Failures are reported as `false`/`nil`
// only where the caller must decide what they mean (wrong key vs bad file).
internal import CSodium

extension Sodium {
    // MARK: SHA-256 and HMAC-SHA256

    /// SHA-256 of `message` (`crypto_hash_sha256`). For non-secret data.
    static func sha256(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        ensureInitialized()
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_hash_sha256(&out, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count))
        return out
    }

    /// Streaming SHA-256 (`crypto_hash_sha256_init/update/final`).
    struct SHA256Hasher {
        private var state = crypto_hash_sha256_state()
        init() {
            Sodium.ensureInitialized()
            crypto_hash_sha256_init(&state)
        }
        mutating func update(_ bytes: UnsafeRawBufferPointer) {
            crypto_hash_sha256_update(
                &state, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
        }
        mutating func finalize() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 32)
            crypto_hash_sha256_final(&state, &out)
            return out
        }
    }

    /// HMAC-SHA256 of the concatenation of `parts` under `key`
    /// (`crypto_auth_hmacsha256_init/update/final`), written into a new secret.
    static func hmacSHA256(key: UnsafeRawBufferPointer, _ parts: [UnsafeRawBufferPointer]) -> SecureBytes {
        ensureInitialized()
        var state = crypto_auth_hmacsha256_state()
        defer { withUnsafeMutableBytes(of: &state) { wipe($0) } }
        // An empty key is HMAC's all-zero key; libsodium still wants a pointer.
        var zero: UInt8 = 0
        if let base = key.baseAddress, key.count > 0 {
            crypto_auth_hmacsha256_init(&state, base.assumingMemoryBound(to: UInt8.self), key.count)
        } else {
            crypto_auth_hmacsha256_init(&state, &zero, 0)
        }
        for part in parts where part.count > 0 {
            crypto_auth_hmacsha256_update(
                &state, part.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(part.count))
        }
        let out = SecureBytes(zeroedCount: 32)
        out.withUnsafeMutableBytes {
            _ = crypto_auth_hmacsha256_final(&state, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return out
    }

    /// HKDF-SHA256 (RFC 5869) from `hmacSHA256`: extract with `salt` (empty
    /// means HashLen zero bytes, which HMAC treats identically), then expand
    /// `info` to `count` bytes (at most 255 × 32).
    static func hkdfSHA256(secret ikm: SecureBytes, salt: UnsafeRawBufferPointer, info: String, count: Int = 32)
        -> SecureBytes
    {
        precondition(count > 0 && count <= 255 * 32)
        let prk = ikm.withUnsafeBytes { hmacSHA256(key: salt, [$0]) }
        let out = SecureBytes(zeroedCount: count)
        var previous = SecureBytes(zeroedCount: 0)
        var filled = 0
        var counter: UInt8 = 1
        var info = Array(info.utf8)
        while filled < count {
            let block = prk.withUnsafeBytes { key in
                previous.withUnsafeBytes { t in
                    info.withUnsafeBytes { i in
                        withUnsafeBytes(of: &counter) { c in hmacSHA256(key: key, [t, i, c]) }
                    }
                }
            }
            let take = min(32, count - filled)
            out.withUnsafeMutableBytes { o in
                block.withUnsafeBytes { b in
                    UnsafeMutableRawBufferPointer(rebasing: o[filled..<(filled + take)]).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: b[0..<take]))
                }
            }
            filled += take
            counter &+= 1
            previous = block
        }
        info.removeAll()
        return out
    }

    /// HKDF-SHA256 with a non-secret salt given as bytes.
    static func hkdfSHA256(secret ikm: SecureBytes, salt: [UInt8], info: String, count: Int = 32) -> SecureBytes {
        salt.withUnsafeBytes { hkdfSHA256(secret: ikm, salt: $0, info: info, count: count) }
    }

    // MARK: scrypt

    /// scrypt with N = 2^`logN`, r = 8, p = 1 into 32 bytes
    /// (`crypto_pwhash_scryptsalsa208sha256_ll`). Nil when libsodium refuses
    /// the parameters or cannot allocate the memory (128 × r × N bytes).
    static func scrypt(passphrase: SecureBytes, salt: [UInt8], logN: Int) -> SecureBytes? {
        ensureInitialized()
        guard logN > 0 && logN < 63 else { return nil }
        let key = SecureBytes(zeroedCount: 32)
        // An empty passphrase still needs an address; libsodium reads none of it.
        let fallback: [UInt8] = [0]
        let status = key.withUnsafeMutableBytes { k in
            passphrase.withUnsafeBytes { p in
                salt.withUnsafeBufferPointer { s in
                    fallback.withUnsafeBufferPointer { f in
                        crypto_pwhash_scryptsalsa208sha256_ll(
                            p.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? f.baseAddress!, p.count,
                            s.baseAddress!, s.count,
                            UInt64(1) << UInt64(logN), 8, 1,
                            k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
                    }
                }
            }
        }
        return status == 0 ? key : nil
    }

    // MARK: ChaCha20-Poly1305 (IETF, 96-bit nonce)

    static let chachaKeyLength = Int(crypto_aead_chacha20poly1305_ietf_KEYBYTES)
    static let chachaNonceLength = Int(crypto_aead_chacha20poly1305_ietf_NPUBBYTES)
    static let chachaTagLength = Int(crypto_aead_chacha20poly1305_ietf_ABYTES)

    /// Encrypts `plaintext` into `ciphertext` (same length, may be the same
    /// memory) and writes the 16-byte tag to `tag`
    /// (`crypto_aead_chacha20poly1305_ietf_encrypt_detached`, no associated data).
    static func chachaSeal(
        _ plaintext: UnsafeRawBufferPointer, into ciphertext: UnsafeMutableRawPointer, tag: UnsafeMutableRawPointer,
        nonce: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer
    ) {
        precondition(nonce.count == chachaNonceLength && key.count == chachaKeyLength)
        var tagLength: UInt64 = 0
        // A zero-length message may have no address; libsodium reads none of it.
        let message = plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self)
        _ = crypto_aead_chacha20poly1305_ietf_encrypt_detached(
            ciphertext.assumingMemoryBound(to: UInt8.self), tag.assumingMemoryBound(to: UInt8.self), &tagLength,
            message, UInt64(plaintext.count), nil, 0, nil,
            nonce.baseAddress!.assumingMemoryBound(to: UInt8.self), key.baseAddress!.assumingMemoryBound(to: UInt8.self)
        )
    }

    /// Checks `tag` over `ciphertext` and only then decrypts it into
    /// `plaintext` (`crypto_aead_chacha20poly1305_ietf_decrypt_detached`).
    /// Returns false, having released nothing, when it does not authenticate.
    static func chachaOpen(
        _ ciphertext: UnsafeRawBufferPointer, tag: UnsafeRawPointer, into plaintext: UnsafeMutableRawPointer,
        nonce: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer
    ) -> Bool {
        precondition(nonce.count == chachaNonceLength && key.count == chachaKeyLength)
        // An empty chunk has no ciphertext; the tag's address stands in, unread.
        let c = ciphertext.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? tag.assumingMemoryBound(to: UInt8.self)
        return crypto_aead_chacha20poly1305_ietf_decrypt_detached(
            plaintext.assumingMemoryBound(to: UInt8.self), nil, c, UInt64(ciphertext.count),
            tag.assumingMemoryBound(to: UInt8.self), nil, 0,
            nonce.baseAddress!.assumingMemoryBound(to: UInt8.self), key.baseAddress!.assumingMemoryBound(to: UInt8.self)
        ) == 0
    }

    /// Seals a small secret (a file key) under a one-time key with the all-zero
    /// nonce, as age's stanzas do; returns ciphertext ‖ tag.
    static func chachaSealWithZeroNonce(_ plaintext: SecureBytes, key: SecureBytes) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + chachaTagLength)
        let nonce = [UInt8](repeating: 0, count: chachaNonceLength)
        let count = plaintext.count
        out.withUnsafeMutableBytes { o in
            plaintext.withUnsafeBytes { p in
                key.withUnsafeBytes { k in
                    nonce.withUnsafeBytes { n in
                        chachaSeal(p, into: o.baseAddress!, tag: o.baseAddress! + count, nonce: n, key: k)
                    }
                }
            }
        }
        return out
    }

    /// Opens ciphertext ‖ tag sealed with the all-zero nonce; nil when it does
    /// not authenticate under `key`.
    static func chachaOpenWithZeroNonce(_ sealed: [UInt8], key: SecureBytes) -> SecureBytes? {
        guard sealed.count >= chachaTagLength else { return nil }
        let count = sealed.count - chachaTagLength
        let out = SecureBytes(zeroedCount: count)
        let nonce = [UInt8](repeating: 0, count: chachaNonceLength)
        let ok = sealed.withUnsafeBytes { s in
            out.withUnsafeMutableBytes { o in
                key.withUnsafeBytes { k in
                    nonce.withUnsafeBytes { n in
                        chachaOpen(
                            UnsafeRawBufferPointer(rebasing: s[0..<count]), tag: s.baseAddress! + count,
                            into: o.baseAddress!, nonce: n, key: k)
                    }
                }
            }
        }
        return ok ? out : nil
    }

    // MARK: X25519

    /// X25519(`scalar`, `point`) (`crypto_scalarmult`). Nil when the result is
    /// the all-zero value, i.e. `point` is of low order: age forbids it.
    static func x25519(scalar: SecureBytes, point: [UInt8]) -> SecureBytes? {
        ensureInitialized()
        guard scalar.count == 32, point.count == 32 else { return nil }
        let shared = SecureBytes(zeroedCount: 32)
        let status = shared.withUnsafeMutableBytes { q in
            scalar.withUnsafeBytes { n in
                crypto_scalarmult(
                    q.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    n.baseAddress!.assumingMemoryBound(to: UInt8.self), point)
            }
        }
        let isZero = shared.withUnsafeBytes {
            sodium_is_zero($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 32) == 1
        }
        return status == 0 && !isZero ? shared : nil
    }

    // MARK: Ed25519 keys as X25519 keys (age's ssh-ed25519 recipients)

    /// The X25519 public key of an Ed25519 public key
    /// (`crypto_sign_ed25519_pk_to_curve25519`); nil when it is not a valid
    /// point or is of small order.
    static func x25519PublicKey(fromEd25519 publicKey: [UInt8]) -> [UInt8]? {
        ensureInitialized()
        guard publicKey.count == 32 else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        return crypto_sign_ed25519_pk_to_curve25519(&out, publicKey) == 0 ? out : nil
    }

    /// The X25519 scalar of an Ed25519 secret key (seed ‖ public key, 64
    /// bytes): the clamped first half of SHA-512 of the seed
    /// (`crypto_sign_ed25519_sk_to_curve25519`).
    static func x25519SecretKey(fromEd25519 secretKey: SecureBytes) -> SecureBytes {
        ensureInitialized()
        precondition(secretKey.count == 64)
        let out = SecureBytes(zeroedCount: 32)
        out.withUnsafeMutableBytes { o in
            secretKey.withUnsafeBytes { s in
                _ = crypto_sign_ed25519_sk_to_curve25519(
                    o.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    s.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return out
    }

    /// Wipes a buffer the caller owns (`sodium_memzero`).
    static func wipe(_ bytes: UnsafeMutableRawBufferPointer) {
        if let base = bytes.baseAddress, bytes.count > 0 { sodium_memzero(base, bytes.count) }
    }
}
