// `ztoken keygen`: an age identity for a zBot machine or a backup key.
import ArgumentParser
import TokenVault

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        _superCommandName: ZToken.name,
        abstract: "Make an age identity and print its recipient.",
        discussion:
            "Writes the identity (AGE-SECRET-KEY-1…) to --out FILE (0600, never overwritten) or standard output, and prints its age1… recipient.",
        version: ZToken.version)

    @Option(help: ArgumentHelp("Write the identity to this file instead of standard output.", valueName: "file"))
    var out: String?

    @OptionGroup var quietOption: QuietOption

    @Flag(help: "Print the recipient (the public key, never the identity) and the file as JSON; needs --out FILE.")
    var json = false

    func validate() throws {
        if json && (out == nil || out == "-") {
            throw ValidationError("--json prints the recipient only: write the identity with --out FILE")
        }
    }

    func run() throws {
        let identity = AgeX25519Identity.generate()
        let contents = AgeKeyFile.render(identity)
        if let out, out != "-" {
            try OutputFile.write(contents, to: out, overwrite: false)
            if json {
                print(
                    JSONText.object([
                        ("recipient", JSONText.quote(identity.recipient.encoded)), ("path", JSONText.quote(out)),
                    ]))
            } else {
                print(identity.recipient.encoded)
            }
            if Terminal.standardOutputIsTerminal { Output.note("identity written to \(out)") }
        } else {
            try Terminal.writeToStandardOutput([.secret(contents)])
            Output.note("public key: \(identity.recipient.encoded)")
        }
    }
}
