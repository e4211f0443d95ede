import ChatProtocol
import ChatServer
import ChatTestSupport
import Crypto
import Foundation
import Synchronization
import Testing

/// docs/EXTENSIONS.md's file transfer figures: upload and download throughput over TLS while
/// another user keeps chatting, and that user's message latency with and without the
/// transfer. Prints the figures; asserts only what must hold (chat is not stalled).
@Suite struct FileTransferThroughputTests {
    private func request(_ key: String, _ value: JSONValue, by client: TestClient) async throws {
        var frame = Frame()
        frame.extensions = [.init(key: key, value: value)]
        try await client.send(frame)
    }

    /// Round trips of a broadcast to its own echo, in milliseconds, until `stop` says so.
    private func chatLatencies(of client: TestClient, name: String, count: Int? = nil, stop: @Sendable () -> Bool = { false }) async throws -> [Double] {
        var latencies: [Double] = []
        var index = 0
        while count.map({ index < $0 }) ?? !stop() {
            let content = "ping \(index)"
            let start = ContinuousClock.now
            try await client.say(content, as: name)
            _ = try await client.next { $0.messages?.contains { $0.content == content } == true }
            let elapsed = ContinuousClock.now - start
            latencies.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3)
            index += 1
            try await Task.sleep(for: .milliseconds(20))
        }
        return latencies
    }

    private static func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    @Test func chatKeepsItsLatencyWhileAFileMoves() async throws {
        let size = 8 << 20
        var generator = SystemRandomNumberGenerator()
        // Random, so that compression cannot flatter the figures; eight bytes at a time.
        var data = [UInt8](repeating: 0, count: size)
        data.withUnsafeMutableBytes { raw in
            for index in 0..<(size / 8) { raw.storeBytes(of: generator.next(), toByteOffset: index * 8, as: UInt64.self) }
        }
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        try await TestServer.with(configure: { $0.maximumFileBytes = 64 << 20 }) { server in
            let sender = try await server.login("sender")
            let chatter = try await server.login("chatter")
            let baseline = try await chatLatencies(of: chatter, name: "chatter", count: 50)

            let done = ManagedFlag()
            async let during = chatLatencies(of: chatter, name: "chatter", stop: { done.isSet })
            let uploadStart = ContinuousClock.now
            try await request(FileTransfer.Key.offer, FileTransfer.Offer(name: "big.bin", size: Int64(size), sha256: digest, to: "ALL").jsonValue, by: sender)
            var id = ""
            var finished = false
            while !finished {
                let frame = try await sender.next { $0.extensionValue(FileTransfer.Key.upload) != nil }.frame
                let status = try #require(frame.extensionValue(FileTransfer.Key.upload).flatMap(FileTransfer.UploadStatus.init))
                id = status.id
                finished = status.done
                if finished { break }
                let start = Int(status.offset)
                let end = min(start + FileTransfer.chunkSize, size)
                try await request(FileTransfer.Key.chunk, FileTransfer.Chunk(id: id, offset: status.offset, bytes: Array(data[start..<end])).jsonValue, by: sender)
            }
            let uploadTime = ContinuousClock.now - uploadStart

            let downloadStart = ContinuousClock.now
            var offset: Int64 = 0
            while offset < Int64(size) {
                try await request(FileTransfer.Key.get, FileTransfer.Get(id: id, offset: offset).jsonValue, by: sender)
                let frame = try await sender.next { $0.extensionValue(FileTransfer.Key.data) != nil }.frame
                let chunk = try FileTransfer.Chunk.parse(try #require(frame.extensionValue(FileTransfer.Key.data)), key: FileTransfer.Key.data).get()
                offset += Int64(chunk.bytes.count)
            }
            let downloadTime = ContinuousClock.now - downloadStart
            done.set()
            let loaded = try await during

            func seconds(_ duration: Duration) -> Double {
                Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            }
            let megabytes = Double(size) / Double(1 << 20)
            print(String(
                format: "FILE-TRANSFER-FIGURES: 8 MiB upload %.2f s (%.1f MiB/s), download %.2f s (%.1f MiB/s); chat round trip idle p50 %.1f ms p99 %.1f ms (%d); during transfer p50 %.1f ms p99 %.1f ms max %.1f ms (%d)",
                seconds(uploadTime), megabytes / seconds(uploadTime), seconds(downloadTime), megabytes / seconds(downloadTime),
                Self.percentile(baseline, 0.5), Self.percentile(baseline, 0.99), baseline.count,
                Self.percentile(loaded, 0.5), Self.percentile(loaded, 0.99), loaded.max() ?? 0, loaded.count))
            // Figures are printed, not asserted (timing belongs in docs, not in pass/fail); what
            // must hold is that chat went on while the file moved.
            #expect(loaded.count >= 5, "chat went on during the transfer")
        }
    }
}

/// A flag set once, read from another task.
final class ManagedFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
