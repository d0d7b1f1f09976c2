// Runs scripts/crashtest --quick against the built binary: every mutating
// command killed (SIGKILL) or failed (EIO, ENOSPC, EACCES) at the Nth call of
// each syscall kind, with the vault checked after each. The full run (every
// N) is documented in the script's header.
import Foundation
import TestSupport
import Testing

@Suite struct CrashDriverTests {
    @Test(.timeLimit(.minutes(20)))
    func everyMutatingCommandSurvivesEveryCrashAndFaultPoint() throws {
        let binary = try CLIHarness.requireBinary()
        try #require(ExternalTools.find("strace") != nil, "strace is needed for crash tests")
        try #require(ExternalTools.find("age") != nil, "age is needed to open the bundles crashtest checks")
        let python = try #require(ExternalTools.find("python3"), "python3 runs scripts/crashtest")
        let box = try Sandbox()
        let result = try box.run(
            [CLIHarness.packageRoot + "/scripts/crashtest", "--quick", "--binary", binary],
            executable: python)
        let summary = result.stdoutLines.last { $0.hasPrefix("crashtest: ") } ?? ""
        print(summary)
        #expect(result.status == 0, "\(result)")
        let numbers = summary.split(separator: " ").compactMap { Int($0) }
        #expect(numbers.count >= 2 && numbers[0] > 0 && numbers[1] > 0, "no points reported: \(summary)")
        #expect(summary.hasSuffix(" 0 failures"), "\(summary)")
    }
}
