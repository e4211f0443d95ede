import ChatClient
import ChatProtocol
import ChatStore
import ChatStoreSQLite
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import ChatTestSupport
import Testing

/// Issue 23: stopping the server (SIGTERM, or `stop()`) with store reads and logins queued
/// never touches the store once it is closed: exit status 0, a sound database, and nothing a
/// client saw accepted is lost.
@Suite struct ShutdownTests {
    /// Messages in the stores these tests stop: enough that a prefix search takes a while.
    static let storedMessages = 20_000

    /// A store of `storedMessages` broadcasts whose words make prefix searches costly
    /// (`wor*` matches a thousand distinct words).
    static func fill(_ path: String) throws {
        let store = try SQLiteChatStore(path: path)
        let messages = (1...Int64(storedMessages)).map { sequence in
            StoreOperation.message(StoredMessage(sequence: sequence, message: ChatMessage(
                source: "user\(sequence % 50)", destination: "ALL", timestamp: 1_700_000_000 + sequence,
                content: "word\(sequence % 997) wonder what we want with west wind \(sequence % 13) whale")))
        }
        for batch in stride(from: 0, to: messages.count, by: 5000) {
            try store.apply(Array(messages[batch..<min(batch + 5000, messages.count)]))
        }
        // A search indexes what the index lacks first: done here once, not in every copy.
        _ = try store.page(PageRequest(userKey: "user1", excludedSenders: [], before: Int64.max, throughSequence: Int64.max, limit: 1, words: ["whale"]))
        try store.close()
    }

    static func bytes(_ frame: Frame) -> [UInt8] {
        Array(FrameCoding.encode(frame).readableBytesView)
    }

    static func search(_ query: String) -> Frame {
        var frame = Frame()
        frame.extensions = [.init(key: Frame.Key.search, value: HistoryQuery(query: query).jsonValue)]
        return frame
    }

    /// Someone joined or left: not an answer.
    static func isPresence(_ frame: Frame) -> Bool {
        frame.usersJoined != nil || frame.usersLeft != nil
    }

    static func historyPage() -> Frame {
        var frame = Frame()
        frame.extensions = [.init(key: Frame.Key.history, value: HistoryQuery(limit: 200).jsonValue)]
        return frame
    }

    // MARK: - The store

    /// GRDB's pool is not safe against a read starting while it closes (a read past its look-up
    /// of the reader pool then uses a closed connection: signal 11). Through the store's gate a
    /// read either runs whole or is refused with `StoreError.closed`.
    @Test func closingTheStoreWhileReadsRunRefusesThemCleanly() async throws {
        let template = TemporaryDirectory()
        try Self.fill(template.path + "/store.sqlite")
        for _ in 0..<10 {
            let directory = TemporaryDirectory()
            for suffix in ["", "-search"] {
                try FileManager.default.copyItem(atPath: template.path + "/store.sqlite" + suffix, toPath: directory.path + "/store.sqlite" + suffix)
            }
            let store = try SQLiteChatStore(path: directory.path + "/store.sqlite")
            let outcomes = NIOLockedValueBox((answered: 0, refused: 0, other: [String]()))
            let readers = DispatchGroup()
            let started = DispatchSemaphore(value: 0)
            // Threads of their own (the global queue would run only a core's worth at once):
            // each reads until the store refuses.
            for reader in 0..<6 {
                readers.enter()
                Thread {
                    defer { readers.leave() }
                    started.signal()
                    for attempt in 0..<100_000 {
                        do {
                            let request = PageRequest(
                                userKey: "user\(reader)", excludedSenders: [], before: Int64.max, throughSequence: Int64.max,
                                limit: 50, words: attempt % 4 == 0 ? ["wor*", "wha*"] : nil)
                            _ = try store.page(request)
                            outcomes.withLockedValue { $0.answered += 1 }
                        } catch StoreError.closed {
                            outcomes.withLockedValue { $0.refused += 1 }
                            return
                        } catch {
                            outcomes.withLockedValue { $0.other.append("\(error)") }
                            return
                        }
                    }
                }.start()
            }
            for _ in 0..<6 { started.wait() }
            try await Task.sleep(for: .milliseconds(20))
            try store.close()
            await withCheckedContinuation { continuation in readers.notify(queue: .global()) { continuation.resume() } }
            let result = outcomes.withLockedValue { $0 }
            #expect(result.other.isEmpty, "reads failed otherwise than 'closed': \(result.other.prefix(3))")
            #expect(result.refused == 6)
            #expect(throws: StoreError.closed) { try store.page(PageRequest(userKey: "a", excludedSenders: [], before: 1, throughSequence: 1, limit: 1)) }
            #expect(throws: StoreError.closed) { try store.apply([.user(KnownUser(name: "late", deliveredThrough: 0))]) }
            try store.close()  // idempotent
            let reopened = try SQLiteChatStore(path: directory.path + "/store.sqlite")
            #expect(try reopened.quickCheck() == ["ok"])
            try reopened.close()
        }
    }

    // MARK: - The real executable

    /// The crash of issue 23, as an operator meets it: SIGTERM while a few hundred searches and
    /// history pages and a hundred logins are queued, and a user chats. Repeated to catch the
    /// race (it crashed 1 or 2 times in 3 before the fix).
    @Test func sigtermWithReadsAndLoginsQueuedExitsCleanlyAndLosesNothing() async throws {
        let template = TemporaryDirectory()
        try Self.fill(template.path + "/chatterbox.sqlite")
        for round in 0..<4 {
            let directory = TemporaryDirectory()
            for suffix in ["", "-search"] {
                try FileManager.default.copyItem(
                    atPath: template.path + "/chatterbox.sqlite" + suffix, toPath: directory.path + "/chatterbox.sqlite" + suffix)
            }
            let server = try await ServerProcess.start(
                dataDirectory: directory.path,
                arguments: ["--plaintext", "--max-connections-per-address", "0", "--message-rate", "0"])
            let talker = try await TestClient.connect(host: "127.0.0.1", port: server.port, security: .plaintext)
            #expect(try await talker.login("talker").usernameAccepted == true)
            // The talker sends batches and records every message echoed (accepted, committed)
            // until the server says goodbye.
            let echoed = NIOLockedValueBox<[String]>([])
            let talking = Task {
                for batch in 0..<100_000 {
                    let messages = (0..<5).map {
                        ChatMessage(source: "talker", destination: "ALL", timestamp: 1, content: "r\(round)-b\(batch)-\($0)")
                    }
                    do {
                        try await talker.send(messages)
                        while true {
                            let frame = try await talker.next(timeout: .seconds(20))
                            let contents = frame.messages?.map(\.content) ?? []
                            echoed.withLockedValue { $0 += contents }
                            if contents.contains(messages.last!.content) { break }
                            if frame.info?.contains("shutting down") == true { return }
                        }
                    } catch {
                        return
                    }
                }
            }
            // Forty users each log in and ask for eight searches and two pages in one write;
            // a hundred more log in; nobody reads.
            var sockets: [RawSocket] = []
            for index in 0..<40 {
                let socket = try RawSocket(port: server.port)
                var frames = Self.bytes(Frame(username: "searcher\(index)"))
                for request in 0..<10 {
                    frames += Self.bytes(request < 8 ? Self.search("wor* wha*") : Self.historyPage())
                }
                socket.send(frames)
                sockets.append(socket)
            }
            for index in 0..<100 {
                let socket = try RawSocket(port: server.port)
                socket.send(Self.bytes(Frame(username: "fresh\(index)")))
                sockets.append(socket)
            }
            // The talker's next echo shows the server has read on; then SIGTERM.
            let seen = echoed.withLockedValue { $0.count }
            let deadline = ContinuousClock.now + TestTiming.scaled(.seconds(20))
            while echoed.withLockedValue({ $0.count }) <= seen, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            let status = try await server.terminate()
            #expect(status == 0, "round \(round): exit status \(status); output: \(server.output)")
            await talking.value
            await talker.close()
            sockets.removeAll()

            let store = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
            #expect(try store.quickCheck() == ["ok"])
            let stored = try store.recentBroadcasts(limit: 10_000_000).map(\.message.content)
            let accepted = echoed.withLockedValue { $0 }
            #expect(!accepted.isEmpty)
            #expect(stored.count >= Self.storedMessages + accepted.count)
            #expect(Set(accepted).subtracting(stored).isEmpty, "round \(round): accepted messages missing after the stop")
            try store.close()
            if status != 0 { break }
        }
    }

    // MARK: - In process

    /// `stop()` with searches queued: every request a session made is answered (a page or its
    /// time limit, or "the server is shutting down", or busy) before its goodbye, and the store is closed
    /// for good afterwards.
    @Test func stopAnswersQueuedRequestsThenClosesTheStore() async throws {
        let directory = TemporaryDirectory()
        try Self.fill(directory.path + "/chatterbox.sqlite")
        let store = NIOLockedValueBox<SQLiteChatStore?>(nil)
        // `w* w*` takes tens of milliseconds here: the 80 queued are seconds of work, so most
        // are still waiting when the stop comes, however slowly this test itself runs.
        let server = try await TestServer.start(dataDirectory: directory.path, tls: false, configure: {
            $0.limits.searchPrefixMinimum = 1
        }, makeStore: { path in
            let opened = try SQLiteChatStore(path: path + "/chatterbox.sqlite")
            store.withLockedValue { $0 = opened }
            return opened
        })
        var searchers: [TestClient] = []
        for index in 0..<8 {
            searchers.append(try await server.login("searcher\(index)"))
        }
        var frames = ByteBuffer()
        for _ in 0..<10 { frames.writeImmutableBuffer(FrameCoding.encode(Self.search("w* w*"))) }
        for searcher in searchers { try await searcher.sendRaw(frames) }
        // The first searcher's first answer shows the server is reading the requests (each
        // write arrives whole and is read at once); most are still queued then: stop.
        var first = try await searchers[0].next(timeout: .seconds(60))
        while Self.isPresence(first) { first = try await searchers[0].next(timeout: .seconds(60)) }
        await server.server.stop()

        var answered = 0, stopped = 0, busy = 0
        for (index, searcher) in searchers.enumerated() {
            let frames = (index == 0 ? [first] : []) + (try await searcher.waitForClose(timeout: .seconds(30)))
            #expect(frames.last?.info == "The server is shutting down. Goodbye!")
            for frame in frames.dropLast() where !Self.isPresence(frame) {
                // A page, or a search stopped at the time limit (a slow, instrumented build): answered.
                if frame.extensionValue(Frame.Key.search) != nil || frame.error?.hasPrefix("Search stopped:") == true {
                    answered += 1
                } else if frame.error == "The server is shutting down: this request was not answered." {
                    stopped += 1
                } else if frame.error?.hasPrefix("Busy:") == true {
                    busy += 1
                } else {
                    Issue.record("unexpected frame before the goodbye: \(frame)")
                }
            }
        }
        #expect(answered + stopped + busy == 80)
        #expect(stopped > 0, "no request was still queued at the stop (answered \(answered))")
        let closed = try #require(store.withLockedValue { $0 })
        #expect(throws: StoreError.closed) { try closed.quickCheck() }
        await server.stop()
        let reopened = try SQLiteChatStore(path: directory.path + "/chatterbox.sqlite")
        #expect(try reopened.quickCheck() == ["ok"])
        try reopened.close()
    }
}
