// zbot-fleet: creates a token and an age-encrypted configuration bundle for
// every agent listed in a file, the way a team sets up a row of build agents.
//
//     zbot-fleet AGENTS-FILE SERVER-URL OUT-DIR
//
// AGENTS-FILE holds one agent per line: its name and the `age1…` recipient of
// the key on its machine, separated by spaces; blank lines and lines starting
// with `#` are skipped. Each bundle is written to OUT-DIR/NAME.age.
//
// The whole file is checked first (names, recipients, the server URL, that no
// bundle exists yet), so a mistake on line 7 creates no token at all. Tokens
// are then created one by one; a token whose bundle cannot be written is taken
// back by `createZBot`, so every token that stays has its bundle.
import Foundation
import TokenVault

func fail(_ message: String, code: Int32) -> Never {
    FileHandle.standardError.write(Data("zbot-fleet: error: \(message)\n".utf8))
    exit(code)
}

/// One line of the agents file, checked.
struct Agent {
    var name: String
    var recipient: AgeX25519Recipient
    var line: Int
}

/// Reads the agents file. A name becomes a file name, so it may not hold `/`
/// or start with a dot; it must also be a valid token label.
func readAgents(_ path: String) throws -> [Agent] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw VaultError.fileNotFound(path: path)
    }
    var agents: [Agent] = []
    for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let line = rawLine.trimmingCharacters(in: .whitespaces)
        if line.isEmpty || line.hasPrefix("#") { continue }
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 2 else {
            throw VaultError.invalidArgument("\(path):\(offset + 1): expected NAME AGE-RECIPIENT")
        }
        let name = try LabelRules.validated(fields[0])
        guard !name.contains("/"), !name.hasPrefix(".") else {
            throw VaultError.invalidArgument("\(path):\(offset + 1): an agent name may not contain / or start with .")
        }
        guard !agents.contains(where: { $0.name == name }) else {
            throw VaultError.invalidArgument("\(path):\(offset + 1): agent \(name) is listed twice")
        }
        agents.append(Agent(name: name, recipient: try AgeX25519Recipient(parsing: fields[1]), line: offset + 1))
    }
    return agents
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count == 3 else { fail("usage: zbot-fleet AGENTS-FILE SERVER-URL OUT-DIR", code: 64) }
let (agentsFile, serverURL, outDirectory) = (arguments[0], arguments[1], arguments[2])

var created = 0
do {
    let vault = try Vault(openingAt: Vault.defaultPath)
    let agents = try readAgents(agentsFile)
    _ = try vault.bundleServerURL(serverURL)  // refuse a bad URL before any token exists
    // Claim every output file before creating any token: an existing bundle
    // is refused here. An OutputFile that is never committed leaves nothing.
    let outputs = try agents.map { try OutputFile(path: "\(outDirectory)/\($0.name).age", overwrite: false) }
    for (agent, output) in zip(agents, outputs) {
        let info = try vault.createZBot(
            name: agent.name, serverURL: serverURL, template: nil,
            destination: .encrypted(recipients: [.x25519(agent.recipient)], output: output))
        created += 1
        print("\(info.label)\t\(info.id)\t\(output.path)")
    }
} catch let error as VaultError {
    // Tokens created before the failure stay, each with its bundle; say so.
    let done = created == 0 ? "" : " (\(created) agent(s) before it were set up)"
    fail(error.message + done, code: error.exitCode)
} catch {
    fail("\(error)", code: 70)
}
