import ChatOperations
import Foundation
import Logging
import NIOConcurrencyHelpers
import Testing

/// `--log-format json`: one JSON object per line, with timestamp, level, event and fields.
@Suite struct JSONLogHandlerTests {
    @Test func eachEventIsOneJSONObjectOnOneLine() throws {
        let lines = NIOLockedValueBox<[String]>([])
        var logger = Logger(label: "chatterbox") { label in
            JSONLogHandler(label: label) { line in lines.withLockedValue { $0.append(line) } }
        }
        logger.logLevel = .info
        logger[metadataKey: "node"] = "chat-1"
        logger.debug("not at info")
        logger.info("alice joined", metadata: ["address": "192.0.2.7", "tags": ["a", "b"]])
        logger.error("Store write failed:\n\"quoted\"")

        let written = lines.withLockedValue { $0 }
        #expect(written.count == 2)
        #expect(written.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().firstIndex(of: "\n") == nil })
        let first = try #require(JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: Any])
        #expect(first["event"] as? String == "alice joined")
        #expect(first["level"] as? String == "info")
        #expect(first["label"] as? String == "chatterbox")
        #expect(first["node"] as? String == "chat-1")
        #expect(first["address"] as? String == "192.0.2.7")
        #expect(first["tags"] as? [String] == ["a", "b"])
        let timestamp = try #require(first["timestamp"] as? String)
        #expect(try Date(timestamp, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)).timeIntervalSinceNow > -60)
        let second = try #require(JSONSerialization.jsonObject(with: Data(written[1].utf8)) as? [String: Any])
        #expect(second["event"] as? String == "Store write failed:\n\"quoted\"")
        #expect(second["level"] as? String == "error")
    }
}
