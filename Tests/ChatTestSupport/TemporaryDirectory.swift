import Foundation

/// A temporary directory removed when the test is done with it.
public struct TemporaryDirectory: ~Copyable {
    public let path: String

    public init() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("chatterbox-test-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
