// Options shared by the commands that touch a vault, and the one place that
// turns them into an open `Vault`.
import ArgumentParser
import TokenVault

/// `--vault` and `--lock-timeout`, accepted before or after the subcommand.
struct VaultOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The vault directory.", discussion:
        "Default: $ZTOKEN_VAULT, else $XDG_DATA_HOME/ztoken, else ~/.local/share/ztoken.", valueName: "dir"))
    var vault: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for another ztoken's vault lock.", valueName: "seconds"))
    var lockTimeout: Double = 10

    var location: String { VaultLocation.resolve(explicit: vault) }

    func validate() throws {
        guard lockTimeout >= 0, lockTimeout.isFinite else { throw ValidationError("--lock-timeout must be a number of seconds, 0 or more") }
    }

    /// Opens the vault, wired to tell the user when it waits for the lock.
    func open() throws -> Vault {
        let vault = try Vault(openingAt: location)
        vault.lockTimeout = lockTimeout
        vault.onLockWait = { holder in
            Output.note("waiting for the vault lock" + (holder.map { " (held by \($0))" } ?? "") + "…")
        }
        return vault
    }
}

/// How the vault passphrase is given: on the terminal, or from a file.
struct VaultPassphraseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Read the vault passphrase from the first line of this file.", valueName: "file"))
    var vaultPassphraseFile: String?

    /// The passphrase from --vault-passphrase-file, $ZTOKEN_VAULT_PASSPHRASE_FILE, or the terminal.
    func read(new: Bool) throws -> SecureBytes {
        if let path = vaultPassphraseFile ?? VaultLocation.passphraseFileFromEnvironment {
            return try SecretInput.readFirstLine(ofFile: path)
        }
        return new ? try SecretInput.askNewPassphrase(what: "vault") : try SecretInput.askOnTerminal(prompt: "vault passphrase: ")
    }
}
