// Temp files and staging directories that a killed ztoken leaves behind, and
// how a later ztoken proves they are garbage. Inside the vault the lock is
// the proof: a writer's temp file exists only while that writer holds it. Outside
// the vault (beside a bundle, under a --plain-dir, beside the vault for init
// and restore) there is no lock, so every such name carries the pid of the
// process that made it, "-<pid>-<random>" at its end, and a name whose process
// is gone (kill(2) says ESRCH) is garbage. A live or unknown owner (EPERM: another
// user's pid; a reused pid) keeps it: a sweep may leave garbage, never remove
// a live writer's file.
#if canImport(Glibc)
import Glibc
#endif

enum Leftovers {
    /// The end of every temp name: "-<pid>-<12 hex digits>".
    static func tag() -> String {
        "-\(getpid())-" + Hex.encode(Sodium.randomBytes(6))
    }

    /// The pid in a name that ends with `tag()`, if it has one.
    static func owner(of name: String) -> pid_t? {
        let parts = name.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[parts.count - 1].utf8.count == 12,
            parts[parts.count - 1].utf8.allSatisfy(Hex.isDigit),
            let pid = pid_t(parts[parts.count - 2]), pid > 0
        else { return nil }
        return pid
    }

    /// True when the process that made `name` has exited, so nothing will
    /// ever rename, link or finish it.
    static func isAbandoned(_ name: String) -> Bool {
        guard let pid = owner(of: name), pid != getpid() else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Removes the abandoned files in `directory` whose names `matches`
    /// accepts; best effort, then one fsync of the directory.
    static func sweepFiles(in directory: Int32, displayPath: String, matching matches: (String) -> Bool) {
        guard let names = try? Syscall.directoryEntries(directory, displayPath: displayPath) else { return }
        var removed = false
        for name in names where matches(name) && isAbandoned(name) {
            if (try? Syscall.unlinkAt(directory, name, displayPath: displayPath + "/" + name)) != nil { removed = true }
        }
        if removed { try? Syscall.sync(directory, displayPath: displayPath) }
    }

    /// Removes abandoned staging directories of `init`, `restore` and
    /// `passwd --rekey` (and the old vault a rekey swapped out) beside the
    /// vault `name`.
    static func sweepStaging(in parent: Int32, parentPath: String, vaultName name: String) {
        guard let names = try? Syscall.directoryEntries(parent, displayPath: parentPath) else { return }
        var removed = false
        for entry in names where isStagingName(entry, of: name) && isAbandoned(entry) {
            // A clone's or init's staging directory holds a fresh .git that goes
            // with it; one of restore or rekey may hold the vault's, which stays.
            try? Directories.removeTree(
                parent: parent, name: entry, path: parentPath + "/" + entry,
                keepingRepository: mayHoldRepository(entry, of: name))
            removed = true
        }
        if removed { try? Syscall.sync(parent, displayPath: parentPath) }
    }

    /// The staging directories of `restore` and `passwd --rekey` beside the
    /// vault `name` that hold a `.git`: the vault's repository, moved there
    /// before an exchange that never came. The sweep keeps them.
    static func stagingHoldingRepository(in parent: Int32, parentPath: String, vaultName name: String) -> [String] {
        let names = (try? Syscall.directoryEntries(parent, displayPath: parentPath)) ?? []
        return names.sorted().filter { entry in
            var info = stat()
            return mayHoldRepository(entry, of: name)
                && fstatat(parent, entry + "/.git", &info, AT_SYMLINK_NOFOLLOW) == 0
        }
    }

    /// A staging directory that `restore` or `passwd --rekey` moves the
    /// vault's repository into (Staging.adoptRepository).
    static func mayHoldRepository(_ entry: String, of vaultName: String) -> Bool {
        isStagingName(entry, of: vaultName, purposes: ["restore", "rekey"])
    }

    static func stagingName(of vaultName: String, _ purpose: String) -> String {
        "." + vaultName + "." + purpose + tag()
    }

    static func isStagingName(
        _ entry: String, of vaultName: String, purposes: [String] = ["init", "restore", "rekey", "clone"]
    ) -> Bool {
        purposes.contains { entry.hasPrefix("." + vaultName + "." + $0 + "-") }
    }
}
