import ChatProtocol

/// Sending messages at the rate the server accepts, and sending again those it dropped.
extension EngineLoop {
    /// How long sending pauses after the server said to slow down (its bucket is empty; this
    /// refills part of it), and how long the messages sent before have to be confirmed
    /// before the unconfirmed ones are taken for the dropped ones.
    static let slowDownPause: Duration = .seconds(1)
    /// A line the server keeps dropping is given up after this many tries.
    static let maximumSendAttempts = 3

    /// Writes what the pacer lets go now, and sets a timer for the rest.
    mutating func sendPaced() async {
        while let writer, let item = pacer.next() {
            do {
                try await writer.send(item.frame, compress: session.compresses)
            } catch {
                // The connection just died; its loss is reported next and the line is kept.
                pacer.prepend([item])
                return
            }
            lastActivity = .now
            sent(item)
        }
        unconfirmed.expire()
        reportQueuedBatchIfSent()
        if let delay = pacer.delay(), paceTimer == nil, writer != nil {
            paceTimer = wakeUp(.pace(connection: connectionNumber), after: delay)
        }
    }

    /// After `item` was written: expects the answer to a command, or the echo of a message
    /// (shown at once to servers that may not echo).
    mutating func sent(_ item: SendPacer.Item) {
        for message in item.frame.messages ?? [] {
            if session.serverRunsCommands, ChatCommand.parse(message.content) != nil {
                pendingAnswers += 1
                continue
            }
            // A server that runs commands removes one slash from "//text".
            let echoContent = session.serverRunsCommands && message.content.hasPrefix("//") ? String(message.content.dropFirst()) : message.content
            unconfirmed.sent(item, message: message, echoContent: echoContent)
            if !session.serverEchoesOwnMessages, item.attempts == 1 {
                localEchoes.shown(message)
                seen.record(message)
                emit(.event(.message(message)))
            }
        }
    }

    /// Keeps a line typed while not logged in, to send once logged in.
    mutating func enqueue(_ line: String) {
        guard queue.count < configuration.queueLimit else {
            linesNotSent += 1
            emit(.connection(.queueFull(limit: configuration.queueLimit)))
            return
        }
        queue.append(line)
        // Before the first login (a script's input arriving early) this is no news.
        if hasLoggedIn { emit(.connection(.queued(waiting: queue.count))) }
    }

    /// Hands what was typed while offline to the pacer, in order. Returns how many lines
    /// became messages to send.
    mutating func sendQueue() async -> Int {
        let lines = queue
        queue = []
        for line in lines {
            _ = await perform(line, wasQueued: true)
        }
        // A line whose write failed is back in the queue for the next connection.
        return lines.count - queue.count
    }

    // MARK: - "Slow down"

    /// The number of messages a "Slow down: N messages were not sent" ERROR reports, or `nil`
    /// for any other ERROR.
    static func droppedCount(in error: String) -> Int? {
        guard error.hasPrefix("Slow down:") else { return nil }
        let digits = error.dropFirst("Slow down:".count).drop { $0 == " " }.prefix { $0.isNumber }
        return Int(digits) ?? 1
    }

    /// The limit a "Slow down" ERROR states: "(at most 10 per second, bursts of 20)".
    static func statedLimit(in error: String) -> MessageRate? {
        func number(after marker: String) -> Double? {
            guard let range = error.range(of: marker) else { return nil }
            return Double(error[range.upperBound...].prefix { $0.isNumber || $0 == "." })
        }
        guard let rate = number(after: "at most "), rate > 0 else { return nil }
        return MessageRate(perSecond: rate, burst: number(after: "bursts of ").map { Int($0) } ?? 1)
    }

    /// The server dropped `count` messages for going too fast: goes at the rate it states
    /// (or half the rate), pauses, then sends them again.
    mutating func serverDropped(_ count: Int, error: String) {
        if droppedCount == 0 {
            emit(.event(.notice("The server asked to slow down; the lines it dropped will be sent again.")))
            if let limit = Self.statedLimit(in: error) {
                pacer.adopt(rate: limit.perSecond, burst: limit.burst)
            } else {
                pacer.slowDown()
            }
        }
        droppedCount += count
        droppedNoticedAt = .now
        pacer.pause(for: Self.slowDownPause)
        paceTimer?.cancel()
        paceTimer = nil
        dropTimer?.cancel()
        dropTimer = wakeUp(.dropsSettled(connection: connectionNumber), after: Self.slowDownPause)
    }

    /// The messages sent before the "Slow down" have had their time to be confirmed: the most
    /// recent unconfirmed ones are the dropped ones, sent again first.
    mutating func resendDropped() async {
        dropTimer = nil
        guard droppedCount > 0, let noticed = droppedNoticedAt else { return }
        let dropped = unconfirmed.takeDropped(droppedCount, sentBefore: noticed)
        droppedCount = 0
        droppedNoticedAt = nil
        var again: [SendPacer.Item] = []
        for var item in dropped {
            if item.attempts >= Self.maximumSendAttempts {
                linesNotSent += 1
                if item.wasQueued { queuedBatch?.notSent += 1 }
                emit(.event(.notice("Not sent (the server kept refusing it as too fast): \(item.line)")))
            } else {
                item.attempts += 1
                again.append(item)
            }
        }
        if !again.isEmpty {
            emit(.event(.notice("Sending again the \(again.count) line\(again.count == 1 ? "" : "s") the server dropped.")))
        }
        pacer.prepend(again)
        await sendPaced()
    }

    /// Once every line typed while disconnected has gone out (and, to a server that confirms
    /// them, been confirmed), says so, honestly.
    mutating func reportQueuedBatchIfSent() {
        guard let batch = queuedBatch else { return }
        let stillGoing = pacer.waiting.contains(where: \.wasQueued) || droppedCount > 0
            || (serverEchoes && unconfirmed.entries.contains { $0.item.wasQueued && ContinuousClock.now - $0.sentAt < echoPatience })
        guard !stillGoing else { return }
        queuedBatch = nil
        emit(.connection(.queuedLinesSent(sent: batch.total - batch.notSent, notSent: batch.notSent)))
    }
}
