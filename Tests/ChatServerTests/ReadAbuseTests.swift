import ChatClient
import ChatProtocol
import Crypto
import Foundation
import NIOCore
import ChatTestSupport
import Testing

/// Issue 21, item 9: what a logged-in peer could still make the server do cheaply: compressed
/// frames charged by their wire size, file listings on the event loop without a budget, empty
/// file offers past the message rate, partial frames held open forever.
@Suite struct ReadAbuseTests {
    static func request(_ key: String, _ value: JSONValue) -> Frame {
        var frame = Frame()
        frame.extensions = [.init(key: key, value: value)]
        return frame
    }

    /// A kilobyte on the wire that inflates to half a megabyte costs half a megabyte of the
    /// read allowance: with 512 KiB a second (bursts of 256 KiB) the second such frame waits
    /// half a second, each later one a second. (Charged by wire size, all four were echoed
    /// within 50 ms.)
    @Test func compressedFramesAreChargedWhatTheyInflateTo() async throws {
        try await TestServer.with(configure: {
            $0.limits.readBytesPerSecond = 512 << 10
            $0.limits.readByteBurst = 256 << 10
        }) { server in
            let alice = try await server.connect()
            #expect(try await alice.login("alice", features: ["deflate"]).features?.contains("deflate") == true)
            let padding = String(repeating: "a", count: 512 << 10)
            let sent = ContinuousClock.now
            for index in 0..<4 {
                var frame = Frame(messages: [ChatMessage(source: "alice", destination: "ALL", timestamp: 1, content: "m\(index)")])
                frame.extensions = [.init(key: "PAD", value: .string(padding))]
                try await alice.send(frame, compress: true)
            }
            var arrivals: [ContinuousClock.Instant] = []
            while arrivals.count < 4 {
                let messages = try await alice.next(timeout: .seconds(20)) { $0.messages != nil }.frame.messages!
                #expect(messages.map(\.content) == ["m\(arrivals.count)"])
                arrivals.append(ContinuousClock.now)
            }
            // Each frame after the first waits for the allowance its predecessor overdrew: the
            // fourth cannot be read before 2.5 s (a lower bound, which a slow machine only
            // lengthens; the echoes are timed as the test reads them, so only the total counts).
            #expect(arrivals[3] - sent >= .milliseconds(1500))
        }
    }

    /// Listings run within the user's request budget: of twenty in one write with two allowed
    /// at once, eighteen are answered busy. (On the event loop, all twenty were answered.)
    @Test func fileListingsAreBudgeted() async throws {
        try await TestServer.with(configure: { $0.limits.requestsInFlight = 2 }) { server in
            let alice = try await server.login("alice", features: ["files"])
            var frames = ByteBuffer()
            for _ in 0..<20 {
                frames.writeImmutableBuffer(FrameCoding.encode(Self.request(FileTransfer.Key.list, .object(JSONObject([])))))
            }
            try await alice.sendRaw(frames)
            var listings = 0, busy = 0
            while listings + busy < 20 {
                let frame = try await alice.next()
                if frame.extensionValue(FileTransfer.Key.list) != nil { listings += 1 }
                if frame.error?.hasPrefix("Busy:") == true { busy += 1 }
            }
            #expect(listings == 2 && busy == 18)
            // /Files too, answered once the others are done.
            try await alice.say("/Files", as: "alice")
            #expect(try await alice.next { $0.messages != nil }.frame.messages?.first?.content == "No files for you.")
        }
    }

    /// Each offer takes a message from the sender's rate limit (an empty file's notice goes
    /// out at once): of ten offers with a burst of three, seven are refused.
    @Test func fileOffersCountAsMessages() async throws {
        try await TestServer.with(configure: {
            $0.limits.messagesPerSecond = 0.01
            $0.limits.messageBurst = 3
        }) { server in
            let alice = try await server.login("alice", features: ["files"])
            var frames = ByteBuffer()
            for index in 0..<10 {
                let hash = SHA256.hash(data: [UInt8(index)]).map { String(format: "%02x", $0) }.joined()
                let offer = FileTransfer.Offer(name: "empty\(index)", size: 0, sha256: hash, to: "ALL")
                frames.writeImmutableBuffer(FrameCoding.encode(Self.request(FileTransfer.Key.offer, offer.jsonValue)))
            }
            try await alice.sendRaw(frames)
            var accepted = 0, refused = 0
            while accepted + refused < 10 {
                let frame = try await alice.next()
                if frame.extensionValue(FileTransfer.Key.upload) != nil { accepted += 1 }
                if let error = frame.error {
                    #expect(error == "Slow down: file not offered; an offer counts as a message (at most 0.01 per second, bursts of 3).")
                    refused += 1
                }
            }
            #expect(accepted == 3 && refused == 7)
        }
    }

    /// A frame begun after login must be completed within the frame timeout: a connection that
    /// holds a partial frame is told why and closed. (It stayed open for good.)
    @Test func aPartialFrameMustCompleteWithinTheFrameTimeout() async throws {
        try await TestServer.with(configure: { $0.limits.frameTimeout = .seconds(3) }) { server in
            let alice = try await server.login("alice")
            let bob = try await server.login("bob")
            // A frame completed in two parts within the timeout is fine.
            let whole = FrameCoding.encode(Frame(messages: [ChatMessage(source: "bob", destination: "ALL", timestamp: 1, content: "in two parts")]))
            try await bob.sendRaw(whole.getSlice(at: 0, length: 10)!)
            try await bob.sendRaw(whole.getSlice(at: 10, length: whole.readableBytes - 10)!)
            #expect(try await bob.next { $0.messages != nil }.frame.messages?.first?.content == "in two parts")
            // Alice declares 100 bytes and sends 10.
            var partial = ByteBuffer()
            partial.writeInteger(UInt32(100))
            partial.writeString(#"{"MESSAGE"#)
            try await alice.sendRaw(partial)
            let frames = try await alice.waitForClose(timeout: .seconds(20))
            #expect(frames.compactMap(\.error).contains("A frame was not completed within 3 seconds of its first bytes. Closing the connection."))
            // Bob, idle between frames, stays.
            try await bob.say("still here", as: "bob")
            #expect(try await bob.next { $0.messages != nil }.frame.messages?.first?.content == "still here")
        }
    }
}
