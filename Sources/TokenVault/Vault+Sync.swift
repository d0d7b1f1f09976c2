// One vault on several workstations, with git as the transport: the vault
// directory is a git repository (`.lock` and temp files ignored); `sync`
// commits the vault's state, fetches, and when the remote has something
// this vault lacks, reads the remote's files as blobs (git never writes a
// vault file: its checkout is not crash-safe), checks them with the strict
// readers of every command, merges them with ztoken's own rules
// (Sync/VaultMerge.swift), checks the result, installs it with the atomic
// writes of every writer under the vault lock, and only then moves git's
// HEAD and pushes.
#if canImport(Glibc)
import Glibc
#endif

/// What `Vault.sync` did.
public struct SyncReport: Sendable {
    /// Events of the other machines merged into this vault.
    public var receivedEvents: Int
    /// True when this vault's state was committed (it had changed since the last sync).
    public var committed: Bool
    /// True when the remote was updated.
    public var pushed: Bool
    /// What the merge decided that the user should hear, one line each.
    public var notes: [String]
}

extension Vault {
    /// What git keeps: the vault's own files and nothing else (not the lock,
    /// temp files, or anything a user or an older ztoken left in the
    /// directory, which every other machine's sync would refuse).
    static let gitIgnore = Array(
        "/*\n!/.gitignore\n!/vault.json\n!/vault-key.json\n!/index.json\n!/log.jsonl\n!/records/\n/records/*\n!/records/*.sealed\n"
            .utf8)

    /// True when the vault directory is a git repository (`init --git`).
    public var isRepository: Bool { directory.isDirectory(".git") }

    /// Makes the vault a git repository and commits its state (`ztoken init
    /// --git`, `ztoken git init`).
    public func initializeRepository() throws {
        guard !isRepository else {
            throw VaultError.invalidArgument("the vault at \(path) is already a git repository")
        }
        try withWriteLock { index in
            // Every machine's sync needs the history: record this step in it
            // (a vault from before the log starts one here).
            try record([HistoryEvent(.config, detail: "the vault became a git repository")], in: index)
            try Git.checked(["init", "--quiet"], in: path)
            try directory.replace(".gitignore", with: Self.gitIgnore)
            try Git.checked(["add", "-A"], in: path)
            try Git.checked(try Git.identity(in: path) + ["commit", "--quiet", "-m", "ztoken: the vault"], in: path)
        }
    }

    /// Runs git in the vault directory with this process's standard input,
    /// output and error (`ztoken git …`), holding the vault lock, so that it
    /// never runs beside a sync; returns git's exit status.
    public func runGit(_ arguments: [String]) throws -> Int32 {
        let lock = try directory.lock(timeout: lockTimeout, onWaiting: onLockWait)
        defer { lock.unlock() }
        let child = try GitObjects.spawn(
            ["git", "-C", path] + Git.ownRepository + arguments, input: STDIN_FILENO, output: STDOUT_FILENO,
            errors: STDERR_FILENO)
        return GitObjects.wait(child)
    }

    /// Removes git's index lock left by a git that was killed: under the
    /// vault lock no git of ztoken's runs in the vault (`runGit` holds it too).
    private func removeStaleGitLock() {
        unlink(path + "/.git/index.lock")
    }

    /// Commits this vault's state, fetches `remote`, merges what it has that
    /// this vault lacks (refusing, with nothing changed, what cannot be
    /// merged safely: 65), installs the result and pushes. Throws
    /// `.remoteMoved` (75) when the remote changed during the push: run it again.
    public func sync(remote: String = "origin") throws -> SyncReport {
        guard isRepository else {
            throw VaultError.invalidArgument(
                "the vault at \(path) is not a git repository", hint: "make it one with 'ztoken git init'")
        }
        return try withWriteLock { index in
            // git must not carry a tail that never became history.
            let committedBytes = index.log?.bytes ?? 0
            if let size = directory.entryStatus(VaultLayout.log).map({ Int($0.st_size) }), size > committedBytes {
                try directory.truncateLog(to: committedBytes)
            }
            removeStaleGitLock()
            var report = SyncReport(receivedEvents: 0, committed: try commitState(index), pushed: false, notes: [])
            let branch = try Git.checked(["symbolic-ref", "--short", "HEAD"], in: path)
            try Git.checked(["fetch", "--quiet", remote], in: path)
            let remoteName = "\(remote)/\(branch)"
            let theirs = try Git.run(
                ["rev-parse", "--verify", "--quiet", "refs/remotes/\(remoteName)^{commit}"], in: path)
            let theirCommit = theirs.output.trimmingWhitespace()
            let ours = try Git.checked(["rev-parse", "HEAD"], in: path)
            if theirs.status == 0, theirCommit != ours, !(try isAncestor(theirCommit, of: ours)) {
                let remoteState = try VaultState(files: try Git.files(of: theirCommit, in: path), shown: remoteName)
                let local = try localState(index)
                let merged = try VaultMerge.merge(local: local, remote: remoteState, remoteName: remoteName)
                try check(merged, over: index, local: local)
                try install(merged, over: index)
                report.receivedEvents = merged.receivedEvents
                report.notes = merged.notes
                try recordMerge(ours: ours, theirs: theirCommit, remoteName: remoteName)
            }
            let head = try Git.checked(["rev-parse", "HEAD"], in: path)
            if theirs.status != 0 || theirCommit != head {
                let pushed = try Git.run(
                    ["push", "--quiet", "--set-upstream", remote, "HEAD:refs/heads/\(branch)"], in: path)
                guard pushed.status == 0 else {
                    // Whatever git's words, a remote that moved since the fetch lost us a race.
                    _ = try? Git.run(["fetch", "--quiet", remote], in: path)
                    let now = try Git.run(
                        ["rev-parse", "--verify", "--quiet", "refs/remotes/\(remoteName)^{commit}"], in: path)
                    if now.status != theirs.status || now.output.trimmingWhitespace() != theirCommit {
                        throw VaultError.remoteMoved(remote: remote)
                    }
                    throw VaultError.invalidArgument("git push failed: \(pushed.complaint)")
                }
                report.pushed = true
            }
            return report
        }
    }

    /// Makes a vault at `path` from a remote repository that holds one: git
    /// fetches it into a staging directory beside `path` without checking it
    /// out; ztoken reads its files as blobs, checks them as `sync` does and
    /// writes them itself; then the directory is renamed into place. It
    /// opens with the passphrase of the vault it came from.
    public static func clone(from remote: String, to path: String) throws -> Vault {
        let (parentPath, name) = try Directories.splitParent(of: path)
        try Directories.make(parentPath)
        let parent = try Syscall.openDirectory(parentPath)
        defer { Syscall.closeQuietly(parent) }
        try refuseExistingVault(in: parent, name: name, path: path)
        let stagingName = Leftovers.stagingName(of: name, "clone")
        // git runs in the parent; every path it is given is absolute.
        guard let resolved = realpath(parentPath, nil) else { throw Syscall.fail(parentPath, "realpath") }
        let absoluteParent = String(cString: resolved)
        free(resolved)
        let staging = absoluteParent + "/" + stagingName
        var source = remote
        if !remote.contains("://"), !remote.contains(":") || remote.hasPrefix("/") || remote.hasPrefix("."),
            let local = realpath(remote, nil)
        {
            source = String(cString: local)
            free(local)
        }
        var installed = false
        defer {
            if !installed {
                try? Directories.removeTree(parent: parent, name: stagingName, path: staging, keepingRepository: false)
            }
        }
        try Git.checked(["clone", "--quiet", "--no-checkout", source, staging], in: absoluteParent, repository: false)
        guard chmod(staging, 0o700) == 0 else { throw Syscall.fail(staging, "chmod") }
        guard (try Git.run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], in: staging)).status == 0 else {
            throw VaultError.invalidArgument("the repository \(remote) holds no vault yet")
        }
        let state = try VaultState(files: try Git.files(of: "HEAD", in: staging), shown: remote)
        let directory = try VaultDirectory(path: staging)
        try directory.replace(VaultLayout.metadata, with: state.metadataBytes)
        if let key = state.keyBytes { try directory.replace(VaultLayout.wrappedKey, with: key) }
        try directory.appendLog(state.logBytes, committed: 0, head: nil)
        try directory.replace(VaultLayout.index, with: state.index.encoded())
        try Syscall.makeDirectoryAt(
            directory.fd, VaultLayout.records, displayPath: directory.displayPath(VaultLayout.records))
        for (id, bytes) in state.records.sorted(by: { $0.key < $1.key }) {
            try directory.writeRecord(id: id, bytes: bytes)
        }
        try directory.replace(".gitignore", with: gitIgnore)
        try directory.lock(timeout: 0, onWaiting: { _ in }).unlock()
        // git's index from HEAD, leaving the files ztoken wrote alone.
        try Git.checked(["reset", "--quiet"], in: staging)
        try Syscall.sync(directory.fd, displayPath: staging)
        try Directories.renameIntoPlace(stagingName, as: name, in: parent, path: path)
        installed = true
        try Syscall.sync(parent, displayPath: parentPath)
        return try Vault(openingAt: path)
    }

    // MARK: Steps of a sync

    /// Commits the vault's files if they changed since the last commit; the
    /// message names the events since then. True when it committed.
    private func commitState(_ index: Index) throws -> Bool {
        try Git.checked(["add", "-A"], in: path)
        guard !(try Git.checked(["status", "--porcelain"], in: path)).isEmpty else { return false }
        // The events past the log of the last commit (its length is the offset).
        let before = try Git.run(["cat-file", "-s", "HEAD:" + VaultLayout.log], in: path)
        let known = before.status == 0 ? Int(before.output.trimmingWhitespace()) ?? 0 : 0
        let log = try directory.read(VaultLayout.log, limit: EventLog.maximumBytes) ?? []
        let committed = min(index.log?.bytes ?? 0, log.count)
        // Only words for the message: a log the last commit does not prefix
        // (after a restore) is named by its count alone.
        let events =
            (try? EventLog.parse(log[min(known, committed)..<committed], path: VaultLayout.log).map(\.event)) ?? []
        var message = "ztoken: \(events.count) event\(events.count == 1 ? "" : "s")\n\n"
        for event in events.suffix(50) {
            message +=
                [event.time, event.kind.rawValue, event.label.map(VaultError.quoted), event.tokenID]
                .compactMap { $0 }.joined(separator: " ") + "\n"
        }
        try Git.checked(try Git.identity(in: path) + ["commit", "--quiet", "-m", message], in: path)
        return true
    }

    private func isAncestor(_ ancestor: String, of commit: String) throws -> Bool {
        try Git.run(["merge-base", "--is-ancestor", ancestor, commit], in: path).status == 0
    }

    /// This vault's state for a merge: its files as on disk under the lock.
    private func localState(_ index: Index) throws -> VaultState {
        var files: [String: [UInt8]] = [:]
        for name in [VaultLayout.metadata, VaultLayout.wrappedKey] { files[name] = try directory.read(name) }
        files[VaultLayout.index] = index.encoded()
        files[VaultLayout.log] = Array(
            (try directory.read(VaultLayout.log, limit: EventLog.maximumBytes) ?? []).prefix(index.log?.bytes ?? 0))
        for entry in index.tokens where entry.isActive {
            files[VaultLayout.records + "/" + VaultLayout.recordName(id: entry.id)] = try directory.readRecord(
                id: entry.id)
        }
        return try VaultState(files: files, shown: path)
    }

    /// The merged state must pass what every command checks, and keep every
    /// revocation of this vault.
    private func check(_ merged: MergeResult, over index: Index, local: VaultState) throws {
        let shown = directory.displayPath(VaultLayout.log) + " (merged)"
        guard let anchor = merged.index.log else { return }
        // This side's lines were checked as it was read; the new ones join them.
        let lines =
            try local.lines
            + EventLog.parse(merged.appendedLog[...], path: shown, firstNumber: local.lines.count + 1)
        try EventLog.verify(
            lines, byteCount: local.logBytes.count + merged.appendedLog.count, anchor: anchor, vaultID: vaultID,
            path: shown)
        if let problem = EventLog.replay(lines, against: merged.index) {
            throw VaultError.corrupt(path: shown, reason: "the merged log and index disagree: \(problem)")
        }
        try merged.index.validate(path: directory.displayPath(VaultLayout.index) + " (merged)")
        try VaultMerge.checkKeeps(index, in: merged.index, shown: shown)
        // The settings and key it would install open as a pair, for this vault.
        let metadataPath = directory.displayPath(VaultLayout.metadata) + " (merged)"
        let chosen = try Self.decodeMetadata(merged.metadataBytes, path: metadataPath)
        guard chosen.vaultID == vaultID, chosen.publicKey == metadata.publicKey,
            chosen.keyProtection == metadata.keyProtection
        else {
            throw VaultError.corrupt(path: metadataPath, reason: "it names another vault, key pair or key protection")
        }
        if chosen.keyProtection == "passphrase" {
            guard let key = merged.keyBytes else {
                throw VaultError.corrupt(path: metadataPath, reason: "no wrapped key to go with it")
            }
            _ = try KeyWrap.decodeKeyFile(
                key, metadata: chosen, metadataPath: metadataPath,
                keyPath: directory.displayPath(VaultLayout.wrappedKey) + " (merged)")
        }
    }

    /// Installs a merge in the order of every writer (SPEC §9): new records,
    /// the log, the settings and key, the index; then the records of tokens
    /// the other machine revoked. The key goes before the index: once the
    /// index anchors the other machine's `passwd` line, the later-change
    /// rule no longer sees it as the other side's, so a key left behind
    /// then would never be installed. A crash between key and index leaves
    /// the new key with that line past the anchor, and the next sync, which
    /// still sees the line as the remote's, chooses the same key again.
    private func install(_ merged: MergeResult, over index: Index) throws {
        for record in merged.newRecords { try directory.writeRecord(id: record.id, bytes: record.bytes) }
        if !merged.appendedLog.isEmpty {
            try directory.appendLog(merged.appendedLog, committed: index.log?.bytes ?? 0, head: index.log?.head)
        }
        if let key = merged.keyBytes, key != (try directory.read(VaultLayout.wrappedKey)) {
            try directory.replace(VaultLayout.wrappedKey, with: key)
        }
        if merged.metadataBytes != (try directory.read(VaultLayout.metadata)) {
            try directory.replace(VaultLayout.metadata, with: merged.metadataBytes)
        }
        try writeIndex(merged.index)
        // The merge is installed: a record a failed unlink leaves is
        // garbage for `doctor --repair`, and must not stop git's HEAD from
        // following the installed state.
        try? directory.removeRecords(ids: merged.revokedIDs)
    }

    /// Moves git's HEAD to the installed state: the remote's commit when
    /// that is exactly what was installed (a fast-forward), else a merge
    /// commit whose parents are both heads.
    private func recordMerge(ours: String, theirs: String, remoteName: String) throws {
        try Git.checked(["add", "-A"], in: path)
        let tree = try Git.checked(["write-tree"], in: path)
        let target: String
        if try isAncestor(ours, of: theirs), tree == (try Git.checked(["rev-parse", theirs + "^{tree}"], in: path)) {
            target = theirs
        } else {
            target = try Git.checked(
                try Git.identity(in: path) + [
                    "commit-tree", tree, "-p", ours, "-p", theirs, "-m", "ztoken: merge \(remoteName)",
                ], in: path)
        }
        try Git.checked(["reset", "--quiet", "--soft", target], in: path)
    }
}
