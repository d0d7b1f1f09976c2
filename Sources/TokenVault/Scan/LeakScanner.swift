// `ztoken scan`: finds tokens in files, standard input or git objects, and
// says which token of this vault each one is and whether it is still active.
// The search is `TokenSearch`; the files and git objects come from Storage
// (`ScanFiles`, `GitObjects`); this file matches candidates against the
// index by digest and tells the caller what it found, one event at a time,
// so findings appear while a large tree is still being read.
//
// A finding never carries the token: only where it is, its last four
// characters and the index entry it matched. Lookups go through a
// dictionary of digests, not the constant-time comparison `verify` uses: the
// person scanning already holds both the files and the vault, so the time a
// lookup takes tells nobody anything new.

/// A token found by `LeakScanner`.
public struct ScanFinding: Sendable {
    /// The file (or `-` for standard input, or the path of a git blob).
    public var file: String
    /// For `--git-history` and `--git-staged`: the blob's object id.
    public var blob: String?
    /// 1-based line.
    public var line: Int
    /// 1-based column, in bytes, as ripgrep counts it.
    public var column: Int
    /// The token's last four characters (never more of it).
    public var last4: String
    /// True for a token of ztoken's own form (`ztk_…`), false for an imported one.
    public var isMintedForm: Bool
    /// The vault's token with this digest; nil when it is not in this vault.
    public var token: TokenInfo?

    /// `active`, `expired`, `revoked` or `unknown` (not a token of this vault).
    public var state: String { token?.state.rawValue ?? "unknown" }

    /// The token shown redacted: `ztk_…` or `…` and its last four characters.
    public var redacted: String { (isMintedForm ? TokenFormat.prefix : "") + "…" + last4 }
}

/// What a scan tells its caller as it goes.
public enum ScanEvent: Sendable {
    /// A token was found.
    case finding(ScanFinding)
    /// A file was not scanned, and why (`utf-16 text`).
    case skipped(file: String, reason: String)
    /// A file or directory could not be read; the scan goes on without it.
    case unreadable(VaultError)
}

/// Scans files, standard input or git objects for tokens.
public final class LeakScanner {
    /// Files and streams read to their end.
    public private(set) var filesScanned = 0
    /// Bytes read.
    public private(set) var bytesScanned = 0
    /// Files that could not be read.
    public private(set) var unreadableCount = 0

    private let entries: [String: Index.Entry]
    private let search: TokenSearch
    private let onEvent: (ScanEvent) -> Void

    /// Scans against `vault`'s index (minted-form tokens only, all reported
    /// `unknown`, without one), reporting through `onEvent`.
    public convenience init(vault: Vault?, onEvent: @escaping (ScanEvent) -> Void) throws {
        let index = try vault?.readIndex() ?? Index()
        self.init(index: index, onEvent: onEvent)
    }

    init(index: Index, chunkSize: Int = TokenSearch.defaultChunkSize, onEvent: @escaping (ScanEvent) -> Void) {
        var entries: [String: Index.Entry] = [:]
        var shapes = Set<ImportedShape>()
        for entry in index.tokens {
            entries[entry.digest] = entry
            // Entries written before `length` existed are not looked for.
            if let length = entry.length {
                shapes.insert(ImportedShape(length: length, last4: Array(entry.last4.utf8)))
            }
        }
        self.entries = entries
        self.onEvent = onEvent
        search = TokenSearch(shapes: shapes, chunkSize: chunkSize)
    }

    /// Scans a file, or every regular file below a directory.
    public func scan(path: String) {
        ScanFiles.walk(
            path,
            file: { fd, shown in
                scanStream(file: shown, blob: nil) { buffer in try Syscall.readSome(fd, buffer, displayPath: shown) }
            },
            problem: unreadable)
    }

    /// Scans standard input, shown as `-`.
    public func scanStandardInput() {
        scanStream(file: "-", blob: nil) { buffer in try Syscall.readSome(0, buffer, displayPath: "standard input") }
    }

    /// Scans what is staged in the git repository of the current directory:
    /// the blobs of the files the next commit adds or changes.
    public func scanGitStaged() throws {
        try GitObjects.staged { blob, read in try scanBlob(blob, read) }
    }

    /// Scans every blob reachable from HEAD in the git repository of the current directory.
    public func scanGitHistory() throws {
        try GitObjects.history { blob, read in try scanBlob(blob, read) }
    }

    private func scanBlob(_ blob: GitObjects.Blob, _ read: GitObjects.BlobRead) throws {
        // A failed read of git's output ends the whole scan: the stream is lost.
        var failure: VaultError?
        scanStream(file: blob.path, blob: blob.id) { buffer in
            do { return try read(buffer) } catch let error as VaultError {
                failure = error
                throw error
            }
        }
        if let failure { throw failure }
    }

    private func unreadable(_ error: VaultError) {
        unreadableCount += 1
        onEvent(.unreadable(error))
    }

    /// Scans one stream to its end, reporting what it finds.
    func scanStream(file: String, blob: String?, read: (UnsafeMutableRawBufferPointer) throws -> Int) {
        search.reset()
        var first = true
        do {
            while true {
                let count = try search.fill(read)
                bytesScanned += count
                if count > 0 && !search.isFull { continue }
                if first {
                    first = false
                    if TokenSearch.looksLikeUTF16(search.pending) {
                        // Read the rest (a git blob must be consumed) without searching it.
                        while try search.fill(read) > 0 { search.reset() }
                        search.reset()
                        onEvent(.skipped(file: file, reason: "utf-16 text"))
                        return
                    }
                }
                search.search(final: count == 0) { candidate in
                    if let finding = match(candidate, file: file, blob: blob) { onEvent(.finding(finding)) }
                }
                if count == 0 { break }
            }
            filesScanned += 1
        } catch let error as VaultError {
            search.reset()
            unreadable(error)
        } catch {
            search.reset()
            unreadable(.io(path: file, operation: "read", errno: 5))
        }
    }

    /// The finding a candidate makes: a minted-form token always (known or
    /// not), an imported-shape candidate only when its digest is in the vault.
    func match(_ candidate: TokenCandidate, file: String, blob: String?) -> ScanFinding? {
        let entry = entries[TokenFormat.digest(of: candidate.token)]
        if candidate.form == .imported && entry == nil { return nil }
        return ScanFinding(
            file: file, blob: blob, line: candidate.line, column: candidate.column,
            last4: TokenFormat.lastFour(of: candidate.token), isMintedForm: candidate.form == .minted,
            token: entry.map { TokenInfo($0) })
    }
}
