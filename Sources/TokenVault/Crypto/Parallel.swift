// Splitting CPU-bound work over the machine's cores, with POSIX threads: the
// uses are sealing and opening batches of age chunks (AgeStream.swift), where
// ChaCha20-Poly1305 is nearly all the time an encryption or decryption takes
// and chunks are independent, and a large backup's record reads and digests. No
// dispatch library and no thread pool: a handful of threads per megabyte
// costs microseconds against milliseconds of cipher work.
#if canImport(Glibc)
import Glibc
#endif

package enum Parallel {
    /// Cores this process may run on now.
    package static let processorCount = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Runs `work(part)` for every part in `0..<parts`, part 0 on the calling
    /// thread and each other part on a thread of its own, and returns when
    /// all are done. Parts must not touch the same memory. A part whose
    /// thread cannot be started runs on the calling thread.
    package static func run(parts: Int, _ work: (Int) -> Void) {
        guard parts > 1 else {
            if parts == 1 { work(0) }
            return
        }
        withoutActuallyEscaping(work) { work in
            var threads: [pthread_t] = []
            threads.reserveCapacity(parts - 1)
            for part in 1..<parts {
                let job = Unmanaged.passRetained(Job(work: work, part: part)).toOpaque()
                var thread = pthread_t()
                let started = pthread_create(&thread, nil, { raw in
                    let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
                    job.work(job.part)
                    return nil
                }, job)
                if started == 0 {
                    threads.append(thread)
                } else {
                    Unmanaged<Job>.fromOpaque(job).release()
                    work(part)
                }
            }
            work(0)
            for thread in threads { pthread_join(thread, nil) }
        }
    }

    /// `transform(i)` for every `i` in `0..<count`, in order, computed in
    /// `parts` interleaved parts (see `run`).
    package static func map<T>(count: Int, parts: Int, _ transform: (Int) -> T) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            run(parts: min(parts, count)) { part in
                for i in stride(from: part, to: count, by: parts) {
                    (buffer.baseAddress! + i).initialize(to: transform(i))
                }
            }
            initialized = count
        }
    }

    /// One part's work, handed to its thread.
    private final class Job {
        let work: (Int) -> Void
        let part: Int
        init(work: @escaping (Int) -> Void, part: Int) {
            self.work = work
            self.part = part
        }
    }
}
