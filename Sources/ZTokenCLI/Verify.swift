// `ztoken verify`: is the token on standard input valid here?
import ArgumentParser
import TokenVault

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        _superCommandName: ZToken.name,
        abstract: "Check a token read from standard input.",
        discussion: """
            Exit 0 and print the token's id and label when it is active in this vault; exit 1 with the \
            reason (malformed, bad checksum, unknown, revoked, expired) otherwise. Needs no passphrase.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @Flag(help: "Print the answer as JSON.")
    var json = false

    func run() throws {
        let vault = try vaultOptions.open()
        let presented =
            Terminal.standardInputIsTerminal
            ? try SecretInput.askOnTerminal(prompt: "token to verify: ")
            : try SecretInput.readStandardInput(limit: 4096)
        let answer = try vault.verify(presented)
        let token: TokenInfo?
        switch answer {
        case .valid(let info), .revoked(let info), .expired(let info): token = info
        case .malformed, .unknown: token = nil
        }
        if json {
            print(
                JSONText.object([
                    ("id", token.map { JSONText.quote($0.id) }),
                    ("label", token.map { JSONText.quote($0.label) }),
                    ("reason", answer.reason.map(JSONText.quote)),
                    ("valid", answer.reason == nil ? "true" : "false"),
                ]))
        } else if case .valid(let info) = answer {
            print("\(info.id)\t\(Output.safe(info.label))")
        }
        if let reason = answer.reason {
            if !json { Output.warning("token not valid: \(reason)") }
            throw ExitCode(1)
        }
    }
}
