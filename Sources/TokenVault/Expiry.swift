// When a token expires, as a user writes it: a duration from now (`30s`,
// `15m`, `12h`, `90d`, `2w`) or an RFC 3339 date or time (a date alone is
// 00:00 UTC that day; an offset is turned into UTC; fractions of a second are
// dropped). The vault stores the result as RFC 3339 UTC to the second.
// Anything else, a time not in the future, or one past the year 9999 is a
// usage error (exit 64) before anything is written.

/// Parses expiry times and durations.
public enum Expiry {
    /// Seconds since 1970 at which a token given `text` expires, counted from now.
    public static func deadline(_ text: String) throws -> Int64 {
        try deadline(text, from: Int64(Clock.seconds()))
    }

    /// Seconds since 1970 of a moment in the past as a user writes it: a
    /// duration before now (`7d`: a week ago) or a date or time (`log --since`).
    public static func start(_ text: String) throws -> Int64 {
        guard let seconds = duration(text).map({ Int64(Clock.seconds()) - $0 }) ?? moment(text) else {
            throw VaultError.invalidArgument(
                "\(VaultError.quoted(text)) is not a duration or a date",
                hint: "give a duration such as 12h, 7d or 2w (that long ago), or a date such as 2026-12-31")
        }
        return seconds
    }

    /// The RFC 3339 UTC form the vault stores for `seconds` since 1970.
    public static func format(_ seconds: Int64) -> String { RFC3339.format(secondsSince1970: seconds) }

    /// Seconds since 1970 for `text` (a duration from `now`, or a date or
    /// time); throws `.invalidArgument` unless it is after `now`.
    static func deadline(_ text: String, from now: Int64) throws -> Int64 {
        guard let seconds = duration(text).map({ now + $0 }) ?? moment(text) else {
            throw VaultError.invalidArgument(
                "\(VaultError.quoted(text)) is not a duration or a date",
                hint: "give a duration such as 30s, 15m, 12h, 90d or 2w, or a date such as 2026-12-31")
        }
        guard seconds <= latest else {
            throw VaultError.invalidArgument("\(VaultError.quoted(text)) is after the year 9999")
        }
        guard seconds > now else {
            throw VaultError.invalidArgument(
                "\(VaultError.quoted(text)) is not in the future (it is \(format(seconds)))")
        }
        return seconds
    }

    /// 9999-12-31T23:59:59Z: the last time RFC 3339 can write with four digits.
    static let latest: Int64 = 253_402_300_799

    /// A positive whole number of seconds, minutes, hours, days or weeks, in
    /// seconds; nil if `text` is not one or does not fit before the year 9999.
    static func duration(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes.count <= 12, let unit = bytes.last else { return nil }
        let scale: Int64
        switch unit {
        case UInt8(ascii: "s"): scale = 1
        case UInt8(ascii: "m"): scale = 60
        case UInt8(ascii: "h"): scale = 3600
        case UInt8(ascii: "d"): scale = 86_400
        case UInt8(ascii: "w"): scale = 604_800
        default: return nil
        }
        var value: Int64 = 0
        for byte in bytes.dropLast() {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int64(byte - 0x30)
        }
        guard value > 0, value <= latest / scale else { return nil }
        return value * scale
    }

    /// Seconds since 1970 for `YYYY-MM-DD` (00:00 UTC) or an RFC 3339
    /// date-time (`T` or a space between, `Z` or an offset, an optional
    /// fraction), or nil.
    static func moment(_ text: String) -> Int64? {
        var bytes = Array(text.utf8)
        if bytes.count == 10 { return RFC3339.parse(text + "T00:00:00Z") }
        guard bytes.count >= 20 else { return nil }
        if [UInt8(ascii: "t"), UInt8(ascii: " ")].contains(bytes[10]) { bytes[10] = UInt8(ascii: "T") }
        var end = 19
        if bytes[end] == UInt8(ascii: ".") {
            end += 1
            let digits = end
            while end < bytes.count, bytes[end] >= 0x30, bytes[end] <= 0x39 { end += 1 }
            guard end > digits else { return nil }
        }
        let zone = bytes[end...]
        var offset: Int64 = 0
        if zone.elementsEqual("Z".utf8) || zone.elementsEqual("z".utf8) {
            offset = 0
        } else {
            let sign = zone.first
            let parts = Array(zone.dropFirst())
            guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"), parts.count == 5,
                parts[2] == UInt8(ascii: ":"),
                let hours = twoDigits(parts[0], parts[1]), let minutes = twoDigits(parts[3], parts[4]),
                hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 3600 + minutes * 60) * (sign == UInt8(ascii: "+") ? 1 : -1)
        }
        let utc = String(decoding: bytes[0..<19], as: UTF8.self) + "Z"
        return RFC3339.parse(utc).map { $0 - offset }
    }

    private static func twoDigits(_ high: UInt8, _ low: UInt8) -> Int64? {
        guard (0x30...0x39).contains(high), (0x30...0x39).contains(low) else { return nil }
        return Int64(high - 0x30) * 10 + Int64(low - 0x30)
    }
}
