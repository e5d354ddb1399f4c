// swift-tools-version:6.1
import PackageDescription

// Every target compiles in Swift 6 language mode with warnings as errors. Release: generic code
// specialized across modules, and one section per function so that the link can order them.
let strictness: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"]),
    .unsafeFlags(["-cross-module-optimization", "-Xfrontend", "-function-sections"], .when(configuration: .release)),
]

// The release engine's link: the Swift runtime and Foundation linked in, only what is used (idle
// resident memory 37 → 31.5 MB), with the archives SwiftPM's --static-swift-stdlib would name, so
// that a plain `swift build -c release` does it; lld, which does not relay glibc's link-time note on
// the mktemp inside Foundation's own archive. Relative relocations packed (DT_RELR, glibc 2.36): the
// loader no longer reads 1.8 MB of them at each start (idle 27.2 → 25.4 MB). The functions run from
// start to idle placed first (link-order.txt, written by Benchmarks/link-order/record.py), where the
// kernel's 64 KB around each page fault maps their neighbours: idle 25.4 → 20.6 MB.
let releaseLink: [String] =
    ["-static-stdlib", "-use-ld=lld"]
    + ["-z", "pack-relative-relocs", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/pushdoc/link-order.txt",
       "--no-warn-symbol-ordering"].flatMap { ["-Xlinker", $0] }
    + ["Foundation", "FoundationEssentials", "FoundationInternationalization", "_FoundationCShims",
       "_FoundationCollections", "_FoundationICU", "CoreFoundation", "swiftSynchronization",
       "swift_RegexParser", "swift_StringProcessing"].map { "-l" + $0 }

let package = Package(
    name: "Pushdoc",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pushdoc", targets: ["pushdoc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "CCurl"),
        .target(name: "CByteSearch"),
        .systemLibrary(name: "CLinux"),
        .target(name: "JSONSafety", swiftSettings: strictness),
        .target(
            name: "JSONRPC",
            dependencies: ["JSONSafety", "CLinux", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictness
        ),
        .target(
            name: "Store",
            dependencies: ["CSQLite", "CCrypto", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictness
        ),
        .target(
            name: "InqomClient",
            dependencies: ["CCurl", "JSONSafety", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictness
        ),
        .target(name: "Mail", dependencies: ["CCurl"], swiftSettings: strictness),
        .target(
            name: "Engine",
            dependencies: ["Store", "InqomClient", "Mail", "JSONSafety", "CByteSearch", "CLinux", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictness
        ),
        .target(
            name: "PushdocRPC",
            dependencies: ["JSONRPC", "Engine", "InqomClient", .product(name: "Logging", package: "swift-log")],
            resources: [.embedInCode("openrpc.json")],
            swiftSettings: strictness
        ),
        .target(
            name: "StderrLog",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strictness
        ),
        .executableTarget(
            name: "pushdoc",
            dependencies: [
                "PushdocRPC", "Engine", "Store", "JSONRPC", "StderrLog", "CLinux",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["link-order.txt"],
            swiftSettings: strictness,
            linkerSettings: [.unsafeFlags(releaseLink, .when(configuration: .release))]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["JSONRPC"],
            path: "Tests/TestSupport",
            swiftSettings: strictness
        ),
        .executableTarget(
            name: "pushdoc-bench",
            dependencies: ["InqomClient", "Store", "TestSupport", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/PushdocBench",
            swiftSettings: strictness
        ),
        .testTarget(name: "JSONRPCTests", dependencies: ["JSONRPC", "JSONSafety", "TestSupport"], swiftSettings: strictness),
        .testTarget(name: "InqomClientTests", dependencies: ["InqomClient", "TestSupport"], swiftSettings: strictness),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Store", "TestSupport"], swiftSettings: strictness),
        .testTarget(name: "MailTests", dependencies: ["Mail"], swiftSettings: strictness),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport"], swiftSettings: strictness),
        .testTarget(
            name: "PushdocTests",
            dependencies: ["pushdoc", "PushdocRPC", "TestSupport"],
            swiftSettings: strictness
        ),
    ],
    swiftLanguageModes: [.v6]
)
