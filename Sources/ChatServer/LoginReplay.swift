import ChatProtocol
import ChatStore

/// The login replay bounded in bytes as well as in messages.
///
/// Why: the replay is written in one go, and 1,000 broadcasts of 64 KiB (any user sends them
/// in under two minutes at the allowed rate) made every login's replay 64 MB: more than a
/// client may have waiting (8 MiB), so every fresh login was cut as a slow reader before it
/// could read, and nobody new could get in. Found by `scripts/mixed-attack-soak.py`.
extension History {
    /// The bytes `stored` takes in a `MESSAGES` array, its comma included.
    static func replaySize(of stored: StoredMessage) -> Int {
        FrameCoding.encodedSize(of: stored.message) + 1
    }

    /// This history without its oldest broadcasts past `maximumBytes`, how many went, and the
    /// replay size of each message kept (``replaySize(of:)``, in the order of `messages`).
    ///
    /// Only broadcasts go: direct messages (those that waited for the user among them) stay,
    /// as PROTOCOL.md promises. Paging back then starts below the newest broadcast left out,
    /// so that a client pages through what it was not shown (a direct message kept from
    /// before it may show again, as waiting ones may).
    ///
    /// Only what is kept (and the direct messages) is measured: the broadcasts are walked
    /// newest first and the walk stops at the first that does not fit. A history of 1,000
    /// broadcasts of 32 KB (32 MB) was measured whole at every login, twice, and that was the
    /// largest cost of a server under the mixed-attack soak.
    func trimmedForReplay(toBytes maximumBytes: Int) -> (history: History, leftOut: Int, sizes: [Int]) {
        let windowStart = pageCursor.flatMap { cursor in messages.firstIndex { $0.sequence >= cursor } } ?? messages.endIndex
        var sizes = [Int](repeating: 0, count: messages.count)
        // What stays whatever the budget: waiting direct messages placed before the window, and
        // direct messages in it.
        var used = 0
        for index in messages.indices where index < windowStart || !messages[index].message.isBroadcast {
            sizes[index] = Self.replaySize(of: messages[index])
            used += sizes[index]
        }
        // The newest broadcasts that fit; the first that does not ends the walk.
        var firstKept = messages.endIndex
        var newestLeftOut: Int64?
        for index in messages[windowStart...].indices.reversed() where messages[index].message.isBroadcast {
            let size = Self.replaySize(of: messages[index])
            guard used + size <= maximumBytes else {
                newestLeftOut = messages[index].sequence
                break
            }
            sizes[index] = size
            used += size
            firstKept = index
        }
        guard let newestLeftOut else { return (self, 0, sizes) }
        var kept: [StoredMessage] = []
        var keptSizes: [Int] = []
        for index in messages.indices where index < windowStart || !messages[index].message.isBroadcast || index >= firstKept {
            kept.append(messages[index])
            keptSizes.append(sizes[index])
        }
        let trimmed = History(messages: kept, truncated: true, pendingCount: pendingCount, pageCursor: newestLeftOut + 1)
        return (trimmed, messages.count - kept.count, keptSizes)
    }
}

extension ServerConfiguration {
    /// Most bytes of messages in a login replay: a quarter of what one client may have waiting
    /// (its buffers may cost up to twice the bytes), so that a client that reads is never cut
    /// for its own replay. 2 MiB by default: about 8,000 chat lines, or 32 messages of 64 KiB.
    var loginReplayBytes: Int { max(64 * 1024, outboundQueueLimit / 4) }
}
