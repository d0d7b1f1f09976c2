// make-zbot: creates a token for one zBot and writes its configuration as an
// age-encrypted bundle that only the zBot machine's key opens.
//
//     make-zbot NAME SERVER-URL AGE-RECIPIENT OUT-FILE
//
// Uses the vault `ztoken` uses ($ZTOKEN_VAULT, else ~/.local/share/ztoken).
// Needs no passphrase: a new token is sealed with the vault's public key.
import Foundation
import TokenVault

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 4 else {
    FileHandle.standardError.write(Data("usage: make-zbot NAME SERVER-URL AGE-RECIPIENT OUT-FILE\n".utf8))
    exit(64)
}
let (name, serverURL, recipient, outPath) = (arguments[0], arguments[1], arguments[2], arguments[3])

do {
    let vault = try Vault(openingAt: Vault.defaultPath)
    // Parse the recipient and claim the output file first: a typo or an
    // existing file fails here, before any token is created.
    let destination = BundleDestination.encrypted(
        recipients: [.x25519(try AgeX25519Recipient(parsing: recipient))],
        output: try OutputFile(path: outPath, overwrite: false))
    // Mints a token of kind .zbot labelled NAME and writes the bundle; if the
    // bundle cannot be written, the token is removed again.
    let info = try vault.createZBot(name: name, serverURL: serverURL, template: nil, destination: destination)
    print("created zBot token \(info.label) (id \(info.id), ends in \(info.last4)); bundle: \(outPath)")
} catch let error as VaultError {
    // Every failure is a VaultError whose exitCode follows sysexits.
    var text = "make-zbot: error: \(error.message)\n"
    if let hint = error.hint { text += "make-zbot: hint: \(hint)\n" }
    FileHandle.standardError.write(Data(text.utf8))
    exit(error.exitCode)
} catch {
    // TokenVault throws only VaultError; Swift's untyped `throws` still asks for this.
    FileHandle.standardError.write(Data("make-zbot: error: \(error)\n".utf8))
    exit(70)
}
