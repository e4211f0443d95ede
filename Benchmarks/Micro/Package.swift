// swift-tools-version:6.1
// Micro-benchmarks of the protocol hot paths (docs/MICROBENCHMARKS.md). A package of its own so
// that the main build and CI never compile ordo-one/benchmark or its malloc interposer.
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "ChatterboxMicroBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        // Named: a path dependency is otherwise known by its folder, which differs between clones.
        .package(name: "Chatterbox", path: "../.."),
        // The interposer trait only: the default traits also pull in a Swift runtime interposer
        // (ARC counters on Linux with Swift 6.3), which is not needed for these metrics.
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // Inputs shared by the suites (the same ~150-byte broadcast the load generator sends) and
        // their configuration helpers.
        .target(
            name: "BenchmarkFixtures",
            dependencies: [
                .product(name: "ChatProtocol", package: "Chatterbox"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The frames' read and write paths; FrameSplitter (SPI "Benchmarks") is the server's.
        suite("FrameCodingBenchmarks", path: "Benchmarks/FrameCoding"),
        // DeliveryGathering (SPI "Benchmarks"), the session's per-drain gathering.
        suite("FanOutBenchmarks", path: "Benchmarks/FanOut"),
        // RoutingFixture (SPI "Benchmarks"): the hub's routing over its own state.
        suite("RoutingBenchmarks", path: "Benchmarks/Routing"),
    ],
    swiftLanguageModes: [.v6]
)

/// A suite: an executable of benchmarks run by the plugin, with the fixtures and the server's
/// SPI "Benchmarks" (what the main targets expose for measuring).
func suite(_ name: String, path: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            "BenchmarkFixtures",
            .product(name: "ChatProtocol", package: "Chatterbox"),
            .product(name: "ChatServer", package: "Chatterbox"),
            .product(name: "Benchmark", package: "benchmark"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ],
        path: path,
        swiftSettings: strict,
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}
