// Thin, named wrappers over the libsodium calls ztoken uses. Only files in
// Crypto/ call libsodium; everything above speaks in these terms. Each wrapper
// names the C function it calls; none returns an optional for a failure.
internal import CSodium

enum Sodium {
    /// Calls `sodium_init` once per process; safe to call from any thread.
    static func ensureInitialized() { _ = initialized }
    private static let initialized: Bool = {
        // sodium_init returns 0 on first success, 1 if already initialised.
        precondition(sodium_init() >= 0, "libsodium failed to initialise")
        return true
    }()

    /// Fills a new array with bytes from libsodium's CSPRNG (`randombytes_buf`).
    /// For non-secret randomness (salts, nonces, ids).
    static func randomBytes(_ count: Int) -> [UInt8] {
        ensureInitialized()
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return bytes
    }

    // MARK: BLAKE2b

    /// BLAKE2b-256 of `message`, keyed when `key` is given (`crypto_generichash`).
    static func blake2b256(_ message: UnsafeRawBufferPointer, key: [UInt8] = []) -> [UInt8] {
        ensureInitialized()
        var out = [UInt8](repeating: 0, count: 32)
        key.withUnsafeBufferPointer { k in
            _ = crypto_generichash(
                &out, 32,
                message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
                k.count == 0 ? nil : k.baseAddress, k.count)
        }
        return out
    }

    static func blake2b256(_ bytes: [UInt8], key: [UInt8] = []) -> [UInt8] {
        bytes.withUnsafeBytes { blake2b256($0, key: key) }
    }

    /// Streaming BLAKE2b-256 (`crypto_generichash_init/update/final`).
    /// The state is opaque and 64-byte aligned in C, so it lives in its own allocation.
    final class Blake2bHasher {
        private let state: UnsafeMutableRawPointer
        init() {
            Sodium.ensureInitialized()
            state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
            crypto_generichash_init(OpaquePointer(state), nil, 0, 32)
        }
        deinit { state.deallocate() }
        func update(_ bytes: UnsafeRawBufferPointer) {
            crypto_generichash_update(
                OpaquePointer(state), bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
        }
        func finalize() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 32)
            crypto_generichash_final(OpaquePointer(state), &out, 32)
            return out
        }
    }

    // MARK: Constant-time comparison

    /// Compares equal-length byte strings in constant time (`sodium_memcmp`).
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return sodium_memcmp(a, b, a.count) == 0
    }

    static func constantTimeEquals(_ a: UnsafeBufferPointer<UInt8>, _ b: [UInt8]) -> Bool {
        guard a.count == b.count, let base = a.baseAddress else { return a.count == b.count && b.isEmpty }
        return sodium_memcmp(base, b, a.count) == 0
    }

    // MARK: crypto_box (X25519) — the vault key

    static let publicKeyLength = Int(crypto_box_PUBLICKEYBYTES)
    static let secretKeyLength = Int(crypto_box_SECRETKEYBYTES)
    static let sealOverhead = Int(crypto_box_sealbytes())

    /// A new X25519 key pair (`crypto_box_keypair`).
    static func boxKeyPair() -> (publicKey: [UInt8], secretKey: SecureBytes) {
        ensureInitialized()
        var pk = [UInt8](repeating: 0, count: publicKeyLength)
        let sk = SecureBytes(zeroedCount: secretKeyLength)
        sk.withUnsafeMutableBytes { _ = crypto_box_keypair(&pk, $0.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        return (pk, sk)
    }

    /// The X25519 public key of a secret scalar (`crypto_scalarmult_base`).
    static func publicKey(of secretKey: SecureBytes) -> [UInt8] {
        ensureInitialized()
        var pk = [UInt8](repeating: 0, count: publicKeyLength)
        secretKey.withUnsafeBytes {
            _ = crypto_scalarmult_base(&pk, $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return pk
    }

    /// Whether `publicKey` is an X25519 public key anything can be sealed to:
    /// 32 bytes and not a point of low order (such as all zeros), with which
    /// every shared secret is all zeros, so a sealed box or an age file made
    /// for it is readable by anyone who knows the key, or by no one. Calls
    /// `crypto_scalarmult` with a fixed scalar: a clamped scalar is a
    /// multiple of 8 below 8ℓ, so the product is the all-zero value, which
    /// libsodium refuses, exactly for the low-order points.
    static func isUsableX25519PublicKey(_ publicKey: [UInt8]) -> Bool {
        publicKey.count == publicKeyLength && x25519(scalar: lowOrderProbe, point: publicKey) != nil
    }

    /// Any scalar does for `isUsableX25519PublicKey`; it is not a secret.
    private static let lowOrderProbe = SecureBytes(copying: [UInt8](repeating: 0x5A, count: 32))

    /// Seals `message` to `publicKey` anonymously (`crypto_box_seal`).
    /// Throws `.invalidArgument` when libsodium refuses, as it does for a key
    /// of the wrong length or a low-order point: its output is then no box.
    static func seal(_ message: SecureBytes, to publicKey: [UInt8]) throws -> [UInt8] {
        ensureInitialized()
        guard publicKey.count == publicKeyLength else {
            throw VaultError.invalidArgument("cannot seal to a public key of \(publicKey.count) bytes")
        }
        var out = [UInt8](repeating: 0, count: message.count + sealOverhead)
        let status = message.withUnsafeBytes { m in
            crypto_box_seal(&out, m.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(m.count), publicKey)
        }
        guard status == 0 else {
            throw VaultError.invalidArgument("cannot seal to this public key (a low-order point)")
        }
        return out
    }

    /// Opens a sealed box (`crypto_box_seal_open`); nil when it does not authenticate.
    static func openSealed(_ sealed: [UInt8], publicKey: [UInt8], secretKey: SecureBytes) -> SecureBytes? {
        guard sealed.count >= sealOverhead else { return nil }
        let out = SecureBytes(zeroedCount: sealed.count - sealOverhead)
        let status = out.withUnsafeMutableBytes { o in
            secretKey.withUnsafeBytes { sk in
                crypto_box_seal_open(
                    o.baseAddress!.assumingMemoryBound(to: UInt8.self), sealed, UInt64(sealed.count),
                    publicKey, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return status == 0 ? out : nil
    }

    // MARK: Argon2id and XChaCha20-Poly1305 — wrapping the vault key

    static let argon2idAlgorithm = Int32(crypto_pwhash_ALG_ARGON2ID13)
    static let pwhashSaltLength = Int(crypto_pwhash_SALTBYTES)

    /// Derives a 32-byte key from a passphrase with Argon2id (`crypto_pwhash`).
    /// Throws only when the machine cannot provide the memory asked for.
    static func argon2id(passphrase: SecureBytes, salt: [UInt8], opsLimit: UInt64, memLimit: Int) -> SecureBytes? {
        ensureInitialized()
        let key = SecureBytes(zeroedCount: 32)
        let status = key.withUnsafeMutableBytes { k in
            passphrase.withUnsafeBytes { p in
                crypto_pwhash(
                    k.baseAddress!.assumingMemoryBound(to: UInt8.self), 32,
                    p.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(p.count),
                    salt, opsLimit, memLimit, argon2idAlgorithm)
            }
        }
        return status == 0 ? key : nil
    }

    static let aeadNonceLength = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    static let aeadTagLength = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)

    /// XChaCha20-Poly1305 encryption (`crypto_aead_xchacha20poly1305_ietf_encrypt`).
    static func xchachaSeal(_ plaintext: SecureBytes, key: SecureBytes, nonce: [UInt8], additionalData: [UInt8])
        -> [UInt8]
    {
        var out = [UInt8](repeating: 0, count: plaintext.count + aeadTagLength)
        var outLength: UInt64 = 0
        plaintext.withUnsafeBytes { p in
            key.withUnsafeBytes { k in
                _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                    &out, &outLength, p.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(p.count),
                    additionalData, UInt64(additionalData.count), nil, nonce,
                    k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return out
    }

    /// XChaCha20-Poly1305 decryption; nil when the ciphertext does not authenticate.
    static func xchachaOpen(_ ciphertext: [UInt8], key: SecureBytes, nonce: [UInt8], additionalData: [UInt8])
        -> SecureBytes?
    {
        guard ciphertext.count >= aeadTagLength, nonce.count == aeadNonceLength else { return nil }
        let out = SecureBytes(zeroedCount: ciphertext.count - aeadTagLength)
        var outLength: UInt64 = 0
        let status = out.withUnsafeMutableBytes { o in
            key.withUnsafeBytes { k in
                crypto_aead_xchacha20poly1305_ietf_decrypt(
                    o.baseAddress!.assumingMemoryBound(to: UInt8.self), &outLength, nil,
                    ciphertext, UInt64(ciphertext.count), additionalData, UInt64(additionalData.count), nonce,
                    k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return status == 0 ? out : nil
    }
}
