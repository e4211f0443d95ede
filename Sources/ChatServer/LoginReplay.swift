import ChatProtocol
import ChatStore

/// The login replay bounded in bytes as well as in messages.
///
/// Why: the replay is written in one go, and 1,000 broadcasts of 64 KiB (any user sends them
/// in under two minutes at the allowed rate) made every login's replay 64 MB: more than a
/// client may have waiting (8 MiB), so every fresh login was cut as a slow reader before it
/// could read, and nobody new could get in. Found by `scripts/mixed-attack-soak.py`.
extension History {
    /// The encoded size of the replay's messages, in bytes (as the frames carry them).
    var replayBytes: Int {
        messages.reduce(0) { $0 + FrameCoding.encodedSize(of: $1.message) + 1 }
    }

    /// This history without its oldest broadcasts past `maximumBytes`, and how many went.
    ///
    /// Only broadcasts go: direct messages (those that waited for the user among them) stay,
    /// as PROTOCOL.md promises. Paging back then starts below the newest broadcast left out,
    /// so that a client pages through what it was not shown (a direct message kept from
    /// before it may show again, as waiting ones may).
    func trimmedForReplay(toBytes maximumBytes: Int) -> (history: History, leftOut: Int) {
        var excess = replayBytes - maximumBytes
        guard excess > 0 else { return (self, 0) }
        let windowStart = pageCursor.flatMap { cursor in messages.firstIndex { $0.sequence >= cursor } } ?? messages.endIndex
        var kept = Array(messages[..<windowStart])
        var newestLeftOut: Int64?
        for stored in messages[windowStart...] {
            if excess > 0, stored.message.isBroadcast {
                excess -= FrameCoding.encodedSize(of: stored.message) + 1
                newestLeftOut = stored.sequence
            } else {
                kept.append(stored)
            }
        }
        guard let newestLeftOut else { return (self, 0) }
        let trimmed = History(messages: kept, truncated: true, pendingCount: pendingCount, pageCursor: newestLeftOut + 1)
        return (trimmed, messages.count - kept.count)
    }
}

extension ServerConfiguration {
    /// Most bytes of messages in a login replay: a quarter of what one client may have waiting
    /// (its buffers may cost up to twice the bytes), so that a client that reads is never cut
    /// for its own replay. 2 MiB by default: about 8,000 chat lines, or 32 messages of 64 KiB.
    var loginReplayBytes: Int { max(64 * 1024, outboundQueueLimit / 4) }
}
