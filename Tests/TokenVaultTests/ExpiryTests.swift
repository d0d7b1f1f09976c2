// Expiry.swift: durations and RFC 3339 dates or times as a user writes them,
// measured from a fixed "now" so the answers are exact.
import Testing

@testable import TokenVault

@Suite struct ExpiryTests {
    /// 2026-11-29T09:12:40Z.
    static let now: Int64 = 1_795_943_560

    @Test(
        arguments: [
            ("30s", 30), ("15m", 900), ("12h", 43_200), ("90d", 7_776_000), ("2w", 1_209_600), ("1s", 1),
            ("007d", 604_800),
        ] as [(String, Int64)])
    func durationsCountFromNow(_ text: String, _ seconds: Int64) throws {
        #expect(try Expiry.deadline(text, from: Self.now) == Self.now + seconds)
    }

    @Test(
        arguments: [
            ("2026-12-31", "2026-12-31T00:00:00Z"), ("2026-12-31T23:59:59Z", "2026-12-31T23:59:59Z"),
            ("2026-12-31t10:00:00z", "2026-12-31T10:00:00Z"), ("2026-12-31 10:00:00Z", "2026-12-31T10:00:00Z"),
            ("2026-12-31T10:00:00+02:00", "2026-12-31T08:00:00Z"),
            ("2026-12-31T23:30:00-01:00", "2027-01-01T00:30:00Z"),
            ("2026-12-31T10:00:00.999Z", "2026-12-31T10:00:00Z"), ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
        ] as [(String, String)])
    func datesAndTimesAreReadAsUTC(_ text: String, _ utc: String) throws {
        #expect(Expiry.format(try Expiry.deadline(text, from: Self.now)) == utc)
    }

    @Test(arguments: [
        "", "never", "0s", "0d", "-5d", "5", "d", "5y", "5 d", "5D", "1.5h", "+5d", "٣d", "99999999999w",
        "2026-12", "2026-12-32", "2026-02-29", "2026-12-31T10:00Z", "2026-12-31T10:00:00", "2026-12-31T10:00:00.Z",
        "2026-12-31T10:00:00+2:00", "2026-12-31T10:00:00+24:00", "2026-12-31T10:00:00+02:60", "2026-12-31X10:00:00Z",
        "2026-12-31T10:00:60Z",
    ])
    func refusesWhatIsNotADurationOrADate(_ text: String) {
        #expect(throws: VaultError.self, "\(text)") { try Expiry.deadline(text, from: Self.now) }
        #expect((try? Expiry.deadline(text, from: Self.now)) == nil)
    }

    @Test(arguments: ["2026-11-29T09:12:40Z", "2026-11-29", "2000-01-01", "2026-11-29T10:12:40+01:00"])
    func refusesATimeNotInTheFuture(_ text: String) {
        #expect(throws: VaultError.self) { try Expiry.deadline(text, from: Self.now) }
        do {
            _ = try Expiry.deadline(text, from: Self.now)
        } catch let error as VaultError {
            #expect(error.exitCode == 64 && error.message.contains("is not in the future"), "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func refusesATimePastTheYear9999() {
        #expect(throws: VaultError.self) { try Expiry.deadline("9999-12-31T23:59:59-00:01", from: Self.now) }
        #expect(throws: VaultError.self) { try Expiry.deadline("500000w", from: Self.now) }
    }
}
