// Placeholder so the ZTokenCLITests target declared in Package.swift builds
// before the CLI tests land; delete when the first real test file arrives.
