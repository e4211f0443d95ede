// swift-tools-version:6.1
// Fuzz targets for the protocol library, built apart from the main package so that CI's
// normal build never compiles them. Build and run with ./fuzz.sh (libFuzzer + AddressSanitizer).
import Foundation
import PackageDescription

// A path dependency is known by its folder's name, whatever the clone is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "ChatterboxFuzzTesting",
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "FuzzFrameDecoder",
            dependencies: [
                .product(name: "ChatProtocol", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzFrameParser",
            dependencies: [
                .product(name: "ChatProtocol", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
