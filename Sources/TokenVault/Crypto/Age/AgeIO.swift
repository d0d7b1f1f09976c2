// Where age bytes come from and go to. A source is a closure that reads some
// bytes (0 = end of input); a sink is a closure that takes all the bytes it is
// given. `AgeReader` puts a small buffer in front of a source so the header
// can be read line by line and the payload read in whole chunks after it,
// without reading the input twice or holding more than one chunk.

/// Takes every byte it is given (writes them out, hashes them, appends them…).
package typealias AgeSink = (UnsafeRawBufferPointer) throws -> Void

/// Reads up to `buffer.count` bytes into `buffer` and returns how many; 0 means
/// the end of the input.
package typealias AgeSource = (UnsafeMutableRawBufferPointer) throws -> Int

/// A buffered reader over an `AgeSource`.
final class AgeReader {
    private let source: AgeSource
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var sourceEnded = false

    init(_ source: @escaping AgeSource, bufferSize: Int = 4096) {
        self.source = source
        self.buffer = [UInt8](repeating: 0, count: bufferSize)
    }

    /// A reader over bytes already in memory.
    convenience init(bytes: [UInt8]) {
        self.init(AgeReader.source(over: bytes))
    }

    private func refill() throws -> Bool {
        if sourceEnded { return false }
        start = 0
        end = try buffer.withUnsafeMutableBytes { try source($0) }
        if end == 0 { sourceEnded = true }
        return end > 0
    }

    /// The next line including its LF, or what is left before the end of
    /// input if no LF comes (the caller decides that is an error). Lines
    /// longer than `limit` end early: the caller sees no LF and fails.
    func readLine(limit: Int) throws -> [UInt8] {
        var line: [UInt8] = []
        while line.count < limit {
            if start == end, try !refill() { break }
            let byte = buffer[start]
            start += 1
            line.append(byte)
            if byte == 0x0A { break }
        }
        return line
    }

    /// Fills `destination` completely unless the input ends first; returns
    /// the number of bytes read.
    func readFull(_ destination: UnsafeMutableRawBufferPointer) throws -> Int {
        var filled = 0
        while filled < destination.count {
            if start < end {
                let count = min(end - start, destination.count - filled)
                buffer.withUnsafeBytes {
                    UnsafeMutableRawBufferPointer(rebasing: destination[filled..<(filled + count)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<(start + count)]))
                }
                start += count
                filled += count
                continue
            }
            if sourceEnded { break }
            // Large reads go straight to the destination, not through the buffer.
            let n = try source(UnsafeMutableRawBufferPointer(rebasing: destination[filled...]))
            if n == 0 {
                sourceEnded = true
                break
            }
            filled += n
        }
        return filled
    }

    /// True when no byte is left.
    func atEnd() throws -> Bool {
        if start < end { return false }
        return try !refill()
    }
}

extension AgeReader {
    /// A reader over a file descriptor (read(2), EINTR retried).
    convenience init(fileDescriptor fd: Int32, displayPath: String) {
        self.init({ try Syscall.readSome(fd, $0, displayPath: displayPath) }, bufferSize: 4096)
    }
}
