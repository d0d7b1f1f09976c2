// `ztoken passwd`: a new vault passphrase, optionally a new Argon2id cost and
// a new key pair. The old passphrase is asked once, the new one twice (or
// both read from files in scripts); nothing changes unless the old one is right.
import ArgumentParser
import TokenVault

struct Passwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        _superCommandName: ZToken.name,
        abstract: "Change the vault passphrase, and optionally its cost or key pair.",
        discussion: """
            Asks for the current vault passphrase once and the new one twice on the terminal (in scripts: \
            --vault-passphrase-file OLD and --new-passphrase-file NEW), then replaces the wrapped key in one \
            atomic step: a crash leaves the old or the new passphrase working. --kdf sets the Argon2id cost \
            (default: keep the current one). --rekey also makes a new key pair and seals every token to it, \
            for a wrapped key that may have leaked. Backups made before still open with the old passphrase.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions
    @OptionGroup var passphrase: VaultPassphraseOptions

    @Option(help: ArgumentHelp("Read the new vault passphrase from the first line of this file.", valueName: "file"))
    var newPassphraseFile: String?

    @Option(
        help: ArgumentHelp(
            "Cost of the passphrase key derivation (Argon2id); default: the current one.", valueName: "level"))
    var kdf: KDFLevel?

    @Flag(help: "Also make a new key pair and seal every token to it.")
    var rekey = false

    func run() throws {
        let vault = try vaultOptions.open()
        guard !vault.isOfflineKey else {
            throw VaultError.invalidArgument(
                "this vault keeps its secret key offline, so it has no passphrase to change")
        }
        // On a terminal the current passphrase is checked (three tries)
        // before the new one is asked; from a file, by the change itself.
        let old = try passphrase.file == nil ? passphrase.unlock(vault).passphrase : passphrase.read(new: false)
        let new: SecureBytes
        if let newPassphraseFile {
            new = try SecretInput.readFirstLine(ofFile: newPassphraseFile)
        } else {
            try Output.requireTerminal(toAskFor: "new vault passphrase", inScripts: "--new-passphrase-file FILE")
            new = try SecretInput.askNewPassphrase(what: "vault")
        }
        if Terminal.standardErrorIsTerminal && rekey { Output.note("sealing every token to a new key pair…") }
        let change = try vault.changePassphrase(from: old, to: new, kdf: kdf, rekey: rekey)
        if let unfinished = change.unfinishedUpgrade {
            Output.error(unfinished.message)
            Output.warning(
                "the new passphrase is in effect; vault.json keeps the old layout until the next passwd")
            throw ExitCode(unfinished.exitCode)
        }
        Output.note(
            change.rekeyed
                ? "changed the vault passphrase and key pair; sealed \(Output.count(change.resealedRecords, "token")) to the new key"
                : "changed the vault passphrase")
        Output.warning(
            change.rekeyed
                ? "backups made before still open with the old passphrase and hold the old key; make a new backup"
                : "backups made before still open with the old passphrase; make a new backup")
    }
}
