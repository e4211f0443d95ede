/// The end of the input (a script's or a pipe's): the client finishes what it started —
/// lines still to send, transfers, answers to commands — within `linger`, then stops, saying
/// what did not succeed.
extension EngineLoop {
    /// How long a message sent is waited for to come back (one refused with an ERROR never
    /// does, nor any to a server that does not echo): the configured patience, stretched to
    /// ten login round trips on a slow server, never past `linger`.
    var echoPatience: Duration {
        let stretched = (loginRoundTrip ?? .zero) * 10
        return min(max(configuration.echoPatience, stretched), configuration.linger)
    }
    /// How long nothing must have come or gone before the client stops, so that an answer in
    /// several frames is shown whole.
    static let quietPeriod: Duration = .milliseconds(300)

    /// What is still under way, in words; empty when nothing is.
    var unfinishedWork: [String] {
        var work: [String] = []
        if pendingName != nil || (session.username == nil && desiredName != nil) { work.append("the login") }
        let lines = queue.count + pacer.waiting.count
        if lines > 0 { work.append("\(lines) line\(lines == 1 ? "" : "s") to send") }
        if droppedCount > 0 { work.append("the lines the server dropped") }
        if files.isBusy { work.append("file transfers") }
        if pendingAnswers > 0 { work.append("answers from the server") }
        // Also from a server not known to echo: one that does, or that drops messages for going
        // too fast, says so within moments; a busy one may take longer than a quiet pause.
        let now = ContinuousClock.now
        let patience = echoPatience
        let awaited = unconfirmed.entries.filter { now - $0.sentAt < patience }.count
        if awaited > 0 { work.append("the server to confirm \(awaited) message\(awaited == 1 ? "" : "s")") }
        return work
    }

    /// Starts the bound on the time spent finishing.
    mutating func startLingering() {
        lingerTimer?.cancel()
        lingerTimer = wakeUp(.linger, after: configuration.linger)
    }

    /// After the input ended: the ending once nothing is under way and all is quiet.
    mutating func finishIfDone() -> ChatEngine.Ending? {
        guard inputEnded else { return nil }
        if needsName || awaitedSecret != nil {
            // Nothing more can happen without input: a name or a password was asked for.
            let unsent = queue.count + pacer.waiting.count
            guard unsent > 0 || hasLoggedIn || awaitedSecret != nil else { return .quit }
            linesNotSent += unsent
            let reason = awaitedSecret != nil ? "a password was needed" : "a username was needed"
            return ending(problems: ["\(reason) but the input had ended"])
        }
        guard unfinishedWork.isEmpty else {
            // Some of it ends with time rather than an event (a message the server refused
            // is never echoed): look again in a moment.
            if settleTimer == nil { settleTimer = wakeUp(.settle, after: Self.quietPeriod) }
            return nil
        }
        let quietFor = ContinuousClock.now - lastActivity
        if quietFor < Self.quietPeriod {
            if settleTimer == nil { settleTimer = wakeUp(.settle, after: Self.quietPeriod - quietFor) }
            return nil
        }
        return ending(problems: [])
    }

    /// `linger` ran out: stop, saying what was left undone.
    mutating func lingerExpired() -> ChatEngine.Ending? {
        let work = unfinishedWork
        guard !work.isEmpty else { return finishIfDone() }
        linesNotSent += queue.count + pacer.waiting.count
        return ending(problems: ["stopped waiting after \(ConnectionEventText.seconds(configuration.linger)) for " + work.joined(separator: ", ")])
    }

    /// `.quit` when everything succeeded, otherwise `.incomplete` with what did not.
    func ending(problems: [String]) -> ChatEngine.Ending {
        var parts = problems
        if linesNotSent > 0 { parts.append("\(linesNotSent) line\(linesNotSent == 1 ? " was" : "s were") not sent") }
        if files.failures > 0 { parts.append("\(files.failures) file transfer\(files.failures == 1 ? "" : "s") failed") }
        if serverErrors > 0 { parts.append("the server reported \(serverErrors) error\(serverErrors == 1 ? "" : "s")") }
        guard !parts.isEmpty else { return .quit }
        let text = parts.joined(separator: "; ")
        return .incomplete(text.prefix(1).uppercased() + text.dropFirst() + ".")
    }
}
