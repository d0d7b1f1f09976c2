// `scripts/manpage` writes a real man page from the built binary's own
// definitions: every section a reader looks for, every command, the exit
// status table of docs/SPEC.md, every environment variable the code reads,
// the README's tour; and groff renders it without a single warning.
import Foundation
import TestSupport
import Testing

@Suite struct ManPageTests {
    /// The page `scripts/manpage` writes for the ztoken under test.
    static func page(_ box: Sandbox) throws -> String {
        let script = CLIHarness.packageRoot + "/scripts/manpage"
        let result = try box.run([script, try CLIHarness.requireBinary()], executable: "/bin/bash")
        try #require(result.status == 0 && result.stderr.isEmpty, "scripts/manpage failed: \(result)")
        return result.stdout
    }

    @Test func groffRendersItWithoutWarnings() throws {
        let box = try Sandbox()
        let groff = try ExternalTools.locate("groff", package: "groff-base")
        let path = box.root + "/ztoken.1"
        box.write(try Self.page(box), to: path)
        let rendered = try box.run(["-man", "-ww", "-z", path], executable: groff)
        #expect(rendered.status == 0, "\(rendered)")
        #expect(rendered.stderr.isEmpty, "groff warned: \(rendered.stderr)")
        // The same with the text device a terminal's man uses, as `man -l` renders it.
        let text = try box.run(["-man", "-ww", "-Tutf8", path], executable: groff)
        #expect(text.status == 0 && text.stderr.isEmpty, "\(text.stderr)")
        #expect(text.stdout.contains("The writers' lock; permanent, never removed."))
    }

    @Test func itHasEverySectionInOrder() throws {
        let box = try Sandbox()
        let page = try Self.page(box)
        let sections = page.split(separator: "\n").filter { $0.hasPrefix(".SH ") }.map { String($0.dropFirst(4)) }
        #expect(
            sections == [
                "NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES",
                "SEE ALSO",
            ])
        #expect(page.contains(".BR age (1),") && page.contains(".BR pass (1)"))
    }

    @Test func itDescribesEveryCommandAndItsOptions() throws {
        let box = try Sandbox()
        let page = try Self.page(box)
        for command in HelpTests.commands where !command.isEmpty {
            #expect(page.contains(".SS \"ztoken \(command)\"\n"), "no section for \(command)")
        }
        #expect(page.contains("\\fB\\-\\-expiring\\fR \\fIwhen\\fR"), "list's --expiring option")
        #expect(page.contains("\\-\\-vault"), "the top-level --vault")
    }

    @Test func itCarriesTheExitStatusTableOfTheSpec() throws {
        let box = try Sandbox()
        let page = try Self.page(box)
        let spec = try String(contentsOfFile: CLIHarness.packageRoot + "/docs/SPEC.md", encoding: .utf8)
        let codes = spec.matches(of: #/\n\| (\d+) \| /#).map { String($0.output.1) }
        #expect(codes == ["0", "1", "64", "65", "66", "73", "74", "75", "77"])
        for code in codes { #expect(page.contains("\n.B \(code)\n"), "exit status \(code) missing") }
        #expect(page.contains("busy: another ztoken holds the vault lock"))
    }

    @Test func itExplainsEveryEnvironmentVariableAndShowsTheTour() throws {
        let box = try Sandbox()
        let page = try Self.page(box)
        let environment = try #require(page.range(of: ".SH ENVIRONMENT\n")).upperBound
        let files = try #require(page.range(of: ".SH FILES\n")).lowerBound
        let section = page[environment..<files]
        for name in try HelpTests.environmentVariablesTheCodeReads() {
            #expect(section.contains(".B \(name)\n"), "$\(name) is not in the man page's ENVIRONMENT")
        }
        #expect(page.contains("VAULT/index.json") && page.contains("VAULT/records/ID.sealed"))
        #expect(page.contains("$ ztoken create ci-runner"), "the README's tour")
        #expect(page.contains("$ ztoken revoke \\-\\-all \\-\\-yes"))
    }
}
