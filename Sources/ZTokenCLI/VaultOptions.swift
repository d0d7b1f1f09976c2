// Options shared by the commands that touch a vault, and the one place that
// turns them into an open `Vault`.
import ArgumentParser
import TokenVault

/// `--vault`, `--lock-timeout` and `--quiet`, accepted before or after the subcommand.
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

    @OptionGroup var quietOption: QuietOption

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

    /// Gives an opened vault the lock timeout and tells the user when it
    /// waits: for the lock, or for a slow key derivation.
    func configure(_ vault: Vault) {
        vault.lockTimeout = lockTimeout.value
        vault.onLockWait = { holder in
            Output.note("waiting for the vault lock" + (holder.map { " (held by \($0))" } ?? "") + "…")
        }
        vault.onSlowKeyDerivation = Output.slowUnlock
    }
}

/// How the vault passphrase is given: on the terminal, or from a file.
struct VaultPassphraseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Read the vault passphrase from the first line of this file.", valueName: "file"))
    var vaultPassphraseFile: String?

    /// How many times a person at a terminal may type a wrong passphrase.
    static let attempts = 3

    /// The file that holds the passphrase, if one is given.
    var file: String? { vaultPassphraseFile ?? VaultLocation.passphraseFileFromEnvironment }

    /// Unlocks `vault`. The passphrase from a file is tried once; on a
    /// terminal a wrong one is asked again, three tries in all, as sudo and
    /// ssh do. Returns the key and the passphrase that opened it.
    func unlock(_ vault: Vault) throws -> (key: VaultKey, passphrase: SecureBytes) {
        if file != nil {
            let passphrase = try read(new: false)
            return (try vault.unlock(passphrase: passphrase), passphrase)
        }
        return try Self.retryingWrongPassphrases {
            let passphrase = try read(new: false)
            return (try vault.unlock(passphrase: passphrase), passphrase)
        }
    }

    /// Runs `attempt` again while it fails with a wrong passphrase, up to
    /// `attempts` times in all, saying so before each new try.
    static func retryingWrongPassphrases<T>(_ attempt: () throws -> T) throws -> T {
        var tries = 0
        while true {
            tries += 1
            do {
                return try attempt()
            } catch VaultError.wrongPassphrase(_) where tries < attempts {
                Output.warning("wrong passphrase; try again")
            }
        }
    }

    /// The passphrase from --vault-passphrase-file, $ZTOKEN_VAULT_PASSPHRASE_FILE, or the terminal.
    func read(new: Bool) throws -> SecureBytes {
        if let path = file {
            return try SecretInput.readFirstLine(ofFile: path)
        }
        try Output.requireTerminal(toAskFor: "vault passphrase", inScripts: "--vault-passphrase-file FILE")
        return new
            ? try SecretInput.askNewPassphrase(what: "vault")
            : try SecretInput.askOnTerminal(prompt: "vault passphrase: ")
    }
}
