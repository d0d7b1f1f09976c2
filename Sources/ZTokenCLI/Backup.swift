// `ztoken backup`: the whole vault as one age file.
import ArgumentParser
import TokenVault

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        _superCommandName: ZToken.name,
        abstract: "Write the whole vault as one encrypted age file.",
        discussion: """
            Takes the vault lock for a consistent snapshot and needs no vault passphrase. The file opens \
            with the stock age tool; restore it with 'ztoken restore'. Nothing is written if it fails.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions
    @OptionGroup var encryption: EncryptionOptions

    @Option(help: ArgumentHelp("Write the backup to this file, or - for standard output.", valueName: "file"))
    var out: String

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Flag(help: "Print what was backed up, and where, as JSON.")
    var json = false

    func validate() throws {
        guard encryption.isGiven else {
            throw ValidationError("say how to encrypt the backup (-r, -R, -p or --passphrase-file)")
        }
        try JSONText.refuseWithStandardOutput(out: out, json: json, what: "backup")
    }

    func run() throws {
        try encryption.refuseBinaryOnTerminal(out: out, what: "backup")
        let vault = try vaultOptions.open()
        // An existing output is refused before a passphrase is asked.
        let output = try OutputFile(path: out, overwrite: force)
        let recipients = try encryption.ageRecipients()
        let summary = try vault.backup(to: output, recipients: recipients, armored: encryption.armor)
        if json {
            print(
                JSONText.object([
                    ("activeTokens", JSONText.number(summary.activeTokens)),
                    ("files", JSONText.number(summary.files)), ("path", JSONText.quote(out)),
                ]))
        }
        Output.note(
            "backed up \(Output.count(summary.activeTokens, "active token")) (\(Output.count(summary.files, "file"))) to \(output.isStandardOutput ? "standard output" : out)"
        )
    }
}
