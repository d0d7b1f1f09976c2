import TokenVault

// Dev tool, not shipped: runs TokenVault's age encryption and decryption on
// files so scripts/bench-age can time them against the real `age` binary
// until the ztoken CLI grows its own bundle/backup commands. Uses only the
// public TokenVault API.
//
//   ztoken-age-bench encrypt age1… IN OUT
//   ztoken-age-bench decrypt KEYFILE IN OUT
#if canImport(Glibc)
import Glibc
#endif

func openFile(_ path: String, _ flags: Int32) throws -> Int32 {
    let fd = open(path, flags | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw VaultError.io(path: path, operation: "open", errno: errno) }
    return fd
}

func main() throws {
    let arguments = CommandLine.arguments
    guard arguments.count == 5 else {
        throw VaultError.invalidArgument("usage: ztoken-age-bench encrypt age1… IN OUT | decrypt KEYFILE IN OUT")
    }
    let (mode, key, inputPath, outputPath) = (arguments[1], arguments[2], arguments[3], arguments[4])
    let input = try openFile(inputPath, O_RDONLY)
    let output = try openFile(outputPath, O_WRONLY | O_CREAT | O_TRUNC)
    defer {
        close(input)
        close(output)
    }
    switch mode {
    case "encrypt":
        let recipient = try AgeX25519Recipient(parsing: key)
        try Age.encrypt(
            from: input, inputPath: inputPath, to: output, outputPath: outputPath, recipients: [.x25519(recipient)])
    case "decrypt":
        let keyFD = try openFile(key, O_RDONLY)
        defer { close(keyFD) }
        let contents = SecureBytes(zeroedCount: 4096)
        let count = contents.withUnsafeMutableBytes { read(keyFD, $0.baseAddress!, $0.count) }
        guard count > 0 else { throw VaultError.io(path: key, operation: "read", errno: errno) }
        let identities = try AgeKeyFile.parseIdentities(contents.slice(0..<count), path: key)
        try Age.decrypt(
            from: input, inputPath: inputPath, to: output, outputPath: outputPath,
            identities: identities.map { .x25519($0) })
    default:
        throw VaultError.invalidArgument("unknown mode \(mode)")
    }
}

do {
    try main()
} catch let error as VaultError {
    let line = Array("ztoken-age-bench: error: \(error.message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(error.exitCode)
}
