// `ztoken restore`: checks a backup whole, shows what replacing the vault
// changes, asks, then installs it atomically and keeps the replaced vault aside.
import ArgumentParser
import TokenVault

struct Restore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        _superCommandName: ZToken.name,
        abstract: "Restore a vault from a backup.",
        discussion: """
            Decrypts and checks the whole backup, and asks for the vault passphrase (or --vault-identity FILE \
            for an offline-key vault): the current vault's when it replaces one, else the backup's own. Into an \
            absent or empty location it installs the vault in one step. Over an existing vault (--force) the \
            backup must be of the same vault (else --replace-different-vault); restore lists the tokens that \
            would be lost or gained and the revocations it carries over, asks (off a terminal: --yes), swaps \
            the vaults atomically and keeps the replaced one aside, next to it. The current passphrase stays. \
            A failed restore leaves the location exactly as it was, unless its error says that the vault was \
            restored all the same.
            """,
        version: ZToken.version)

    @OptionGroup var vaultOptions: VaultOptions
    @OptionGroup var vaultPassphrase: VaultPassphraseOptions

    @Argument(help: ArgumentHelp("The backup file, or - for standard input.", valueName: "file"))
    var input: String

    @Option(
        name: [.customShort("i"), .customLong("identity")],
        help: ArgumentHelp(
            "Decrypt with this age identity file, or an ed25519 SSH key without a passphrase; repeatable.",
            valueName: "file"))
    var identities: [String] = []

    @Flag(
        name: [.customShort("p"), .customLong("passphrase")], help: "Decrypt with a passphrase asked on the terminal.")
    var passphrase = false

    @Option(help: ArgumentHelp("Decrypt with the passphrase on the first line of this file.", valueName: "file"))
    var passphraseFile: String?

    @Option(
        name: .customLong("vault-identity"),
        help: ArgumentHelp("The offline key file of the vault (age identity); repeatable.", valueName: "file"))
    var vaultIdentities: [String] = []

    @Flag(help: "Replace an existing vault (it is kept aside, not deleted).")
    var force = false

    @Flag(help: "Replace a vault that is not the backup's, or whose identity cannot be checked.")
    var replaceDifferentVault = false

    @Flag(help: "Show what the restore would change, and change nothing.")
    var dryRun = false

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    @Flag(help: "Print what the restore changed (or, with --dry-run, would change) as JSON.")
    var json = false

    func validate() throws {
        let ways = (identities.isEmpty ? 0 : 1) + (passphrase ? 1 : 0) + (passphraseFile == nil ? 0 : 1)
        guard ways == 1 else {
            throw ValidationError("say how to decrypt the backup: -i FILE, -p or --passphrase-file FILE (one of them)")
        }
        if replaceDifferentVault && !force {
            throw ValidationError("--replace-different-vault replaces a vault: pass --force too")
        }
    }

    func run() throws {
        let location = vaultOptions.location
        var options = RestoreOptions(
            replaceExisting: force || dryRun, replaceDifferentVault: replaceDifferentVault,
            lockTimeout: vaultOptions.lockTimeout.value)
        options.onSlowKeyDerivation = Output.slowUnlock
        // On a terminal a wrong vault passphrase is asked again (three tries).
        if vaultPassphrase.file == nil { options.passphraseAttempts = VaultPassphraseOptions.attempts }
        var asks = 0
        // The backup's key is asked for once the location and the backup
        // file were checked, so a missing file never costs a passphrase.
        let plan = try Vault.prepareRestore(
            from: input, to: location, options: options, identities: backupIdentities,
            credentials: { offline in
                asks += 1
                if asks > 1 { Output.warning("wrong passphrase; try again") }
                return try credential(offline: offline)
            })
        describe(plan)
        if dryRun {
            if json { print(object(plan, keptAside: nil)) }
            plan.discard()
            Output.note("dry run: nothing was changed")
            return
        }
        if plan.replacesVault && !yes {
            guard Terminal.standardInputIsTerminal else {
                plan.discard()
                throw VaultError.invalidArgument(
                    "refusing to replace the vault at \(Output.safe(location)) without confirmation off a terminal",
                    hint: "check the differences above, then pass --yes to restore from a script")
            }
            guard try Terminal.confirm("replace the vault at \(Output.safe(location))?") else {
                plan.discard()
                Output.note("nothing restored")
                throw ExitCode(1)
            }
        }
        let keptAside = try plan.install()
        if json { print(object(plan, keptAside: keptAside)) }
        Output.note("restored \(Output.count(plan.activeTokens, "active token")) into \(Output.safe(location))")
        if let keptAside {
            Output.note(
                "the replaced vault is kept aside at \(Output.safe(keptAside)); remove it once you no longer need it")
        }
    }

    /// The restore as JSON: the counts and tokens `describe` names, the
    /// vault's location, whether it was restored, and where the replaced
    /// vault was kept aside.
    private func object(_ plan: RestorePlan, keptAside: String?) -> String {
        func list(_ tokens: [RestoredToken]) -> String {
            JSONText.array(tokens.map { JSONText.named(id: $0.id, label: $0.label) })
        }
        return JSONText.object([
            ("vault", JSONText.quote(vaultOptions.location)), ("vaultId", JSONText.quote(plan.vaultID)),
            ("restored", JSONText.bool(!dryRun)), ("activeTokens", JSONText.number(plan.activeTokens)),
            ("files", JSONText.number(plan.files)), ("replacesVault", JSONText.bool(plan.replacesVault)),
            ("differentVault", JSONText.bool(plan.isDifferentVault)), ("lost", list(plan.lost)),
            ("gained", list(plan.gained)), ("carriedRevocations", JSONText.number(plan.carriedRevocations)),
            ("carriedExpiries", JSONText.number(plan.carriedExpiries)), ("keptAside", keptAside.map(JSONText.quote)),
        ])
    }

    /// What decrypts the backup: its passphrase (from a file or the
    /// terminal) or the identities in the -i files.
    private func backupIdentities() throws -> [AgeIdentity] {
        if let passphraseFile { return [.passphrase(try SecretInput.readFirstLine(ofFile: passphraseFile))] }
        if passphrase {
            try Output.requireTerminal(toAskFor: "backup passphrase", inScripts: "--passphrase-file FILE")
            return [.passphrase(try SecretInput.askOnTerminal(prompt: "backup passphrase: "))]
        }
        var keys: [AgeIdentity] = []
        for path in identities {
            keys += try AgeKeyFile.parseIdentityFile(try SecretInput.readFile(path, isSecret: true), path: path)
        }
        return keys
    }

    /// The passphrase or key files of the vault that proves the user's
    /// ownership; asked again (`passphraseAttempts`) after a wrong one.
    private func credential(offline: Bool) throws -> VaultCredential {
        if offline {
            guard !vaultIdentities.isEmpty else {
                throw VaultError.invalidArgument(
                    "this vault keeps its secret key offline",
                    hint: "pass the key file given at init with --vault-identity FILE")
            }
            return .identityFiles(vaultIdentities)
        }
        guard vaultIdentities.isEmpty else {
            throw VaultError.invalidArgument(
                "--vault-identity is only for offline-key vaults",
                hint: "give the vault passphrase (--vault-passphrase-file FILE, or on the terminal)")
        }
        return .passphrase(try vaultPassphrase.read(new: false))
    }

    /// The differences, on standard error, before anything changes: what
    /// the question asks about, so `--quiet` never silences them.
    private func describe(_ plan: RestorePlan) {
        for note in plan.notes { Output.warning(note) }
        guard plan.replacesVault else { return }
        if plan.isDifferentVault {
            Output.warning(
                "the backup is of another vault or key pair (id \(VaultError.quotedLabel(plan.vaultID))); this one is replaced"
            )
        }
        func list(_ tokens: [RestoredToken]) -> String { Output.named(tokens.map { ($0.label, $0.id) }) }
        if plan.lost.isEmpty {
            Output.warning("no active token would be lost")
        } else {
            Output.warning(
                "\(Output.count(plan.lost.count, "active token")) the backup lacks would be lost "
                    + "(kept only in the replaced vault): "
                    + list(plan.lost))
        }
        if !plan.gained.isEmpty {
            Output.warning(
                "\(Output.count(plan.gained.count, "token")) the backup has that this vault never had: "
                    + list(plan.gained))
        }
        Output.warning(
            "carries \(Output.count(plan.carriedRevocations, "revocation")) of this vault into the restored one")
        if plan.carriedExpiries > 0 {
            Output.warning(
                "keeps the earlier expiry of \(Output.count(plan.carriedExpiries, "token")), as this vault has them")
        }
    }
}
