import ChatProtocol
@testable import ChatServer
import ChatStore
import ChatTestSupport
import NIOCore
import NIOEmbedded
import Testing

/// Found by the mixed-attack soak (`scripts/mixed-attack-soak.py`): the login replay was
/// written in one go and bounded in messages only. A history of large broadcasts (any user
/// sends them at the allowed rate) made every replay larger than a client may have waiting,
/// so every fresh login was cut as a slow reader; and while stalled readers filled the
/// outbound budget, a login was cut for its own replay before it could read it.
@Suite struct LoginReplayTests {
    /// 40 broadcasts of 60 KB (2.4 MB) with a per-client cap of 1 MiB: before, bob's login was
    /// cut ("not reading messages fast enough") in the middle of its replay.
    @Test func aHistoryOfLargeBroadcastsNeverCutsALogin() async throws {
        try await TestServer.with(configure: { $0.outboundQueueLimit = 1 << 20 }) { server in
            let alice = try await server.login("alice")
            let filler = String(repeating: "x", count: 60_000)
            for index in 0..<40 {
                try await alice.say("m\(index) " + filler, as: "alice", at: 1_700_000_000 + Int64(index))
                _ = try await alice.next { $0.messages?.contains { $0.content.hasPrefix("m\(index) ") } == true }
            }
            let bob = try await server.connect()
            let welcome = try await bob.login("bob", features: ["commands", "history"])
            #expect(welcome.usernameAccepted == true)
            // A quarter of the cap: 4 of the 60 KB messages, the most recent ones.
            let replayed = (welcome.messages ?? []).map { String($0.content.prefix(4)) }
            #expect(replayed == ["m36 ", "m37 ", "m38 ", "m39 "])
            #expect(welcome.info?.contains("Showing the most recent 4 messages of the history (a login shows at most 256 KiB of it).") == true, "\(welcome.info ?? "")")
            let start = try #require(welcome.extensionValue("HISTORY").flatMap(HistoryPageInfo.init))
            #expect(start.more)
            // Paging back continues right below the replay.
            var frame = Frame()
            frame.extensions = [.init(key: "HISTORY", value: HistoryQuery(before: start.before, limit: 5).jsonValue)]
            try await bob.send(frame)
            let page = try await bob.next { $0.extensionValue("HISTORY") != nil }.frame
            #expect((page.messages ?? []).map { String($0.content.prefix(4)) } == ["m31 ", "m32 ", "m33 ", "m34 ", "m35 "])
            // And bob is still connected.
            try await bob.say("still here", as: "bob")
            _ = try await bob.next { $0.messages?.contains { $0.content == "still here" } == true }
        }
    }

    /// Only broadcasts are left out, oldest first; direct messages (waiting ones among them)
    /// stay, and paging starts below the newest broadcast left out.
    @Test func trimmingLeavesOutTheOldestBroadcastsOnly() {
        func stored(_ sequence: Int64, to destination: String) -> StoredMessage {
            StoredMessage(sequence: sequence, message: ChatMessage(source: "a", destination: destination, timestamp: 1, content: String(repeating: "c", count: 1000)))
        }
        let history = History(
            messages: [stored(1, to: "bob"), stored(5, to: "ALL"), stored(6, to: "bob"), stored(7, to: "ALL"), stored(8, to: "ALL")],
            truncated: false, pendingCount: 2, pageCursor: 5)
        let size = history.messages.map(History.replaySize).reduce(0, +) / 5
        let untouched = history.trimmedForReplay(toBytes: 5 * size)
        #expect(untouched.leftOut == 0 && untouched.history == history)
        let trimmed = history.trimmedForReplay(toBytes: 3 * size)
        #expect(trimmed.leftOut == 2)
        #expect(trimmed.history.messages.map(\.sequence) == [1, 6, 8])
        #expect(trimmed.history.pageCursor == 8 && trimmed.history.truncated && trimmed.history.pendingCount == 2)
        // Each message kept is measured as the replay writes it.
        #expect(untouched.sizes == history.messages.map(History.replaySize))
        #expect(trimmed.sizes == trimmed.history.messages.map(History.replaySize))
        // Direct messages stay even past the budget; then every broadcast of the window goes.
        let tight = history.trimmedForReplay(toBytes: size)
        #expect(tight.history.messages.map(\.sequence) == [1, 6] && tight.leftOut == 3 && tight.history.pageCursor == 9)
        // Nothing but direct messages: nothing to leave out.
        let direct = History(messages: [stored(1, to: "bob"), stored(2, to: "bob")], truncated: false, pendingCount: 2, pageCursor: 1)
        #expect(direct.trimmedForReplay(toBytes: 10).leftOut == 0)
    }

    /// With the budget half full the cap of a client that has not read is 64 KiB: a login's
    /// replay of 128 KiB was cut at once. Its allowance keeps it until it reads, for a few
    /// seconds at most (a reader that never reads does not keep its replay queued).
    @Test func aLoginReplayIsNotCutForTheBudgetsFillBeforeItCouldBeRead() throws {
        let loop = EmbeddedEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let budget = OutboundBudget(limit: 1 << 20, perConnection: 512 * 1024, eventLoops: [loop])
        var channels: [EmbeddedChannel] = []
        func queue(_ size: Int, allowance: Int? = nil, for window: TimeAmount = OutboundBacklog.allowanceWindow) throws -> EmbeddedChannel {
            let backlog = OutboundBacklog(budget: budget, eventLoop: loop)
            let channel = EmbeddedChannel(handler: backlog, loop: loop)
            _ = try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
            if let allowance { backlog.allowBurst(of: allowance, for: window) }
            channel.isWritable = false
            channel.pipeline.fireChannelWritabilityChanged()
            channel.write(ByteBuffer(repeating: 0, count: size), promise: nil)
            backlog.check()
            channels.append(channel)
            return channel
        }
        // Six readers that stopped: 384 KiB queued, the cap of those that do not read 256 KiB.
        for _ in 0..<6 { _ = try queue(64 * 1024) }
        #expect(budget.queuedBytes == 384 * 1024)
        // 128 KiB more fills half the budget: the cap is 64 KiB.
        let plain = try queue(128 * 1024)
        #expect(!plain.isActive, "without an allowance the newcomer is cut")
        let expired = try queue(128 * 1024, allowance: 64 * 1024, for: .zero)
        #expect(!expired.isActive, "an allowance whose time is over no longer holds")
        let login = try queue(128 * 1024, allowance: 64 * 1024)
        #expect(login.isActive, "a login's replay is kept until its client could read")
        #expect(budget.queuedBytes == 512 * 1024)
        let readersStillOn = channels.prefix(6).filter { $0.isActive }.count
        #expect(readersStillOn == 6)
        for channel in channels where channel.isActive { _ = try? channel.finish() }
    }

    /// Over the budget's bound the longest queues are cut, but one still within a login
    /// replay's allowance only after every other: many small stalled queues (each under the
    /// smallest cap) beside one fresh login cut the login, the longest, first.
    @Test func overTheBoundALoginsReplayIsCutLast() throws {
        let loop = EmbeddedEventLoop()
        defer { try? loop.syncShutdownGracefully() }
        let budget = OutboundBudget(limit: 1 << 20, perConnection: 512 * 1024, eventLoops: [loop])
        func queue(_ size: Int, allowance: Int? = nil) throws -> EmbeddedChannel {
            let backlog = OutboundBacklog(budget: budget, eventLoop: loop)
            let channel = EmbeddedChannel(handler: backlog, loop: loop)
            _ = try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
            if let allowance { backlog.allowBurst(of: allowance) }
            channel.isWritable = false
            channel.pipeline.fireChannelWritabilityChanged()
            channel.write(ByteBuffer(repeating: 0, count: size), promise: nil)
            backlog.check()
            return channel
        }
        // (Queues are counted at their buffers' capacity: powers of two here.)
        let login = try queue(256 * 1024, allowance: 128 * 1024)
        #expect(login.isActive)
        let stalled = try (0..<12).map { _ in try queue(32 * 1024) }
        #expect(login.isActive, "the login's replay is kept")
        let cut = stalled.filter { !$0.isActive }.count
        #expect(cut == 4, "stalled queues cut until the rest fits the bound (512 KiB)")
        #expect(budget.queuedBytes <= budget.bound)
        for channel in stalled + [login] where channel.isActive { _ = try? channel.finish() }
    }
}
