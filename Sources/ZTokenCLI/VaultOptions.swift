// Options shared by the commands that touch a vault, and the one place that
// turns them into an open `Vault`.
import ArgumentParser
import TokenVault

/// `--vault` and `--lock-timeout`, accepted before or after the subcommand.
struct VaultOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The vault directory.",
            discussion:
                "Default: $ZTOKEN_VAULT, else $XDG_DATA_HOME/ztoken, else ~/.local/share/ztoken.", valueName: "dir"))
    var vault: String?

    @Option(name: .long, help: ArgumentHelp("Seconds to wait for another ztoken's vault lock.", valueName: "seconds"))
    var lockTimeout: Seconds = Seconds(10)

    /// A number of seconds. Its own type so that its default is described
    /// by this code: ArgumentParser's generic `"\(value)"` for a Double goes
    /// through dynamic casts that scan every protocol conformance in the
    /// binary, at every start of every command (so do the defaults of
    /// `TokenKind` and `KDFLevel`, spelled out beside them).
    struct Seconds: ExpressibleByArgument {
        var value: Double
        init(_ value: Double) { self.value = value }
        init?(argument: String) {
            guard let value = Double(argument) else { return nil }
            self.value = value
        }
        var defaultValueDescription: String { value.description }
    }

    var location: String { VaultLocation.resolve(explicit: vault) }

    func validate() throws {
        guard lockTimeout.value >= 0, lockTimeout.value.isFinite else {
            throw ValidationError("--lock-timeout must be a number of seconds, 0 or more")
        }
    }

    /// Opens the vault, wired to tell the user when it waits for the lock.
    func open() throws -> Vault {
        let vault = try Vault(openingAt: location)
        configure(vault)
        return vault
    }

    /// Gives an opened vault the lock timeout and tells the user when it waits.
    func configure(_ vault: Vault) {
        vault.lockTimeout = lockTimeout.value
        vault.onLockWait = { holder in
            Output.note("waiting for the vault lock" + (holder.map { " (held by \($0))" } ?? "") + "…")
        }
    }
}

/// How the vault passphrase is given: on the terminal, or from a file.
struct VaultPassphraseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Read the vault passphrase from the first line of this file.", valueName: "file"))
    var vaultPassphraseFile: String?

    /// The passphrase from --vault-passphrase-file, $ZTOKEN_VAULT_PASSPHRASE_FILE, or the terminal.
    func read(new: Bool) throws -> SecureBytes {
        if let path = vaultPassphraseFile ?? VaultLocation.passphraseFileFromEnvironment {
            return try SecretInput.readFirstLine(ofFile: path)
        }
        try Output.requireTerminal(toAskFor: "vault passphrase", inScripts: "--vault-passphrase-file FILE")
        return new
            ? try SecretInput.askNewPassphrase(what: "vault")
            : try SecretInput.askOnTerminal(prompt: "vault passphrase: ")
    }
}
