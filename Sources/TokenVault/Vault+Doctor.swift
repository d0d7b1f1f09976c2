// `doctor`: checks every file of the vault and, with repair, removes only what
// is provably garbage — leftovers that the write order of docs/SPEC.md §9
// guarantees no reported state depends on: temp files of interrupted writes,
// sealed records of revoked tokens (revoke writes the index first), and
// records with no index entry (create writes the index last), and a log tail
// past the index's anchor (an interrupted write's). It never changes a
// token, rewrites committed history or touches a record an active token
// needs; what it removed it records as a `repair` event. Before all that,
// `doctor(at:)` looks at the owner and mode of every vault file without
// following a link, and with repair takes group and other permissions away
// from the user's own files; a file of someone else's, or a link, it only
// reports. Each finding says what to do next, as a `DoctorRemedy` the
// command line words (the library names no flag).

/// One thing `doctor` found.
public struct DoctorFinding: Sendable, Equatable, Codable {
    /// The file or directory concerned.
    public let path: String
    /// What is wrong, in one lowercase line.
    public let problem: String
    /// True when `--repair` may remove it safely.
    public let repairable: Bool
    /// True when this run removed or repaired it.
    public var repaired: Bool
    /// What to do about it, when it is not repaired.
    public var remedy: DoctorRemedy

    /// A finding at `path`.
    public init(path: String, problem: String, repairable: Bool, repaired: Bool, remedy: DoctorRemedy) {
        self.path = path
        self.problem = problem
        self.repairable = repairable
        self.repaired = repaired
        self.remedy = remedy
    }
}

/// The next step for a finding `doctor` did not fix.
public enum DoctorRemedy: Sendable, Equatable, Codable {
    /// Doctor's repair fixes it.
    case repair
    /// Take group and other permissions away: `chmod` to this mode (repair does it too).
    case chmod(UInt32)
    /// Another user owns it: give it back to the user, if it is theirs.
    case chown
    /// A symbolic link stands where a vault file belongs: put the real file there.
    case replaceLink
    /// Something ztoken did not put there: look at it and remove it by hand.
    case removeByHand
    /// The vault's data is damaged: restore the vault from a backup.
    case restoreFromBackup
    /// A newer ztoken wrote it: upgrade ztoken.
    case upgrade
    /// An interrupted `restore` or `passwd --rekey` left the vault's git
    /// repository (`.git`, and `.gitignore` if it had one) in this staging
    /// directory: move them back into the vault at `vault` by hand.
    case moveRepositoryBack(vault: String)
}

/// The result of `Vault.doctor`.
public struct DoctorReport: Sendable, Codable {
    /// What was found, in the order the checks ran; empty for a healthy vault.
    public var findings: [DoctorFinding]
    /// Active tokens seen in the index; nil when the index could not be read.
    public var activeTokens: Int?
    /// Revoked tokens seen in the index; nil when the index could not be read.
    public var revokedTokens: Int?
    /// True when `vault-key.json` was readable by other users: whoever read
    /// it can try passphrases offline, so the key pair should be replaced.
    public var wrappedKeyWasExposed = false
    /// Vaults a restore replaced and kept aside beside this one: not a
    /// problem (the user removes them by hand), but worth knowing about.
    public var keptAside: [String] = []
    /// True when nothing is left to fix.
    public var isHealthy: Bool { findings.allSatisfy(\.repaired) }
}

extension Vault {
    /// Checks the vault at `path`: first the owner and mode of each of its
    /// files (which ``init(openingAt:)`` would refuse), then, once they are
    /// safe, everything ``doctor(repair:)`` checks. With `repair`, the user's
    /// own files lose their group and other permissions first; a file owned
    /// by someone else, or a symbolic link, is reported and never touched.
    /// While such a problem is left, nothing else is read and no token is
    /// counted. `configure` is given the opened vault (its lock timeout).
    public static func doctor(
        at path: String, repair: Bool, configure: (Vault) -> Void = { _ in }
    ) throws -> DoctorReport {
        let wrappedKey = path + "/" + VaultLayout.wrappedKey
        var exposed = false
        let modes = try VaultPermissions.survey(path, repair: repair).map { problem in
            switch problem.kind {
            case .loose(let mode, let safe):
                if problem.path == wrappedKey, mode & 0o044 != 0 { exposed = true }
                return DoctorFinding(
                    path: problem.path, problem: "accessible by other users (mode \(String(mode, radix: 8)))",
                    repairable: true, repaired: problem.repaired, remedy: .chmod(safe))
            case .foreignOwner(let owner):
                return DoctorFinding(
                    path: problem.path, problem: "owned by uid \(owner), not by you", repairable: false,
                    repaired: false, remedy: .chown)
            case .symlink:
                return DoctorFinding(
                    path: problem.path, problem: "a symbolic link; ztoken never follows links in a vault",
                    repairable: false, repaired: false, remedy: .replaceLink)
            }
        }
        var report: DoctorReport
        if modes.allSatisfy(\.repaired) {
            let vault = try Vault(openingAt: path)
            configure(vault)
            report = try vault.check(repair: repair, prior: modes)
            report.keptAside = vault.keptAsideVaults()
        } else {
            report = DoctorReport(findings: modes, activeTokens: nil, revokedTokens: nil)
        }
        report.wrappedKeyWasExposed = exposed
        return report
    }

    /// Checks the vault; with `repair`, holds the lock and removes garbage.
    /// Its files' modes were checked when it was opened; ``doctor(at:repair:configure:)``
    /// also repairs them.
    public func doctor(repair: Bool) throws -> DoctorReport {
        var report = try check(repair: repair, prior: [])
        report.keptAside = keptAsideVaults()
        return report
    }

    /// Staging directories beside the vault that hold its git repository:
    /// restore and rekey move `.git` there before their exchange, and a
    /// process killed in between leaves it, for the user to move back (the
    /// sweep keeps it, SPEC §10).
    fileprivate func strandedRepositories() -> [DoctorFinding] {
        guard let (parentPath, name) = try? Directories.splitParent(of: path),
            let parent = try? Syscall.openDirectory(parentPath)
        else { return [] }
        defer { Syscall.closeQuietly(parent) }
        return Leftovers.stagingHoldingRepository(in: parent, parentPath: parentPath, vaultName: name).map {
            DoctorFinding(
                path: parentPath + "/" + $0,
                problem: "holds the vault's git repository, left by an interrupted restore or passwd --rekey",
                repairable: false, repaired: false, remedy: .moveRepositoryBack(vault: path))
        }
    }

    /// `<vault>.replaced-…` directories beside the vault (Vault+Backup.swift).
    fileprivate func keptAsideVaults() -> [String] {
        guard let (parentPath, name) = try? Directories.splitParent(of: path),
            let parent = try? Syscall.openDirectory(parentPath)
        else { return [] }
        defer { Syscall.closeQuietly(parent) }
        let names = (try? Syscall.directoryEntries(parent, displayPath: parentPath)) ?? []
        return names.filter { $0.hasPrefix(name + ".replaced-") }.sorted().map { parentPath + "/" + $0 }
    }

    private func check(repair: Bool, prior: [DoctorFinding]) throws -> DoctorReport {
        if repair {
            let lock = try directory.lock(timeout: lockTimeout, onWaiting: onLockWait)
            defer { lock.unlock() }
            // Staging directories of a killed init or restore beside the vault.
            if let (parentPath, name) = try? Directories.splitParent(of: path),
                let parent = try? Syscall.openDirectory(parentPath)
            {
                Leftovers.sweepStaging(in: parent, parentPath: parentPath, vaultName: name)
                Syscall.closeQuietly(parent)
            }
            var report = try examine(repair: true)
            report.findings = prior + report.findings + strandedRepositories()
            try recordRepair(report)
            return report
        }
        var report = try examine(repair: false)
        report.findings = prior + report.findings + strandedRepositories()
        return report
    }

    /// What repair removed is history too, once the log can take it (a log
    /// with a problem left is not written to).
    private func recordRepair(_ report: DoctorReport) throws {
        let modes = report.findings.count { $0.repaired && $0.remedy.isChmod }
        let removed = report.findings.count { $0.repaired && !$0.remedy.isChmod }
        let logPath = directory.displayPath(VaultLayout.log)
        guard modes + removed > 0, !report.findings.contains(where: { $0.path == logPath && !$0.repaired })
        else { return }
        let index = try readIndex()
        guard index.log != nil else { return }
        let detail = [
            removed > 0 ? "removed \(removed) leftover\(removed == 1 ? "" : "s")" : nil,
            modes > 0 ? "restored safe modes on \(modes) file\(modes == 1 ? "" : "s")" : nil,
        ].compactMap { $0 }.joined(separator: "; ")
        try commit(index, over: index, events: [HistoryEvent(.repair, detail: detail)])
    }

    private func examine(repair: Bool) throws -> DoctorReport {
        var report = DoctorReport(findings: [], activeTokens: nil, revokedTokens: nil)
        // An I/O error (74) is not a finding about the vault's data (65): it
        // stops doctor, so a failing disk is never reported as a corrupt vault.
        func note(
            _ path: String, _ problem: String, repairable: Bool = false, remedy: DoctorRemedy? = nil,
            remove: (() throws -> Void)? = nil
        ) throws {
            var finding = DoctorFinding(
                path: path, problem: problem, repairable: repairable, repaired: false,
                remedy: remedy ?? (repairable ? .repair : .restoreFromBackup))
            if repair, repairable, let remove {
                do {
                    try remove()
                    finding.repaired = true
                } catch let error as VaultError where error.exitCode == 74 {
                    throw error
                } catch {
                    finding = DoctorFinding(
                        path: path,
                        problem: problem + " (repair failed: \(VaultError.cause(error)))",
                        repairable: true, repaired: false,
                        remedy: .removeByHand)
                }
            }
            report.findings.append(finding)
        }
        /// The error's message without the path the finding already names.
        func problem(_ error: VaultError, at path: String) -> String {
            let message = error.message
            for prefix in [path + ": ", path + " "] where message.hasPrefix(prefix) {
                return String(message.dropFirst(prefix.count))
            }
            return message
        }
        /// The step that helps against an error found reading a file.
        func remedy(for error: VaultError) -> DoctorRemedy {
            switch error {
            case .unsafePermissions(_, _, let expected): .chmod(expected)
            case .foreignOwner: .chown
            case .symlink: .replaceLink
            case .unsupportedVersion: .upgrade
            default: .restoreFromBackup
            }
        }
        func check(_ path: String, _ body: () throws -> Void) throws {
            do {
                try body()
            } catch let error as VaultError where error.exitCode == 74 {
                throw error
            } catch let error as VaultError {
                try note(path, problem(error, at: path), remedy: remedy(for: error))
            } catch {
                try note(path, "\(error)")
            }
        }

        // Key material.
        let keyPath = directory.displayPath(VaultLayout.wrappedKey)
        try check(keyPath) {
            let bytes = try directory.read(VaultLayout.wrappedKey)
            switch (isOfflineKey, bytes) {
            case (false, nil): try note(keyPath, "missing: the vault key cannot be unlocked")
            case (false, let bytes?):
                let (file, _, _) = try KeyWrap.decodeKeyFile(
                    bytes, metadata: metadata, metadataPath: directory.displayPath(VaultLayout.metadata),
                    keyPath: keyPath)
                guard file.cipher == KeyWrap.cipher, Base64.decode(file.nonce)?.count == Sodium.aeadNonceLength,
                    Base64.decode(file.ciphertext)?.count == Sodium.secretKeyLength + Sodium.aeadTagLength
                else {
                    try note(keyPath, "malformed wrapped key")
                    return
                }
            case (true, _?): try note(keyPath, "an offline-key vault should hold no secret key", remedy: .removeByHand)
            case (true, nil): break
            }
        }
        try check(directory.displayPath(FileLock.fileName)) {
            if directory.entryStatus(FileLock.fileName) != nil {
                let fd = try Syscall.openAt(
                    directory.fd, FileLock.fileName, flags: 0, displayPath: directory.displayPath(FileLock.fileName))
                if let fd {
                    defer { Syscall.closeQuietly(fd) }
                    try VaultPermissions.check(
                        fd: fd, path: directory.displayPath(FileLock.fileName), isDirectory: false)
                }
            }
        }

        // Leftovers of interrupted writes.
        for name in try directory.leftoverTemporaries() {
            if directory.isDirectory(name) {
                try note(
                    directory.displayPath(name), "unexpected directory with a temp-file name", remedy: .removeByHand)
                continue
            }
            try note(directory.displayPath(name), "leftover of an interrupted write", repairable: true) {
                try Syscall.unlinkAt(self.directory.fd, name, displayPath: self.directory.displayPath(name))
                try Syscall.sync(self.directory.fd, displayPath: self.path)
            }
        }

        // Records that an older ztoken moved aside for a background remover that
        // was killed; a directory its remover is still emptying is left to it.
        for (name, strangers) in directory.legacyRevokedDirectories() {
            let path = directory.displayPath(name)
            guard strangers.isEmpty else {
                if repair { directory.removeLegacyRevokedRecords(named: name) }
                let names = strangers.map { VaultError.quoted($0) }.joined(separator: ", ")
                try note(
                    path,
                    "left by an interrupted revoke, holds \(names), which ztoken did not put there",
                    remedy: .removeByHand)
                continue
            }
            try note(path, "records of revoked tokens left by an interrupted revoke", repairable: true) {
                guard self.directory.removeLegacyRevokedRecords(named: name) else {
                    throw VaultError.corrupt(path: path, reason: "it could not be removed")
                }
            }
        }

        // Index and records.
        let indexPath = directory.displayPath(VaultLayout.index)
        let index: Index
        do {
            index = try readIndex()
        } catch let error as VaultError where error.exitCode != 74 {
            try note(indexPath, problem(error, at: indexPath), remedy: remedy(for: error))
            return report
        }
        // Counted as soon as the index is read, whatever the records say.
        report.activeTokens = index.tokens.count(where: \.isActive)
        report.revokedTokens = index.tokens.count - index.tokens.count(where: \.isActive)
        // The history: a tail past the anchor is an interrupted write's; the
        // committed part must verify link by link and agree with the index.
        // Repair may cut off that tail, never rewrite what was committed.
        let logPath = directory.displayPath(VaultLayout.log)
        try check(logPath) {
            let committed = index.log?.bytes ?? 0
            if let size = directory.entryStatus(VaultLayout.log).map({ Int($0.st_size) }), size > 0, committed == 0 {
                try note(
                    logPath,
                    "a history index.json does not anchor (its index was turned back into one from before "
                        + "the log, or the first write after an upgrade was cut short)", repairable: true
                ) { try self.directory.detachLog() }
            } else if let size = directory.entryStatus(VaultLayout.log).map({ Int($0.st_size) }), size > committed {
                try note(
                    logPath,
                    "\(size - committed) bytes past index.json's anchor never became history "
                        + "(an interrupted write)", repairable: true
                ) { try self.directory.truncateLog(to: committed) }
            }
            let lines = try readLog(for: index)
            if index.log != nil, let problem = EventLog.replay(lines, against: index) {
                try note(logPath, "the log and index.json disagree: \(problem)")
            }
        }
        let recordsPath = directory.displayPath(VaultLayout.records)
        let recordNames: [String]
        do {
            _ = try directory.recordsDirectory()
            recordNames = try directory.recordFileNames()
        } catch let error as VaultError where error.exitCode != 74 {
            try note(recordsPath, problem(error, at: recordsPath), remedy: remedy(for: error))
            return report
        }
        var byID: [String: Index.Entry] = [:]
        for entry in index.tokens { byID[entry.id] = entry }
        var present = Set<String>()
        for name in recordNames {
            let path = recordsPath + "/" + name
            guard let id = VaultLayout.recordID(fromName: name) else {
                try note(path, "unexpected file in the records directory", remedy: .removeByHand)
                continue
            }
            guard let entry = byID[id] else {
                try note(path, "sealed record with no index entry (an interrupted create)", repairable: true) {
                    try self.directory.removeRecordFile(named: name)
                }
                continue
            }
            if !entry.isActive {
                try note(
                    path, "sealed record of revoked token \(VaultError.quoted(entry.label)) (an interrupted revoke)",
                    repairable: true
                ) {
                    try self.directory.removeRecordFile(named: name)
                }
                continue
            }
            present.insert(id)
            try check(path) {
                guard let bytes = try directory.readRecord(id: id) else { return }
                let sealed = try RecordFormat.decode(bytes, path: path)
                if sealed.count < Sodium.sealOverhead + TokenFormat.importedLengthRange.lowerBound {
                    try note(path, "sealed record too short to hold a token")
                }
            }
        }
        for entry in index.tokens where entry.isActive && !present.contains(entry.id) {
            try note(
                directory.recordPath(id: entry.id),
                "active token \(VaultError.quoted(entry.label)) has no sealed record; it cannot be exported")
        }
        return report
    }
}

extension DoctorRemedy {
    var isChmod: Bool {
        if case .chmod = self { return true }
        return false
    }
}
