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

    @OptionGroup var reference: TokenArgument
    var token: String { reference.token }

    @Option(
        name: [.customShort("i"), .customLong("identity")],
        help: ArgumentHelp("The vault's offline key file (age identity); repeatable.", valueName: "file"))
    var identities: [String] = []

    @OptionGroup var bundle: BundleOptions

    @Flag(help: "Print the token's metadata (never the token) and where its bundle went as JSON.")
    var json = false

    func validate() throws {
        try bundle.validateDestination()
        try JSONText.refuseWithStandardOutput(out: bundle.out, json: json, what: "bundle")
    }

    func run() throws {
        try bundle.refuseBinaryOnTerminal()
        let vault = try vaultOptions.open()
        // Everything that needs no passphrase is checked before one is asked
        // (and before Argon2id runs): the template, the token (a revoked or
        // expired one is refused), its server URL, the output, the recipients.
        let template = try bundle.parsedTemplate()
        let info = try vault.activeToken(token)
        _ = try bundle.serverURL(in: vault, fallback: info.serverURL)
        let output = try bundle.openOutput()
        try bundle.encryption.checkRecipients()
        let key: VaultKey
        if vault.isOfflineKey {
            guard !identities.isEmpty else {
                throw VaultError.invalidArgument(
                    "this vault keeps its secret key offline", hint: "pass the key file given at init with -i FILE")
            }
            key = try vault.unlock(identityFiles: identities)
        } else {
            guard identities.isEmpty else { throw ValidationError("-i/--identity is only for offline-key vaults") }
            key = try passphrase.unlock(vault).key
        }
        let destination = try bundle.destination(output: output)
        let exported = try vault.exportZBot(
            reference: token, key: key, serverURL: bundle.server, template: template, destination: destination)
        if json { print(JSONText.object(exported, adding: bundle.jsonFields(destination))) }
        Output.note("exported \(Output.safe(exported.label)) (id \(exported.id)); \(bundle.describe(destination))")
    }
}
