// How an export or backup is encrypted, named as age names it: -r, -R, -p,
// or --passphrase-file for scripts, and -a/--armor for text output. One place
// turns them into age recipients, and one refuses binary output on a terminal.
import ArgumentParser
import TokenVault

struct EncryptionOptions: ParsableArguments {
    @Option(
        name: [.customShort("r"), .customLong("recipient")],
        help: ArgumentHelp(
            "Encrypt to this age recipient (age1…) or SSH key (\"ssh-ed25519 …\"); repeatable.",
            valueName: "recipient"))
    var recipients: [String] = []

    @Option(
        name: [.customShort("R"), .customLong("recipients-file")],
        help: ArgumentHelp(
            "Encrypt to the recipients listed in this file (age1… or ssh-ed25519 lines, so also a .pub file); "
                + "repeatable.", valueName: "file"))
    var recipientsFiles: [String] = []

    @Flag(
        name: [.customShort("p"), .customLong("passphrase")],
        help: "Encrypt with a passphrase asked twice on the terminal.")
    var passphrase = false

    @Option(help: ArgumentHelp("Encrypt with the passphrase on the first line of this file.", valueName: "file"))
    var passphraseFile: String?

    @Flag(
        name: [.customShort("a"), .customLong("armor")],
        help: "Write age's ASCII armor (text that age -d reads) instead of binary.")
    var armor = false

    /// True when the command line says how to encrypt (`--armor` alone does not).
    var isGiven: Bool { !recipients.isEmpty || !recipientsFiles.isEmpty || passphrase || passphraseFile != nil }

    /// Refuses to write binary age output to a terminal, as age does: with
    /// standard output on a terminal, `--out -` needs `--armor`. Checked
    /// before anything costly runs.
    func refuseBinaryOnTerminal(out: String?, what: String) throws {
        guard out == "-", !armor, Terminal.standardOutputIsTerminal else { return }
        throw VaultError.invalidArgument(
            "refusing to write the encrypted \(what) to a terminal",
            hint: "add -a/--armor to write it as text, or write it to a file with --out FILE")
    }

    func validate() throws {
        let usesKeys = !recipients.isEmpty || !recipientsFiles.isEmpty
        let usesPassphrase = passphrase || passphraseFile != nil
        if usesKeys && usesPassphrase {
            throw ValidationError("use recipients (-r/-R) or a passphrase (-p/--passphrase-file), not both")
        }
        if passphrase && passphraseFile != nil { throw ValidationError("use -p or --passphrase-file, not both") }
    }

    /// Parses the recipients of -r and -R, without asking for anything, so
    /// that a bad one is refused before any passphrase is asked.
    func checkRecipients() throws {
        if !passphrase && passphraseFile == nil { _ = try ageRecipients() }
    }

    /// Parses every recipient (failing before anything is written) or reads the passphrase.
    func ageRecipients() throws -> [AgeRecipient] {
        if let passphraseFile { return [.passphrase(try SecretInput.readFirstLine(ofFile: passphraseFile))] }
        if passphrase {
            try Output.requireTerminal(toAskFor: "file passphrase", inScripts: "--passphrase-file FILE")
            return [.passphrase(try SecretInput.askNewPassphrase(what: "file"))]
        }
        var parsed = try recipients.map { try AgeRecipient(parsing: $0) }
        for path in recipientsFiles {
            let list = try AgeKeyFile.parseRecipients(
                Array(try SecretInput.readFile(path, isSecret: false).unsafeRevealedString().utf8), path: path)
            guard !list.isEmpty else { throw VaultError.invalidArgument("\(path): no recipients in the file") }
            parsed += list
        }
        return parsed
    }
}

/// BUNDLE-OPTIONS of docs/SPEC.md §5: encryption and --out, or --plain-dir.
struct BundleOptions: ParsableArguments {
    @OptionGroup var encryption: EncryptionOptions

    @Option(help: ArgumentHelp("Write the encrypted bundle to this file, or - for standard output.", valueName: "file"))
    var out: String?

    @Flag(help: "Replace an existing output file or configuration.")
    var force = false

    @Option(
        help: ArgumentHelp(
            "Write the configuration unencrypted (0600) under this directory, for a zBot on this machine.",
            valueName: "dir"))
    var plainDir: String?

    @Option(
        help: ArgumentHelp(
            "A zbot.properties template with {{server_url}}, {{name}} and {{token}} placeholders.", valueName: "file"))
    var template: String?

    @Option(help: ArgumentHelp("The zBot's server URL (default: the vault's, see 'ztoken config').", valueName: "url"))
    var server: String?

    /// True when any bundle option was given (`rotate` takes them for zBot tokens only).
    var isGiven: Bool {
        encryption.isGiven || encryption.armor || out != nil || force || plainDir != nil || template != nil
            || server != nil
    }

    func validate() throws {
        if plainDir != nil && (encryption.isGiven || encryption.armor || out != nil) {
            throw ValidationError("--plain-dir writes an unencrypted configuration; drop -r/-R/-p/--armor/--out")
        }
        if plainDir == nil && isGiven { try validateDestination() }
        if let server { _ = try ServerURL.validate(server) }
    }

    /// Says where the bundle goes: --plain-dir, or an encryption and --out.
    /// `zbot` and `export` always need one; `rotate` for a zBot token.
    func validateDestination() throws {
        guard plainDir == nil else { return }
        guard encryption.isGiven else {
            throw ValidationError(
                "say how to encrypt the bundle (-r, -R, -p or --passphrase-file), or use --plain-dir DIR")
        }
        guard out != nil else {
            throw ValidationError("say where to write the bundle with --out FILE (or --out - for standard output)")
        }
    }

    /// Refuses a binary bundle on a terminal (see `EncryptionOptions`).
    func refuseBinaryOnTerminal() throws {
        guard plainDir == nil else { return }
        try encryption.refuseBinaryOnTerminal(out: out, what: "bundle")
    }

    func parsedTemplate() throws -> BundleTemplate? {
        guard let template else { return nil }
        return try BundleTemplate(contentsOfFile: template)
    }

    /// Opens the output file (an existing one refused), or checks that the
    /// plain configuration does not exist: the cheap checks, made before
    /// any passphrase is asked. Nil for --plain-dir.
    func openOutput() throws -> OutputFile? {
        if let plainDir {
            try BundleDestination.plainDirectory(path: plainDir, overwrite: force).checkWritable()
            return nil
        }
        return try OutputFile(path: out ?? "-", overwrite: force)
    }

    /// Prepares the destination: the output file opened (an existing one
    /// refused) and the recipients parsed before a passphrase is asked, and
    /// all before anything in the vault changes.
    func destination(output: OutputFile? = nil) throws -> BundleDestination {
        if let plainDir { return .plainDirectory(path: plainDir, overwrite: force) }
        let output = try output ?? OutputFile(path: out ?? "-", overwrite: force)
        return .encrypted(recipients: try encryption.ageRecipients(), output: output, armored: encryption.armor)
    }

    /// Where the bundle went, as JSON fields: `path` of the encrypted
    /// bundle, or `plainDir` of the unencrypted configuration.
    func jsonFields(_ destination: BundleDestination) -> [(String, String?)] {
        switch destination {
        case .plainDirectory(let path, _): [("plainDir", JSONText.quote(path))]
        case .encrypted(_, let output, _): [("path", JSONText.quote(output.path))]
        }
    }

    func describe(_ destination: BundleDestination) -> String {
        switch destination {
        case .plainDirectory(let path, _): return "configuration written under \(path)"
        case .encrypted(_, let output, _):
            return output.isStandardOutput ? "bundle written to standard output" : "bundle written to \(output.path)"
        }
    }

    /// The server URL the bundle will name: --server, else `fallback` (the
    /// token's own), else the vault's default; checked, before anything is
    /// made or a passphrase asked. None at all is a usage error naming the
    /// ways to give one.
    func serverURL(in vault: Vault, fallback: String? = nil) throws -> String {
        guard server != nil || fallback != nil || vault.defaultServerURL != nil else {
            throw VaultError.invalidArgument(
                "no server URL for the zBot",
                hint: "pass --server URL, or set a default with 'ztoken config server-url URL'")
        }
        return try vault.bundleServerURL(server ?? fallback)
    }
}
