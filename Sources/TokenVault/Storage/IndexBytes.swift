// The bytes of index.json as a command reads them. A large index is mapped
// read-only rather than read: the mapping shares the page cache's pages, so
// reading 3 MB (10,000 tokens) no longer costs ~700 freshly zeroed pages
// faulted in one by one, which was a third of `list`'s time at that size.
//
// Mapped pages are populated up front with MADV_POPULATE_READ, which fails
// (and the file is then read the ordinary way, so an I/O error is exit 74 as
// before) where touching a page would raise SIGBUS. ztoken never changes
// index.json in place: writers replace it by rename, and the mapping keeps
// the old file. Only a process that truncates the file in place while the
// command runs, which no ztoken does, could still make the mapping fault.
#if canImport(Glibc)
import Glibc
#endif

final class IndexBytes: @unchecked Sendable {
    /// Files smaller than this are read: a mapping costs more than it saves.
    static let mappingThreshold = 256 * 1024

    private let mapping: UnsafeRawBufferPointer?
    private let array: [UInt8]
    let count: Int

    init(_ array: [UInt8]) {
        self.array = array
        mapping = nil
        count = array.count
    }

    /// Maps `size` bytes of the open file `fd`, populated; nil when that
    /// fails (the caller reads the file instead).
    init?(mapping fd: Int32, size: Int) {
        guard size > 0, let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else { return nil }
        guard madvise(base, size, MADV_POPULATE_READ) == 0 else {
            munmap(base, size)
            return nil
        }
        mapping = UnsafeRawBufferPointer(start: base, count: size)
        array = []
        count = size
    }

    deinit {
        if let mapping { munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress), mapping.count) }
    }

    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let mapping { return try body(mapping.bindMemory(to: UInt8.self)) }
        return try array.withUnsafeBufferPointer(body)
    }

    /// True when the file is mapped rather than read.
    var isMapped: Bool { mapping != nil }

    /// The bytes as an array (a copy when mapped).
    var bytes: [UInt8] {
        if let mapping { return Array(mapping) }
        return array
    }
}
