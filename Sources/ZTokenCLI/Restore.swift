// `ztoken restore`: checks a backup whole, then installs it atomically.
import ArgumentParser
import TokenVault

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        _superCommandName: ZToken.name,
        abstract: "Restore a vault from a backup.",
        discussion: """
            Decrypts and checks the whole backup before touching the vault location, then installs it in one \
            step into an absent or empty location, or with --force replaces the existing vault atomically. \
            A failed restore leaves the location exactly as it was.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The backup file, or - for standard input.", valueName: "file"))
    var input: String

    @Option(name: [.customShort("i"), .customLong("identity")],
            help: ArgumentHelp("Decrypt with this age identity file; repeatable.", valueName: "file"))
    var identities: [String] = []

    @Flag(name: [.customShort("p"), .customLong("passphrase")], help: "Decrypt with a passphrase asked on the terminal.")
    var passphrase = false

    @Option(help: ArgumentHelp("Decrypt with the passphrase on the first line of this file.", valueName: "file"))
    var passphraseFile: String?

    @Flag(help: "Replace an existing vault.")
    var force = false

    func validate() throws {
        let ways = (identities.isEmpty ? 0 : 1) + (passphrase ? 1 : 0) + (passphraseFile == nil ? 0 : 1)
        guard ways == 1 else { throw ValidationError("say how to decrypt the backup: -i FILE, -p or --passphrase-file FILE (one of them)") }
    }

    func run() throws {
        var keys: [AgeIdentity] = []
        if let passphraseFile {
            keys = [.passphrase(try SecretInput.readFirstLine(ofFile: passphraseFile))]
        } else if passphrase {
            keys = [.passphrase(try SecretInput.askOnTerminal(prompt: "backup passphrase: "))]
        } else {
            for path in identities {
                keys += try AgeKeyFile.parseIdentities(try SecretInput.readFile(path, isSecret: true), path: path).map(AgeIdentity.x25519)
            }
        }
        let summary = try Vault.restore(from: input, identities: keys, to: vaultOptions.location, force: force)
        Output.note("restored \(summary.activeTokens) active tokens into \(vaultOptions.location)")
    }
}
