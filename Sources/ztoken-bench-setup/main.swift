@_spi(Bench) import TokenVault

// Dev-only: fills an existing vault with N minted tokens quickly, for
// scripts/bench. Uses TokenVault's bulk path (one lock and one index write
// per batch) instead of N `ztoken create` processes. Writes the plaintext of
// the first token it made to --token-out (0600) so the benchmark can
// `verify` it; the vault itself never reveals a stored token.
//
//   ztoken-bench-setup --vault DIR --count N --token-out FILE [--prefix bench-]
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = Array("ztoken-bench-setup: error: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(64)
}

var vaultPath: String?
var count = 0
var tokenOut: String?
var prefix = "bench-"
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    guard let value = arguments.popFirst() else { fail("\(flag) needs a value") }
    switch flag {
    case "--vault": vaultPath = value
    case "--count": count = Int(value) ?? -1
    case "--token-out": tokenOut = value
    case "--prefix": prefix = value
    default: fail("unknown option \(flag)")
    }
}
guard let vaultPath, count > 0 else {
    fail("usage: ztoken-bench-setup --vault DIR --count N [--token-out FILE] [--prefix P]")
}

do {
    let vault = try Vault(openingAt: vaultPath)
    let batch = 5_000
    var made = 0
    var first: SecureBytes?
    let width = String(count).count
    while made < count {
        let labels = (made..<min(made + batch, count)).map { n -> String in
            let digits = String(n + 1)
            return prefix + String(repeating: "0", count: width - digits.count) + digits
        }
        let created = try vault.createMany(labels: labels)
        if first == nil { first = created.first?.token }
        made += labels.count
    }
    if let tokenOut, let first {
        let fd = open(tokenOut, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { fail("cannot write \(tokenOut)") }
        first.withUnsafeBytes { _ = write(fd, $0.baseAddress, $0.count) }
        _ = write(fd, "\n", 1)
        close(fd)
    }
} catch let error as VaultError {
    fail(error.message)
} catch {
    fail("\(error)")
}
