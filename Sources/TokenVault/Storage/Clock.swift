// Wall-clock time as RFC 3339 UTC strings ("2026-11-29T01:29:20Z"), the only
// form of time the vault stores.
#if canImport(Glibc)
import Glibc
#endif

enum Clock {
    /// The current time, RFC 3339 UTC, to the second.
    static func now() -> String { rfc3339(time(nil)) }

    static func rfc3339(_ seconds: time_t) -> String {
        var t = seconds
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))Z"
    }
}
