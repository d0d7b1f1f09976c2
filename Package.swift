// swift-tools-version: 6.0
//
// Layers, bottom to top: CSodium (libsodium through pkg-config) → TokenVault
// (crypto and storage inside, one public API on top) → ZTokenCLI (one file per
// subcommand) → ztoken (the entry point). Only TokenVault imports CSodium.
import PackageDescription

// scripts/fuzz sets ZTOKEN_FUZZ=1: the fuzz targets below exist, and
// TokenVault compiles its fuzz entry points (FuzzEntryPoints.swift).
let fuzzing = Context.environment["ZTOKEN_FUZZ"] == "1"

let package = Package(
    name: "ztoken",
    products: [
        .library(name: "TokenVault", targets: ["TokenVault"]),
        .executable(name: "ztoken", targets: ["ztoken"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // Plugin only (`swift package generate-documentation`): no target
        // depends on it, so it adds nothing to what builds or links.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(name: "CProcessShims"),
        // Test-only: inflates the zlib-compressed age conformance vectors.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "TokenVault",
            dependencies: ["CSodium", "CProcessShims"],
            swiftSettings: fuzzing ? [.define("ZTOKEN_FUZZ")] : []
        ),
        .target(
            name: "ZTokenCLI",
            dependencies: [
                "TokenVault",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "ztoken",
            dependencies: ["ZTokenCLI"]
        ),
        // Dev tool, not a product: times TokenVault's age code for scripts/bench-age.
        .executableTarget(
            name: "ztoken-age-bench",
            dependencies: ["TokenVault"]
        ),
        // Dev-only: fills a vault with many tokens for scripts/bench.
        .executableTarget(
            name: "ztoken-bench-setup",
            dependencies: ["TokenVault"]
        ),
        // The README's library example, byte for byte (ReadmeExampleTests
        // checks that and runs it). An executable target of the root
        // package only: `swift build` compiles it, users never install it.
        .executableTarget(
            name: "ztoken-example-zbot",
            dependencies: ["TokenVault"],
            path: "Examples/zbot-bundle"
        ),
        // Example: a token and a bundle for every agent listed in a file.
        .executableTarget(
            name: "ztoken-example-fleet",
            dependencies: ["TokenVault"],
            path: "Examples/zbot-fleet"
        ),
        // What both test targets use: tool lookup, temp directories, file
        // modes and inodes, the minimal-KDF switch.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "TokenVaultTests",
            dependencies: ["TokenVault", "TestSupport", "CZlib"]
        ),
        .testTarget(
            name: "ZTokenCLITests",
            // Depending on the executables makes `swift test` build `ztoken`
            // and the examples first; the tests run them from the build directory.
            dependencies: [
                "TokenVault", "ZTokenCLI", "ztoken", "ztoken-example-zbot", "ztoken-example-fleet", "TestSupport",
            ],
            exclude: ["Snapshots"]
        ),
    ],
    // Swift 6 mode (complete strict concurrency checking) for every target,
    // said outright rather than left to the tools version's default.
    swiftLanguageModes: [.v6]
)

// Fuzz targets (docs/fuzzing in scripts/fuzz): one executable per parser,
// each a single file whose `@_cdecl("LLVMFuzzerTestOneInput")` libFuzzer
// calls; libFuzzer brings main(), so they link only in a
// `swift build --sanitize fuzzer` build. They exist only when ZTOKEN_FUZZ=1,
// so a plain `swift build` or `swift test` never tries to link them.
if fuzzing {
    for (name, directory) in [
        ("fuzz-index", "fuzz-index"), ("fuzz-age-header", "fuzz-age-header"),
        ("fuzz-age-stream", "fuzz-age-stream"), ("fuzz-template", "fuzz-template"),
        ("fuzz-backup", "fuzz-backup"), ("fuzz-scanner", "fuzz-scanner"), ("fuzz-log", "fuzz-log"),
    ] {
        package.targets.append(
            .executableTarget(name: name, dependencies: ["TokenVault"], path: "Sources/" + directory))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
