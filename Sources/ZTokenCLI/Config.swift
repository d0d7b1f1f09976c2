// `ztoken config`: the vault's settings, git-style. One key so far,
// server-url, the default server URL of zBot bundles, kept in vault.json.
import ArgumentParser
import TokenVault

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        _superCommandName: ZToken.name,
        abstract: "Show or change the vault's settings.",
        discussion: """
            With no KEY, lists the settings that are set, as KEY=VALUE lines. With KEY, prints its value \
            (exit 1 if it is not set). With KEY and VALUE, sets it. Keys: server-url, the default server \
            URL for zbot and export (http:// or https:// with a host).
            """,
        version: ZToken.version)

    static let keys = ["server-url"]

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: ArgumentHelp("The setting: server-url.", valueName: "key"))
    var key: String?

    @Argument(help: ArgumentHelp("The new value.", valueName: "value"))
    var value: String?

    func validate() throws {
        if let key, !Self.keys.contains(key) {
            throw ValidationError(
                "unknown setting \(VaultError.quotedLabel(key)); settings: \(Self.keys.joined(separator: ", "))")
        }
    }

    func run() throws {
        let vault = try vaultOptions.open()
        guard key != nil else {
            if let url = vault.defaultServerURL { print("server-url=\(Output.safe(url))") }
            return
        }
        if let value {
            try vault.setDefaultServerURL(value)
            Output.note("server-url set to \(Output.safe(try ServerURL.validate(value)))")
            return
        }
        guard let url = vault.defaultServerURL else {
            Output.warning("server-url is not set")
            Output.hint("set it with 'ztoken config server-url URL'")
            throw ExitCode(1)
        }
        print(Output.safe(url))
    }
}
