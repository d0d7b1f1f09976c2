// Wall-clock time as RFC 3339 UTC strings ("2026-11-29T01:29:20Z"), the only
// form of time the vault stores.
#if canImport(Glibc)
import Glibc
#endif

enum Clock {
    /// The current time, RFC 3339 UTC, to the second.
    static func now() -> String { RFC3339.format(secondsSince1970: Int64(seconds())) }

    /// Seconds since 1970.
    static func seconds() -> time_t { time(nil) }
}
