import Testing

@testable import TokenVault

@Suite struct RFC3339Tests {
    @Test(
        arguments: [
            (0, "1970-01-01T00:00:00Z"), (1_714_564_800, "2024-05-01T12:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"), (-1, "1969-12-31T23:59:59Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
        ] as [(Int64, String)])
    func formatsAndParses(_ seconds: Int64, _ text: String) {
        #expect(RFC3339.format(secondsSince1970: seconds) == text)
        #expect(RFC3339.parse(text) == seconds)
    }

    @Test(arguments: [
        "", "2024-05-01T12:00:00", "2024-05-01 12:00:00Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
        "2024-05-01T24:00:00Z", "2024-05-01T12:00:60Z", "2024-05-01T12:00:00.5Z", "0000-01-01T00:00:00Z",
        "２024-05-01T12:00:00Z",
    ])
    func rejects(_ text: String) {
        #expect(RFC3339.parse(text) == nil)
    }
}
