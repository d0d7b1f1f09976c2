// The one test-only switch that turns the Argon2id cost down to libsodium's
// minimum. Debug builds of ztoken honour it; release builds do not contain it.
#if canImport(Glibc)
import Glibc
#endif

public enum MinimalKDF {
    /// The environment variable the debug build reads.
    public static let environmentName = "ZTOKEN_TESTONLY_MINIMAL_KDF"

    /// Sets the switch for this process (for vaults opened in process). It
    /// must be set before TokenVault first reads it: the value is read once.
    public static func enable() {
        setenv(environmentName, "1", 1)
    }
}
