// swift-tools-version:6.1
import PackageDescription

// Every target compiles in Swift 6 language mode with warnings as errors.
let strictness: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"]),
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

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
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .target(name: "JSONSafety", swiftSettings: strictness),
        .target(
            name: "JSONRPC",
            dependencies: ["JSONSafety", .product(name: "Logging", package: "swift-log")],
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
            dependencies: ["Store", "InqomClient", "Mail", "JSONSafety", .product(name: "Logging", package: "swift-log")],
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
                "PushdocRPC", "Engine", "Store", "JSONRPC", "StderrLog",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictness,
            // Release: the Swift runtime and Foundation linked in, only what is used (idle resident
            // memory 37 → 31.5 MB). The archives SwiftPM's --static-swift-stdlib would name, named here
            // so that a plain `swift build -c release` does it; lld, which does not relay glibc's
            // link-time note on the mktemp inside Foundation's own archive.
            linkerSettings: [
                .unsafeFlags(
                    ["-static-stdlib", "-use-ld=lld"]
                        + ["Foundation", "FoundationEssentials", "FoundationInternationalization", "_FoundationCShims",
                           "_FoundationCollections", "_FoundationICU", "CoreFoundation", "swiftSynchronization",
                           "swift_RegexParser", "swift_StringProcessing"].map { "-l" + $0 },
                    .when(configuration: .release)),
            ]
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
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport"], swiftSettings: strictness),
        .testTarget(
            name: "PushdocTests",
            dependencies: ["pushdoc", "PushdocRPC", "TestSupport"],
            swiftSettings: strictness
        ),
    ],
    swiftLanguageModes: [.v6]
)
