// The parsers that read files a user may be handed, as the fuzz targets
// (Sources/fuzz-*) and the fuzz regression tests call them. `package`, not
// public: only targets of this package see them, and no `@testable` is needed.
// Each entry feeds arbitrary bytes to one parser (or the scanner's search): a thrown `VaultError` is the
// expected answer to bad input; anything else (a trap, an overflow, an
// out-of-bounds read, a failed round-trip check below) is a bug. Where a
// parser accepts the input, the entry also checks a property that must hold
// for everything it accepts, so the fuzzer finds wrong answers, not only crashes.
// Compiled only in debug builds (tests) and fuzz builds (ZTOKEN_FUZZ, set by
// Package.swift under scripts/fuzz): a release library has none of it.

#if DEBUG || ZTOKEN_FUZZ

#if canImport(Glibc)
import Glibc
#endif

/// Fuzzing entry points into TokenVault's parsers.
package enum FuzzEntryPoints {
    /// The seed vaults use the test-only minimal Argon2id cost (fuzz builds
    /// are debug builds); without the hook every seed backup would stop at
    /// the KDF floor check and the fuzzer would never reach the index and records.
    private static let minimalKDF: Void = { setenv("ZTOKEN_TESTONLY_MINIMAL_KDF", "1", 1) }()

    /// A fixed, published X25519 identity for the age targets: seeds are
    /// encrypted to its recipient (age1yfrmtflqq747nzdlze7fklajxdgrs38kp0e9s3ggxyc2fed4q47s4f5pg8)
    /// so mutated files get past the header to the payload.
    package static let identityText = "AGE-SECRET-KEY-1XREF0PWC502N34K7CNY9ST4LZKZTUN4K5JYWRVZGMC2JQ88FHZVS3HFSUH"

    package static let identity: AgeX25519Identity = {
        do {
            return try AgeX25519Identity(parsing: SecureBytes(copying: Array(identityText.utf8)))
        } catch {
            fatalError("FuzzEntryPoints: the fixed identity does not parse")
        }
    }()

    /// index.json: decode, validate, and for an accepted index check that
    /// writing it and reading it back gives the same index.
    package static func indexDecoder(_ data: [UInt8]) {
        guard let index = try? Index.decode(data, path: "fuzz/index.json") else { return }
        guard let again = try? Index.decode(index.encoded(), path: "fuzz/index.json") else {
            fatalError("fuzz-index: an accepted index does not read back after writing")
        }
        precondition(again == index, "fuzz-index: an accepted index changed on a write/read round trip")
    }

    /// log.jsonl: parse and check the links; for every accepted line, its
    /// event written again (in the writer's form) reads back the same.
    package static func eventLog(_ data: [UInt8]) {
        guard let lines = try? EventLog.parse(data[...], path: "fuzz/log.jsonl"), let last = lines.last else { return }
        let anchor = LogAnchor(lines: lines.count, bytes: data.count, head: last.hash)
        _ = try? EventLog.verify(lines, byteCount: data.count, anchor: anchor, vaultID: "fuzz", path: "fuzz/log.jsonl")
        _ = EventLog.replay(lines, against: Index())
        for line in lines {
            var again = EventLog.encode(line.event, prev: line.prev, prior: line.prior, merged: line.merged)
            again.append(UInt8(ascii: "\n"))
            guard let read = try? EventLog.parse(again[...], path: "fuzz/log.jsonl"), read.count == 1 else {
                fatalError("fuzz-log: an accepted line does not read back after writing")
            }
            precondition(
                read[0].event == line.event && read[0].prev == line.prev && read[0].prior == line.prior
                    && read[0].merged == line.merged, "fuzz-log: a line changed on a write/read round trip")
        }
    }

    /// The age header: parse, and for an accepted header check that it has
    /// exactly one spelling (re-encoding gives back the bytes the MAC covers).
    package static func ageHeader(_ data: [UInt8]) {
        guard let header = try? AgeHeader.parse(AgeReader(bytes: data), path: "fuzz.age") else { return }
        precondition(
            AgeHeader.encodeWithoutMAC(header.stanzas) == header.macInput,
            "fuzz-age-header: an accepted header re-encodes differently")
    }

    /// The age payload: the whole file decrypted with the fixed identity, and
    /// the STREAM decryptor alone over the input under a fixed payload key.
    package static func ageStream(_ data: [UInt8]) {
        if let plaintext = try? Age.decrypt(data, with: [.x25519(identity)], path: "fuzz.age") {
            precondition(plaintext.count <= data.count, "fuzz-age-stream: plaintext longer than the file")
        }
        let key = SecureBytes(copying: [UInt8](repeating: 0x42, count: 32))
        let stream = AgeStreamDecryptor(key: key, reader: AgeReader(bytes: data), path: "fuzz.age")
        var released = 0
        while let more = try? stream.next({ released += $0.count }), more {}
        precondition(released <= data.count, "fuzz-age-stream: released more bytes than were read")
    }

    /// A zbot.properties template: parse, and for an accepted one render it
    /// with fixed values and check the result is ASCII holding the token.
    package static func template(_ data: [UInt8]) {
        guard let template = try? BundleTemplate(parsing: data, path: "fuzz.template") else { return }
        let token = SecureBytes(copying: Array("ztk_FUZZfuzzFUZZfuzzFUZZfuzzFUZZfuzz0000000".utf8))
        guard
            let rendered = try? template.render(
                name: "fuzz bot ü", serverURL: "https://z.example.com/x?a=b", token: token)
        else {
            fatalError("fuzz-template: an accepted template does not render")
        }
        rendered.withUnsafeBytes { bytes in
            precondition(bytes.allSatisfy { $0 < 0x80 }, "fuzz-template: rendered file is not ASCII")
            precondition(bytes.count >= token.count, "fuzz-template: rendered file cannot hold the token")
        }
    }

    /// The scanner's search: the input (its first byte picks the chunk
    /// size, its second the size of each read) searched with an imported
    /// shape taken from its own bytes must give exactly what one read of
    /// the whole input through one chunk gives, each candidate inside
    /// the input with a line and column that agree with its offset.
    package static func scanner(_ data: [UInt8]) {
        guard data.count >= 2 else { return }
        let chunk = Int(data[0]) + 1
        let step = Int(data[1]) + 1
        let input = Array(data[2...])
        var shapes = Set<ImportedShape>()
        if input.count >= 20 { shapes.insert(ImportedShape(length: 16, last4: Array(input[16..<20]))) }
        func run(chunk: Int, step: Int) -> [[Int]] {
            let search = TokenSearch(shapes: shapes, chunkSize: chunk)
            var found: [[Int]] = []
            let record = { (candidate: TokenCandidate) in
                found.append([candidate.offset, candidate.token.count, candidate.line, candidate.column])
            }
            input.withUnsafeBytes { all in
                var offset = 0
                while offset < all.count {
                    let end = min(offset + step, all.count)
                    search.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end]), found: record)
                    offset = end
                }
            }
            search.search(final: true, found: record)
            return found
        }
        let whole = run(chunk: max(input.count, 1), step: max(input.count, 1))
        precondition(run(chunk: chunk, step: step) == whole, "fuzz-scanner: the answer depends on the chunking")
        var previous = -1
        for found in whole {
            let (offset, length, line, column) = (found[0], found[1], found[2], found[3])
            precondition(offset >= previous, "fuzz-scanner: candidates out of order")
            previous = offset
            precondition(offset >= 0 && offset + length <= input.count, "fuzz-scanner: a candidate outside the input")
            precondition(column >= 1 && column <= offset + 1 && line >= 1, "fuzz-scanner: impossible line or column")
            // The column is counted from the last line break before the candidate.
            let head = input[0..<offset]
            let lineStart = (head.lastIndex { $0 == 0x0A || $0 == 0x0D }).map { $0 + 1 } ?? 0
            precondition(column == offset - lineStart + 1, "fuzz-scanner: wrong column")
            var breaks = 0
            for (position, byte) in head.enumerated() where byte == 0x0A || byte == 0x0D {
                if byte == 0x0A || position + 1 == offset || input[position + 1] != 0x0A { breaks += 1 }
            }
            precondition(line == breaks + 1, "fuzz-scanner: wrong line")
        }
    }

    /// A decrypted backup: the tar reader and every check `restore` makes
    /// before it touches the disk; an accepted archive's files must be the
    /// ones the manifest lists.
    package static func backupArchive(_ data: [UInt8]) {
        _ = minimalKDF
        _ = try? TarArchive.read(
            SecureBytes(copying: data), displayPath: "fuzz.tar",
            limits: .init(maxTotalSize: 1 << 24, maxEntryCount: 1000))
        guard let checked = try? Vault.checkBackupArchive(data, shown: "fuzz.backup") else { return }
        for (path, _) in checked.contents {
            let isRecord =
                path.hasPrefix(VaultLayout.records + "/")
                && VaultLayout.recordID(fromName: String(path.dropFirst(VaultLayout.records.count + 1))) != nil
            precondition(
                isRecord || [VaultLayout.metadata, VaultLayout.wrappedKey, VaultLayout.index].contains(path),
                "fuzz-backup: an accepted backup installs an unexpected path")
        }
    }
}
#endif
