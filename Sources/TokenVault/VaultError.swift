// The one error type of TokenVault. Every case carries what the user needs to
// act (the path, the label, the errno) and maps to exactly one exit code of
// docs/SPEC.md §8. Messages are lowercase, name the file or label involved,
// and never contain a secret.
#if canImport(Glibc)
import Glibc
#endif

/// Everything that can go wrong in a vault, an age file or a bundle.
public enum VaultError: Error, Sendable, Equatable {
    // 64 — usage
    /// An argument the library was given is not allowed (a label, a URL, a template).
    case invalidArgument(String, hint: String? = nil)

    // 65 — bad data
    /// A file (or input) is corrupt, tampered or not what it claims to be.
    case corrupt(path: String, reason: String)
    /// A file carries a format version this ztoken does not know.
    case unsupportedVersion(path: String, version: Int)
    /// Key-derivation parameters on disk are weaker than the minimum, or unknown.
    case weakKeyDerivation(path: String, reason: String)
    /// A backup (at `path`) is of another vault than the one it would replace.
    case differentVault(path: String, backupID: String, vaultID: String)
    /// A backup (at `path`) is of this vault from before `passwd --rekey`
    /// gave it a new key pair: its records are sealed to the old key.
    case earlierKeyPair(path: String, vaultID: String)
    /// The vault a restore would replace cannot be identified (its vault.json is unreadable).
    case unverifiableVault(path: String, problem: String)

    // 66 — not found
    /// No vault at the location.
    case vaultNotFound(path: String)
    /// No active token with that label or id.
    case noSuchToken(String)
    /// An input file (identity, recipients, template, backup) does not exist.
    case fileNotFound(path: String)
    /// The token's expiry time has passed, so it can no longer be used or changed.
    case tokenExpired(label: String, id: String, expiresAt: String)

    // 73 — cannot create
    /// The vault, or an output file, already exists.
    case alreadyExists(path: String)
    /// An active token already has this label.
    case labelInUse(String)
    /// An expired token (not yet revoked or rotated) still has this label.
    case labelOfExpiredToken(String)

    // 74 — I/O
    /// A system call failed; `operation` names it ("write", "fsync", "rename"…).
    case io(path: String, operation: String, errno: Int32)
    /// Showing a new token (or writing its bundle) failed, and so did taking
    /// it out again: it is active, and nobody has it. `cause` is the first failure.
    case unseenTokenLeft(label: String, id: String, cause: String)
    /// `passwd` failed after the new key file took the place of the old one,
    /// putting the old one back failed too, and the file at `path` read back
    /// is the new one: the new passphrase is in effect. `cause` is the first failure.
    case newPassphraseInEffect(path: String, cause: String)
    /// As ``newPassphraseInEffect(path:cause:)``, but the key file at `path`
    /// could not be read back: either passphrase may be the one in effect.
    case keyFileNotPutBack(path: String, cause: String)
    /// `passwd` with a new key pair failed after the new vault took the old
    /// one's place: the vault at `path` has the new key pair and the new
    /// passphrase all the same, and the old vault is left at `leftover`.
    case rekeyedDespiteFailure(path: String, cause: String, leftover: String)
    /// `restore` failed after the restored vault took the location (the
    /// parent directory's fsync): the vault at `path` is the restored one all
    /// the same, and the vault it replaced, if any, is kept aside at `kept`.
    case restoredDespiteFailure(path: String, cause: String, kept: String?)

    // 75 — busy
    /// Another ztoken held the vault lock past the timeout.
    case busy(path: String, holder: String?, seconds: Double)
    /// The vault was replaced (by `restore --force`) while this command waited for its lock.
    case vaultReplaced(path: String)
    /// The vault changed (another ztoken wrote it) while a restore was asking to replace it.
    case vaultChanged(path: String)
    /// The remote changed while `sync` pushed to it.
    case remoteMoved(remote: String)

    // 77 — denied
    /// The passphrase does not open the vault key or the file.
    case wrongPassphrase(path: String)
    /// No identity given opens the file.
    case wrongIdentity(path: String)
    /// A vault file or directory is accessible to others.
    case unsafePermissions(path: String, mode: UInt32, expected: UInt32)
    /// A vault file or directory belongs to another user.
    case foreignOwner(path: String, owner: UInt32)
    /// A vault path is a symbolic link.
    case symlink(path: String)

    /// The sysexits code of docs/SPEC.md §8 for this error.
    public var exitCode: Int32 {
        switch self {
        case .invalidArgument: return 64
        case .corrupt, .unsupportedVersion, .weakKeyDerivation, .differentVault, .earlierKeyPair, .unverifiableVault:
            return 65
        case .vaultNotFound, .noSuchToken, .fileNotFound, .tokenExpired: return 66
        case .alreadyExists, .labelInUse, .labelOfExpiredToken: return 73
        case .io, .unseenTokenLeft, .newPassphraseInEffect, .keyFileNotPutBack, .rekeyedDespiteFailure,
            .restoredDespiteFailure:
            return 74
        case .busy, .vaultReplaced, .vaultChanged, .remoteMoved: return 75
        case .wrongPassphrase, .wrongIdentity, .unsafePermissions, .foreignOwner, .symlink: return 77
        }
    }

    /// The message of `error` when it is a `VaultError`, else its
    /// description: the cause named inside another error's message.
    static func cause(_ error: Error) -> String {
        (error as? VaultError)?.message ?? "\(error)"
    }

    /// One line for `ztoken: error: …`: lowercase, no trailing period.
    public var message: String {
        switch self {
        case .invalidArgument(let text, _):
            return text
        case .corrupt(let path, let reason):
            return "\(path): \(reason)"
        case .unsupportedVersion(let path, let version):
            return "\(path): unknown format version \(version)"
        case .weakKeyDerivation(let path, let reason):
            return "\(path): refusing key-derivation parameters: \(reason)"
        case .differentVault(let path, let backupID, let vaultID):
            return "\(path): the backup is of another vault (id \(Self.quoted(backupID)), not \(Self.quoted(vaultID)))"
        case .earlierKeyPair(let path, let vaultID):
            return
                "\(path): the backup is of this vault (id \(Self.quoted(vaultID))) from before its key pair was replaced; its tokens are sealed to the old key"
        case .unverifiableVault(let path, let problem):
            return "cannot check that the backup is of the vault at \(path): \(problem)"
        case .vaultNotFound(let path):
            return "no vault at \(path)"
        case .noSuchToken(let reference):
            return "no active token \(Self.quoted(reference))"
        case .fileNotFound(let path):
            return "\(path): no such file"
        case .tokenExpired(let label, let id, let expiresAt):
            return "token \(Self.quoted(label)) (\(id)) expired at \(expiresAt)"
        case .alreadyExists(let path):
            return "\(path) already exists"
        case .labelInUse(let label):
            return "an active token is already labelled \(Self.quoted(label))"
        case .labelOfExpiredToken(let label):
            return "an expired token is still labelled \(Self.quoted(label))"
        case .io(let path, let operation, let errno):
            return "\(path): \(operation) failed: \(Self.describe(errno: errno))"
        case .unseenTokenLeft(let label, let id, let cause):
            return "\(cause); the new token \(Self.quoted(label)) (\(id)) could not be removed again and is "
                + "active, though nobody has it"
        case .newPassphraseInEffect(let path, let cause):
            return "\(cause); putting the old key file back failed too, and \(path) now holds the new one: "
                + "the new passphrase is the one in effect"
        case .keyFileNotPutBack(let path, let cause):
            return "\(cause); putting the old key file back failed too, and \(path) could not be read back: "
                + "the new passphrase may now be the one in effect, so try both"
        case .rekeyedDespiteFailure(let path, let cause, let leftover):
            return "\(cause); all the same, the vault at \(path) now has its new key pair and the new passphrase, "
                + "and the old vault is left at \(leftover)"
        case .restoredDespiteFailure(let path, let cause, let kept):
            return "\(cause); all the same, the vault at \(path) is now the restored one"
                + (kept.map { ", and the replaced vault is kept aside at \($0)" } ?? "")
        case .busy(let path, let holder, let seconds):
            let who = holder.map { " (held by \($0))" } ?? ""
            return
                "the vault is locked by another ztoken\(who); gave up after \(Self.format(seconds)) s waiting for \(path)"
        case .vaultReplaced(let path):
            return "the vault at \(path) was replaced by a restore while this command waited; nothing was changed"
        case .vaultChanged(let path):
            return "the vault at \(path) changed while restore was asking; nothing was changed"
        case .remoteMoved(let remote):
            return "the remote \(Self.quoted(remote)) changed while this vault was being pushed to it"
        case .wrongPassphrase(let path):
            return "wrong passphrase for \(path)"
        case .wrongIdentity(let path):
            return "no identity matched \(path)"
        case .unsafePermissions(let path, let mode, _):
            return "\(path) is accessible by other users (mode \(String(mode & 0o7777, radix: 8)))"
        case .foreignOwner(let path, let owner):
            return "\(path) is owned by uid \(owner), not by you"
        case .symlink(let path):
            return "\(path) is a symbolic link; refusing to follow it"
        }
    }

    /// What to do next, in words that name no command-line flag (the CLI
    /// adds those where one helps).
    public var hint: String? {
        switch self {
        case .invalidArgument(_, let hint):
            return hint
        case .corrupt:
            return "nothing was changed; if this is a vault file, run 'ztoken doctor'"
        case .unsupportedVersion:
            return "this file was written by a newer ztoken; upgrade ztoken to read it"
        case .weakKeyDerivation:
            return "the file may have been tampered with; restore it from a backup"
        case .differentVault, .earlierKeyPair, .unverifiableVault:
            return "nothing was changed"
        case .vaultNotFound:
            return "run 'ztoken init' to make one"
        case .noSuchToken:
            return "list all tokens to see labels, ids and states"
        case .fileNotFound:
            return nil
        case .tokenExpired:
            return "expiry is never undone: rotate the token to get a new one under its label, or revoke it"
        case .alreadyExists:
            return "choose another path"
        case .labelInUse:
            return "choose another label, or revoke the existing token first"
        case .labelOfExpiredToken(let label):
            return "rotate \(Self.quoted(label)) to replace it, or revoke it first to free the label"
        case .io(_, _, let errno):
            if errno == ENOSPC || errno == EDQUOT { return "free some disk space and try again; nothing was changed" }
            return nil
        case .busy:
            return "wait for the other ztoken to finish"
        case .vaultReplaced, .vaultChanged:
            return "run the command again"
        case .remoteMoved:
            return "run the sync again: it merges what arrived"
        case .unseenTokenLeft:
            return "revoke it, or rotate it to get one you can see"
        case .newPassphraseInEffect:
            return "unlock the vault with the new passphrase from now on; 'ztoken doctor' checks the vault"
        case .keyFileNotPutBack:
            return "unlock the vault with the new passphrase, else with the old one; 'ztoken doctor' checks the vault"
        case .rekeyedDespiteFailure:
            return
                "unlock the vault with the new passphrase from now on; a repair by 'ztoken doctor' removes the old vault"
        case .restoredDespiteFailure:
            return "the restore is done and need not be run again; 'ztoken doctor' checks the vault"
        case .wrongPassphrase:
            return nil
        case .wrongIdentity:
            return "use the identity the file was encrypted to"
        case .unsafePermissions(let path, _, let expected):
            return "run: chmod \(String(expected, radix: 8)) '\(path)'"
        case .foreignOwner(let path, _):
            return "each user has their own vault; run: chown \"$(id -u)\" '\(path)' if it is yours"
        case .symlink:
            return "ztoken never follows links in a vault: put the real file or directory in place of the link"
        }
    }

    /// Labels are user text: show them quoted with control characters escaped,
    /// so an error message cannot move the cursor or rewrite the terminal.
    static func quoted(_ text: String) -> String {
        "'" + TerminalSafe.escape(text) + "'"
    }

    static func describe(errno code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text).lowercased()
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

extension VaultError: CustomStringConvertible {
    /// The same as ``message``.
    public var description: String { message }
}

extension VaultError {
    /// A label quoted and escaped for a message.
    package static func quotedLabel(_ label: String) -> String { quoted(label) }
}
