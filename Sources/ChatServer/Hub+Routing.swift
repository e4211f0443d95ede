import ChatProtocol
import ChatStore

/// Where a message goes: the routing decisions of ``Hub/submit(_:senderKey:from:)`` and of the
/// delivery after its commit, as functions of the hub's state alone (no I/O, no outbox), so that
/// the micro-benchmarks can measure them (``RoutingFixture``). Callers hold the hub's lock.
extension Hub.State {
    /// Resolves DEST of a message from the user `senderKey` (SRC already checked) and checks the
    /// blocks between the two: the message as it will be stored and delivered (SRC and DEST
    /// spelled as their users last logged in), or why it is refused. `destinationKey` is
    /// `UsernameRules.key(message.destination)`, computed by the caller before it takes the lock.
    func accept(_ message: ChatMessage, destinationKey: String, from senderKey: String) -> Result<ChatMessage, Hub.SubmitRefusal> {
        guard let sender = users[senderKey] else { return .failure(Hub.SubmitRefusal("You are not logged in.")) }
        var accepted = message
        accepted.source = sender.name
        if destinationKey == Self.broadcastKey {
            accepted.destination = ChatMessage.broadcastDestination
            return .success(accepted)
        }
        guard let recipient = users[destinationKey] else {
            return .failure(Hub.SubmitRefusal("Message not sent: there is no user named \(message.destination)."))
        }
        if blocks.contains(BlockRelation(blocker: senderKey, blocked: destinationKey)) {
            return .failure(Hub.SubmitRefusal("Message not sent: you have blocked \(recipient.name). Use /UnBlock \(recipient.name) first."))
        }
        if blocks.contains(BlockRelation(blocker: destinationKey, blocked: senderKey)) {
            return .failure(Hub.SubmitRefusal("Message not sent: \(recipient.name) is not accepting messages from you."))
        }
        accepted.destination = recipient.name
        return .success(accepted)
    }

    private static let broadcastKey = UsernameRules.key(ChatMessage.broadcastDestination)

    /// Calls `body` with each event loop's recipients of a broadcast from `senderKey`: everyone
    /// online there (the sender too) but those separated from the sender by a block. A loop
    /// where nobody is excluded gets its presence list itself, shared, not copied (the outbox
    /// then gathers a run of broadcasts once for all of that list); elsewhere, a copy without
    /// the excluded, made in one allocation.
    func forEachBroadcastGroup(from senderKey: String, _ body: (_ loop: Int, _ recipients: [ClientConnection]) -> Void) {
        let separated = blocks.separated(from: senderKey)
        guard !separated.isEmpty else {
            for (loop, members) in presence.byLoop.enumerated() where !members.isEmpty { body(loop, members) }
            return
        }
        // The excluded by place, sorted: each loop's are then a run, in the order of its list.
        var excluded: [(loop: Int, slot: Int)] = []
        excluded.reserveCapacity(separated.count)
        for key in separated {
            if let place = presence.place(of: key) { excluded.append(place) }
        }
        excluded.sort { $0.loop != $1.loop ? $0.loop < $1.loop : $0.slot < $1.slot }
        var next = 0
        for (loop, members) in presence.byLoop.enumerated() where !members.isEmpty {
            while next < excluded.count, excluded[next].loop < loop { next += 1 }
            guard next < excluded.count, excluded[next].loop == loop else {
                body(loop, members)
                continue
            }
            var end = next
            while end < excluded.count, excluded[end].loop == loop { end += 1 }
            if end - next < members.count {
                var allowed: [ClientConnection] = []
                allowed.reserveCapacity(members.count - (end - next))
                var skip = next
                for (slot, member) in members.enumerated() {
                    if skip < end, excluded[skip].slot == slot { skip += 1 } else { allowed.append(member) }
                }
                body(loop, allowed)
            }
            next = end
        }
    }

    /// Who gets a direct message from `senderKey` to `recipientKey`.
    func directRoute(to recipientKey: String, from senderKey: String) -> DirectRoute {
        let sender = presence[senderKey]
        guard let recipient = presence[recipientKey] else {
            // Online on another server of a cluster: that server delivers it.
            return DirectRoute(recipient: nil, echo: sender, recipientOffline: !presence.isOnlineElsewhere(recipientKey))
        }
        // A block made after the message was accepted still stops it; a note to oneself is
        // delivered once, as the echo.
        let separated = blocks.contains(BlockRelation(blocker: senderKey, blocked: recipientKey))
            || blocks.contains(BlockRelation(blocker: recipientKey, blocked: senderKey))
        return DirectRoute(recipient: separated || recipient === sender ? nil : recipient, echo: sender, recipientOffline: false)
    }
}

/// The connections a direct message is written to.
struct DirectRoute {
    /// The recipient's connection, when it is online and may receive it.
    var recipient: ClientConnection?
    /// The sender's own connection (its copy of what it sent), when it is still online.
    var echo: ClientConnection?
    /// Whether the recipient is offline: the sender is told they will get it at their next login.
    var recipientOffline: Bool
}
