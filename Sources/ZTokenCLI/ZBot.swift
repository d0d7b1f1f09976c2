// `ztoken zbot`: "download a pre-configured zBot" on the command line.
import ArgumentParser
import TokenVault

struct ZBot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zbot",
        _superCommandName: ZToken.name,
        abstract: "Create a token for a zBot and write its configuration bundle.",
        discussion: """
            Mints a 'zbot' token labelled NAME and writes zbot/conf/zbot.properties and manifest.json as \
            an age-encrypted tar (open it with: age -d -i key.txt bundle.age | tar -x), or unencrypted under \
            --plain-dir. Needs no vault passphrase. If the bundle cannot be written the token is discarded again.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Argument(help: "The zBot's name; also the token's label.")
    var name: String

    @OptionGroup var bundle: BundleOptions

    @OptionGroup var lifetime: LifetimeOptions

    @Flag(help: "Print the new token's metadata (never the token) and where its bundle went as JSON.")
    var json = false

    func validate() throws {
        try bundle.validateDestination()
        try JSONText.refuseWithStandardOutput(out: bundle.out, json: json, what: "bundle")
    }

    func run() throws {
        try bundle.refuseBinaryOnTerminal()
        let vault = try vaultOptions.open()
        let expiresAt = try lifetime.deadline()
        _ = try bundle.serverURL(in: vault)
        // The label is free before a bundle passphrase is asked (create checks it again under the lock).
        try vault.checkNewLabel(name)
        let template = try bundle.parsedTemplate()
        let destination = try bundle.destination()
        let info = try vault.createZBot(
            name: name, serverURL: bundle.server, template: template, destination: destination,
            note: lifetime.note, expiresAt: expiresAt)
        if json { print(JSONText.object(info, adding: bundle.jsonFields(destination))) }
        Output.note("created zBot token \(Output.safe(info.label)) (id \(info.id)); \(bundle.describe(destination))")
    }
}
