// Creating many tokens at once, for the benchmark fixtures (scripts/bench)
// and tests: one lock, one index rewrite. Not part of the CLI. Safety is the
// same as `create`: every record is durable before the index names it. Only
// the batching differs — records are written to temp files, made durable with
// one `syncfs` instead of one `fsync` each, renamed into records/, and both
// directories are fsynced once before the index is rewritten.
#if canImport(Glibc)
import Glibc
#endif

extension Vault {
    /// Mints one token per label under a single lock and a single index
    /// write. Labels are validated as `create` does and must be unique among
    /// active tokens. Returns every created token with its plaintext.
    @_spi(Bench)
    public func createMany(labels rawLabels: [String], kind: TokenKind = .api) throws -> [CreatedToken] {
        let labels = try rawLabels.map(LabelRules.validated)
        return try withWriteLock { index in
            var activeLabels = Set(index.tokens.lazy.filter(\.isActive).map(\.label))
            var ids = Set(index.tokens.lazy.map(\.id))
            var changed = index
            var created: [CreatedToken] = []
            var records: [(id: String, bytes: [UInt8])] = []
            created.reserveCapacity(labels.count)
            records.reserveCapacity(labels.count)
            let now = Clock.now()
            for label in labels {
                guard activeLabels.insert(label).inserted else { throw VaultError.labelInUse(label) }
                var id = TokenID.make()
                while !ids.insert(id).inserted { id = TokenID.make() }
                let token = TokenFormat.mint()
                let entry = Index.Entry(
                    id: id, label: label, kind: kind, createdAt: now, last4: TokenFormat.lastFour(of: token),
                    digest: TokenFormat.digest(of: token), state: .active)
                records.append((id, RecordFormat.encode(try Sodium.seal(token, to: publicKey))))
                changed.tokens.append(entry)
                created.append(CreatedToken(info: TokenInfo(entry), token: token))
            }
            try directory.writeRecords(records)
            try commit(
                changed, over: index,
                events: changed.tokens.suffix(created.count).map { HistoryEvent(.create, $0) })
            return created
        }
    }
}
