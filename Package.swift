// swift-tools-version:6.2
import PackageDescription

// Every target compiles in Swift 6 language mode with warnings as errors.
let strictness: [SwiftSetting] = [.treatAllWarnings(as: .error)]
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let package = Package(
    name: "Pushdoc",
    products: [
        .executable(name: "pushdoc", targets: ["pushdoc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "CCurl"),
        .target(name: "CByteSearch"),
        .systemLibrary(name: "CLinux"),
        .target(name: "JSONSafety", swiftSettings: strictness),
        .target(name: "WorkerThreads", dependencies: ["CLinux"], swiftSettings: strictness),
        .target(
            name: "JSONRPC",
            dependencies: ["JSONSafety", "CLinux", "WorkerThreads", logging],
            swiftSettings: strictness
        ),
        .target(
            name: "Store",
            dependencies: ["CSQLite", "CCrypto"],
            swiftSettings: strictness
        ),
        .target(name: "Postgres", dependencies: ["CLibPQ", "Store", "WorkerThreads"], swiftSettings: strictness),
        .target(
            name: "InqomClient",
            dependencies: ["CCurl", "JSONSafety", "WorkerThreads", logging],
            swiftSettings: strictness
        ),
        .target(name: "Mail", dependencies: ["CCurl"], swiftSettings: strictness),
        .target(
            name: "Engine",
            dependencies: ["Store", "Postgres", "InqomClient", "Mail", "JSONSafety", "WorkerThreads", "CByteSearch", "CLinux", logging],
            swiftSettings: strictness
        ),
        .target(
            name: "PushdocRPC",
            dependencies: ["JSONRPC", "Engine", "InqomClient"],
            resources: [.embedInCode("openrpc.json")],
            swiftSettings: strictness
        ),
        .target(
            name: "StderrLog",
            dependencies: [logging],
            swiftSettings: strictness
        ),
        .executableTarget(
            name: "pushdoc",
            dependencies: [
                "PushdocRPC", "Engine", "Store", "JSONRPC", "StderrLog", "WorkerThreads", "CLinux", logging,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictness
        ),
        .target(
            name: "TestSupport",
            dependencies: ["JSONRPC", "Postgres", "CLinux"],
            path: "Tests/TestSupport",
            swiftSettings: strictness
        ),
        .executableTarget(
            name: "pushdoc-bench",
            dependencies: ["InqomClient", "Store", "TestSupport", logging],
            path: "Benchmarks/PushdocBench",
            swiftSettings: strictness
        ),
        .testTarget(name: "JSONRPCTests", dependencies: ["JSONRPC", "JSONSafety", "TestSupport", logging], swiftSettings: strictness),
        .testTarget(name: "InqomClientTests", dependencies: ["InqomClient", "TestSupport", logging], swiftSettings: strictness),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Store", "Postgres", "TestSupport", logging], swiftSettings: strictness),
        .testTarget(name: "MailTests", dependencies: ["Mail"], swiftSettings: strictness),
        .testTarget(name: "WorkerThreadsTests", dependencies: ["WorkerThreads"], swiftSettings: strictness),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport"], swiftSettings: strictness),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "Store", "TestSupport"], swiftSettings: strictness),
        .testTarget(
            name: "PushdocTests",
            dependencies: ["pushdoc", "PushdocRPC", "Postgres", "TestSupport"],
            swiftSettings: strictness
        ),
    ],
    swiftLanguageModes: [.v6]
)
