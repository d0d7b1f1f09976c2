// `ztoken rotate`: a new token under the same label; the old one is revoked
// in the same atomic rewrite. The new token is shown once, as `create` shows
// a token (an api token) or written into a new bundle (a zBot token).
import ArgumentParser
import TokenVault

struct Rotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        _superCommandName: ZToken.name,
        abstract: "Replace a token with a new one under the same label, and revoke the old one.",
        discussion: """
            Mints a replacement with the same label, kind and zBot settings and revokes the old token in \
            one atomic rewrite of the index. An api token's replacement is printed once, as create prints \
            a token. A zBot token's is written into a new bundle: give the bundle options of 'zbot' \
            (-r/-R/-p/--passphrase-file with --out, or --plain-dir), all checked before anything changes. \
            Needs no vault passphrase. If ztoken stops before the new token is shown, it stays active and \
            marked as never displayed: rotate it again.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions

    @OptionGroup var reference: TokenArgument
    var token: String { reference.token }

    @OptionGroup var bundle: BundleOptions

    @Option(
        help: ArgumentHelp(
            "When the new token expires: a duration (30s, 15m, 12h, 90d, 2w) or an RFC 3339 date or time.",
            discussion: "Default: the old token's lifetime, counted from now; never if it had none.",
            valueName: "when"))
    var expires: String?

    func run() throws {
        let vault = try vaultOptions.open()
        let expiresAt = try expires.map { try Expiry.deadline($0) }
        guard let old = try vault.resolve([token]).first, old.state == .active || old.state == .expired else {
            throw VaultError.noSuchToken(token)
        }
        let rotated: RotatedToken
        var written = ""
        switch old.kind {
        case .api:
            guard !bundle.isGiven else {
                throw ValidationError(
                    "\(VaultError.quotedLabel(old.label)) is an api token: bundle options are for zBot tokens")
            }
            rotated = try vault.rotate(reference: old.id, expiresAt: expiresAt)
            do {
                try Terminal.writeToStandardOutput([.secret(rotated.created.token), .text("\n")])
            } catch {
                notShown(rotated)
                throw error
            }
        case .zbot:
            // Everything the bundle needs is checked before anything is minted.
            try bundle.validateDestination()
            try bundle.refuseBinaryOnTerminal()
            let url = try bundle.serverURL(in: vault, fallback: old.serverURL)
            let template = try bundle.parsedTemplate()
            let destination = try bundle.destination()
            try destination.checkWritable()
            // Written under the lock of the rotation: no revoke comes between.
            rotated = try vault.rotate(reference: old.id, serverURL: url, expiresAt: expiresAt) { new in
                do {
                    try vault.writeBundle(of: new.created, serverURL: url, template: template, to: destination)
                } catch {
                    notShown(new)
                    throw error
                }
            }
            written = "; " + bundle.describe(destination)
        }
        // The token is out: a failure to record that is worth a warning, not
        // a failed command that a script would take for "not rotated".
        do {
            try vault.markDisplayed(rotated.created)
        } catch let failure as VaultError {
            Output.warning("warning: could not record that the new token was shown: \(failure.message)")
        }
        let info = rotated.created.info
        let copyNow = info.kind == .api && Terminal.standardOutputIsTerminal
        Output.note(
            "rotated \(Output.safe(info.label)): revoked id \(rotated.replaced.id), new id \(info.id)\(written)"
                + (copyNow ? "; copy the token now: it will not be shown again" : ""))
    }

    private func notShown(_ rotated: RotatedToken) {
        Output.warning(
            "\(Output.safe(rotated.created.info.label)) was rotated (new id \(rotated.created.info.id)) "
                + "but the new token could not be shown")
        Output.hint("rotate it again to get a new token")
    }
}
