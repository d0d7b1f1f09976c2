// Shell completion of the tokens a command can name (issue 16, item 9):
// ArgumentParser's custom completion calls back into ztoken with the words
// of the command line. It reads the index only (no passphrase), never waits
// for the lock, and on any failure (no vault, a busy or damaged one) offers
// nothing and prints nothing: a completion must never write on the prompt.
import ArgumentParser
import TokenVault

enum TokenCompletion {
    /// The completion of a LABEL|ID argument: the labels and ids of the
    /// vault's active tokens.
    static let activeTokens = CompletionKind.custom { words, _, prefix in candidates(words: words, prefix: prefix) }

    /// The labels and ids of the active tokens of the vault the command line
    /// names (`--vault DIR`, else `$ZTOKEN_VAULT` and the defaults) that
    /// begin with `prefix`.
    static func candidates(words: [String], prefix: String) -> [String] {
        guard let vault = try? Vault(openingAt: VaultLocation.resolve(explicit: vaultOption(in: words))) else {
            return []
        }
        vault.lockTimeout = 0
        guard let tokens = try? vault.tokens() else { return [] }
        let names = tokens.filter { $0.state == .active }.flatMap { [$0.label, $0.id] }
        return names.filter { $0.hasPrefix(prefix) }
    }

    /// The value of the last `--vault DIR` or `--vault=DIR` among the words.
    static func vaultOption(in words: [String]) -> String? {
        var found: String?
        for (index, word) in words.enumerated() {
            if word == "--vault", index + 1 < words.count {
                found = words[index + 1]
            } else if word.hasPrefix("--vault=") {
                found = String(word.dropFirst("--vault=".count))
            }
        }
        return found
    }
}

/// The one token a command acts on, as every such command takes it: a label
/// or id, completed from the vault's active tokens.
struct TokenArgument: ParsableArguments {
    @Argument(
        help: ArgumentHelp("The token's label or id.", valueName: "label-or-id"),
        completion: TokenCompletion.activeTokens)
    var token: String
}
