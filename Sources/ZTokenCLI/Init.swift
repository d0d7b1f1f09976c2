// `ztoken init`: makes the vault and its key pair.
import ArgumentParser
import TokenVault

// Values and defaults spelled out (see `VaultOptions.Seconds` for why).
extension KDFLevel: ExpressibleByArgument {
    public var defaultValueDescription: String { rawValue }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        _superCommandName: ZToken.name,
        abstract: "Make a new vault and its key.",
        discussion: """
            Asks for a new vault passphrase twice on the terminal (or reads --vault-passphrase-file). \
            The passphrase protects the vault's secret key, which only 'export' needs. With --offline-key \
            the secret key is written to FILE as an age identity and none is kept in the vault.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions
    @OptionGroup var passphrase: VaultPassphraseOptions

    @Option(help: ArgumentHelp("Your user name, recorded in the vault.", valueName: "name"))
    var user: String?

    @Option(help: ArgumentHelp("Default server URL for zBot configurations.", valueName: "url"))
    var server: String?

    @Option(help: ArgumentHelp("Cost of the passphrase key derivation (Argon2id).", valueName: "level"))
    var kdf: KDFLevel = .moderate

    @Option(
        help: ArgumentHelp(
            "Write the vault secret key to this file (age identity) and keep none in the vault.", valueName: "file"))
    var offlineKey: String?

    @Flag(help: "Make the vault a git repository, to share it between machines with 'ztoken sync'.")
    var git = false

    func validate() throws {
        if let server { _ = try ServerURL.validate(server) }
        if offlineKey != nil && passphrase.vaultPassphraseFile != nil {
            throw ValidationError(
                "--offline-key and --vault-passphrase-file cannot be combined: an offline-key vault has no passphrase")
        }
    }

    func run() throws {
        let protection: VaultSetup.KeyProtection
        if let offlineKey {
            protection = .offline(identityPath: offlineKey)
        } else {
            protection = .passphrase(try passphrase.read(new: true))
        }
        let setup = VaultSetup(
            user: user ?? Terminal.userName, serverURL: try server.map(ServerURL.validate),
            kdf: kdf, keyProtection: protection)
        let vault = try Vault.initialize(at: vaultOptions.location, setup: setup)
        Output.note("made a vault at \(vault.path)")
        if git {
            try vault.initializeRepository()
            Output.note(
                "it is a git repository: add a remote with 'ztoken git remote add origin URL', then 'ztoken sync'")
        }
        if let offlineKey {
            Output.warning("its secret key is in \(offlineKey); keep that file off this machine")
        }
    }
}
