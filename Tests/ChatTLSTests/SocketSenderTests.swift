@testable import ChatTLS
import Foundation
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

/// The server's TLS handler sending to the socket itself, over real TLS connections on
/// loopback: that it finds the connection's descriptor, that a full socket hands the rest to
/// the channel without reordering a byte and direct sends resume once the channel is drained,
/// and that a closed or reset connection is never written behind NIO's back.
@Suite struct SocketSenderTests {
    /// The descriptor is read from NIO's private layout by reflection (docs/PRIVATE-APIS.md).
    /// Should a NIO release move it, the server would quietly write through the pipeline again
    /// and lose the direct sends' gain; this test fails instead.
    @Test func findsTheDescriptorOfASocketChannelAndNotOfOthers() async throws {
        try await LoopbackTLS.with { connection in
            let found = try await connection.onServerLoop { SocketSender(channel: connection.server) != nil }
            #expect(found, "NIO's socket descriptor was not found by reflection: see docs/PRIVATE-APIS.md before raising the swift-nio pin")
        }
        #expect(SocketSender(channel: EmbeddedChannel()) == nil)
    }

    @Test func writesGoStraightToTheSocketWhileNothingIsQueued() async throws {
        try await LoopbackTLS.with { connection in
            let before = try await connection.onServerLoop { connection.handler.directSendCount }
            let chunks = (0..<20).map { LoopbackTLS.chunk(index: $0, size: 200) }
            for chunk in chunks { try await connection.server.writeAndFlush(chunk) }
            try await connection.received.waitForBytes(20 * 200)
            #expect(connection.received.inOrder)
            let (direct, throughChannel) = try await connection.onServerLoop {
                (connection.handler.directSendCount, connection.handler.channelSendCount)
            }
            #expect(direct - before == 20)
            #expect(throughChannel == 0)
        }
    }

    @Test func aFullSocketHandsTheRestToTheChannelInOrderThenSendsDirectlyAgain() async throws {
        try await LoopbackTLS.with(smallBuffers: true) { connection in
            try await connection.client.setOption(ChannelOptions.autoRead, value: false).get()

            // 1 MiB while the client reads nothing: the 4 KiB socket buffers fill at once.
            let count = 256
            let size = 4096
            let written = try await connection.onServerLoop {
                let futures = (0..<count).map { connection.server.writeAndFlush(LoopbackTLS.chunk(index: $0, size: size)) }
                return EventLoopFuture.andAllSucceed(futures, on: connection.server.eventLoop)
            }
            let queued = try await connection.onServerLoop { connection.handler.channelSendCount }
            #expect(queued > 0, "the socket filled up, so the channel took the rest")

            try await connection.client.setOption(ChannelOptions.autoRead, value: true).get()
            connection.client.read()
            try await connection.received.waitForBytes(count * size)
            try await written.get()
            #expect(connection.received.inOrder)

            let direct = try await connection.onServerLoop { connection.handler.directSendCount }
            try await connection.server.writeAndFlush(LoopbackTLS.chunk(index: count, size: size))
            try await connection.received.waitForBytes((count + 1) * size)
            #expect(connection.received.inOrder)
            #expect(try await connection.onServerLoop { connection.handler.directSendCount } == direct + 1)
        }
    }

    @Test func writesFromAboveKeepTheirPlaceAmongPipelineWrites() async throws {
        try await LoopbackTLS.with { connection in
            // Alternating: even chunks through the pipeline, odd ones handed to the handler.
            let chunks = (0..<40).map { LoopbackTLS.chunk(index: $0, size: 300) }
            try await connection.onServerLoop {
                for (index, chunk) in chunks.enumerated() {
                    if index.isMultiple(of: 2) {
                        connection.server.write(chunk, promise: nil)
                    } else {
                        connection.handler.writeFromAbove(chunk)
                    }
                    if index % 10 == 9 { connection.handler.flushFromAbove() }
                }
            }
            try await connection.received.waitForBytes(40 * 300)
            #expect(connection.received.inOrder)

            // Once the handler has left the pipeline, a write from above goes nowhere.
            try await connection.server.close()
            try await connection.onServerLoop {
                connection.handler.writeFromAbove(LoopbackTLS.chunk(index: 40, size: 300))
                connection.handler.flushFromAbove()
            }
            // The client's end closes after the server's close_notify (or at its 1 s timeout).
            try await connection.client.closeFuture.get()
            #expect(connection.received.byteCount == 40 * 300)
        }
    }

    @Test func aClosedChannelIsNeverSentTo() async throws {
        try await LoopbackTLS.with { connection in
            let sender = try #require(try await connection.onServerLoop { SocketSender(channel: connection.server) })
            try await connection.server.close()
            let (outcome, unsent) = try await connection.onServerLoop {
                var buffer = ByteBuffer(string: "after close")
                return (sender.send(&buffer), buffer.readableBytes)
            }
            #expect(outcome == .failed)
            #expect(unsent == 11, "nothing consumed")
        }
    }

    @Test func aResetPeerFailsTheWriteAndClosesTheChannel() async throws {
        try await LoopbackTLS.with { connection in
            // The server reads nothing more, so only its writes can find out about the reset.
            try await connection.server.setOption(ChannelOptions.autoRead, value: false).get()
            let provider = try #require(connection.client as? any SocketOptionProvider)
            try await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            try await connection.client.close()

            var failure: (any Error)?
            for index in 0..<200 where failure == nil {
                do {
                    try await connection.server.writeAndFlush(LoopbackTLS.chunk(index: index, size: 100))
                } catch {
                    failure = error
                    break
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(failure != nil, "a write to a reset connection fails")
            try await connection.server.closeFuture.get()
            #expect(try await connection.onServerLoop { connection.handler.channelSendCount } >= 1)
        }
    }
}
