// The one version number of ztoken. The library reports it and the CLI's
// `--version` prints it, so the two can never disagree. It follows semantic
// versioning for the public API of TokenVault and the command line of
// docs/SPEC.md; CHANGELOG.md says what each version changed, and it is
// raised together with that file before a version is tagged.

extension Vault {
    /// The version of TokenVault, which `ztoken --version` also prints.
    ///
    /// It follows [semantic versioning](https://semver.org): a release that
    /// removes or changes public API raises the major version (the minor one
    /// while it is 0). CHANGELOG.md in the repository lists what changed.
    public static let libraryVersion = "0.2.0"
}
