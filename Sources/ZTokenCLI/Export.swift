// `ztoken export`: writes an existing token's zBot bundle again.
import ArgumentParser
import TokenVault

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        _superCommandName: ZToken.name,
        abstract: "Write the zBot bundle of an existing active token again.",
        discussion: """
            Opens the token's sealed record, so it needs the vault passphrase (asked on the terminal, or \
            --vault-passphrase-file), or -i/--identity FILE for an offline-key vault. Revoked and expired tokens cannot be exported.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions
    @OptionGroup var passphrase: VaultPassphraseOptions

    @Argument(help: ArgumentHelp("The token's label or id.", valueName: "label-or-id"))
    var token: String

    @Option(
        name: [.customShort("i"), .customLong("identity")],
        help: ArgumentHelp("The vault's offline key file (age identity); repeatable.", valueName: "file"))
    var identities: [String] = []

    @OptionGroup var bundle: BundleOptions

    func validate() throws { try bundle.validateDestination() }

    func run() throws {
        try bundle.refuseBinaryOnTerminal()
        let vault = try vaultOptions.open()
        let template = try bundle.parsedTemplate()
        // A revoked or expired token is refused before the passphrase is asked.
        _ = try vault.activeToken(token)
        let key: VaultKey
        if vault.isOfflineKey {
            guard !identities.isEmpty else {
                throw VaultError.invalidArgument(
                    "this vault keeps its secret key offline", hint: "pass the key file given at init with -i FILE")
            }
            key = try vault.unlock(identityFiles: identities)
        } else {
            guard identities.isEmpty else { throw ValidationError("-i/--identity is only for offline-key vaults") }
            key = try vault.unlock(passphrase: try passphrase.read(new: false))
        }
        let destination = try bundle.destination()
        let info = try vault.exportZBot(
            reference: token, key: key, serverURL: bundle.server, template: template, destination: destination)
        Output.note("exported \(Output.safe(info.label)) (id \(info.id)); \(bundle.describe(destination))")
    }
}
