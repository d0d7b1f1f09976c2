// Where the vault lives (docs/SPEC.md §2), and the environment variable that
// names a vault passphrase file: the two settings ztoken takes from the
// environment.
#if canImport(Glibc)
import Glibc
#endif

/// Where the vault lives: `--vault DIR`, else `$ZTOKEN_VAULT`, else
/// `$XDG_DATA_HOME/ztoken`, else `~/.local/share/ztoken`.
package enum VaultLocation {
    package static func resolve(explicit: String?) -> String {
        func environment(_ name: String) -> String? {
            guard let value = getenv(name) else { return nil }
            let text = String(cString: value)
            return text.isEmpty ? nil : text
        }
        if let explicit, !explicit.isEmpty { return explicit }
        if let path = environment("ZTOKEN_VAULT") { return path }
        if let data = environment("XDG_DATA_HOME") { return data + "/ztoken" }
        let home = environment("HOME") ?? (getpwuid(geteuid())?.pointee.pw_dir).map { String(cString: $0) } ?? "."
        return home + "/.local/share/ztoken"
    }

    /// The passphrase file named by `$ZTOKEN_VAULT_PASSPHRASE_FILE`, if any.
    package static var passphraseFileFromEnvironment: String? {
        guard let value = getenv("ZTOKEN_VAULT_PASSPHRASE_FILE") else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

extension Vault {
    /// The vault location `ztoken` uses when none is given: `$ZTOKEN_VAULT`,
    /// else `$XDG_DATA_HOME/ztoken`, else `~/.local/share/ztoken`.
    ///
    /// Read from the environment each time it is asked for. Open it with
    /// ``Vault/init(openingAt:)`` to work on the same vault as the command line.
    public static var defaultPath: String { VaultLocation.resolve(explicit: nil) }
}
