import ChatProtocol
import ChatStore
import NIOCore

/// This server's part in a cluster: several servers sharing one store (a ``SharedLog``) form
/// one chat.
struct ClusterMembership: Sendable {
    let log: any SharedLog
    let node: NodeIdentity
    let settings: ClusterSettings
}

/// The hub in a cluster: logins put online in the shared log, and everything any server writes
/// there applied here in the log's order.
///
/// Each server keeps the whole chat's state in memory, as a standalone server does: its own
/// users' changes at once (as they happen), the other servers' when they come back from the
/// log. Messages, joins and leaves (its own too) are delivered as the log orders them, so every
/// client of every server sees them in one order.
extension Hub {
    enum ClaimOutcome: Sendable {
        /// Online, at this place in the log.
        case online(Int64)
        /// Online on another server already.
        case taken
        /// The shared store could not be asked.
        case unreachable(String)
    }

    /// Puts a login's user online in the shared log, on the login threads (completes on
    /// `eventLoop`); a standalone server has nothing to ask.
    func claimOnline(_ ticket: LoginTicket, on eventLoop: any EventLoop) -> EventLoopFuture<ClaimOutcome> {
        guard let cluster else { return eventLoop.makeSucceededFuture(.online(0)) }
        return loginPool.run(on: eventLoop) { () -> ClaimOutcome in
            do {
                guard let sequence = try cluster.log.claim(ticket.user, on: cluster.node) else { return .taken }
                return .online(sequence)
            } catch {
                return .unreachable("\(error)")
            }
        }.recover { .unreachable("\($0)") }
    }

    /// Takes back a login the cluster refused: nobody was told of it, nobody is told it ends.
    func retractLogin(_ connection: ClientConnection, key: String) {
        state.withLockedValue { _ = $0.presence.remove(connection, key: key) }
    }

    /// Applies `entries` of the shared log (oldest first) after what was applied before:
    /// delivers messages, joins and leaves to the clients here, and applies the other servers'
    /// changes. Returns the last sequence number applied.
    @discardableResult
    func applyLog(_ entries: [LogEntry]) -> Int64 {
        guard let cluster else { return state.withLockedValue { $0.lastDelivered } }
        return state.withLockedValue { state in
            for entry in entries where entry.sequence > state.lastDelivered {
                state.commits &+= 1
                switch entry {
                case .message(let stored):
                    deliver(stored, state: &state)
                case .joined(_, let user, let node):
                    let key = UsernameRules.key(user.name)
                    if node.incarnation != cluster.node.incarnation {
                        state.users[key] = user.merged(into: state.users[key])
                        state.presence.insertRemote(key: key, name: user.name, node: node.name)
                    }
                    // The joiner learns who is online from its login reply, not from this.
                    enqueueToEveryone(encode(Frame(usersJoined: [user.name])), except: state.presence[key], state: state)
                case .operation(_, let origin, let operation):
                    if case .left(let user, let node) = operation {
                        let key = UsernameRules.key(user.name)
                        if node.incarnation != cluster.node.incarnation {
                            state.users[key] = user.merged(into: state.users[key])
                            state.presence.removeRemote(key: key, node: node.name)
                        }
                        // Its own users' too: a leave here waited for its place in the log.
                        if !state.presence.isOnline(key) {
                            enqueueToEveryone(encode(Frame(usersLeft: [user.name])), except: nil, state: state)
                        }
                    } else if origin != cluster.node.incarnation {
                        applyRemote(operation, state: &state)
                    }
                }
                state.lastDelivered = entry.sequence
            }
            return state.lastDelivered
        }
    }

    /// A message from the log, delivered to the recipients on this server (its sender's server
    /// also echoes it to the sender).
    private func deliver(_ stored: StoredMessage, state: inout State) {
        let message = stored.message
        let frame = encode(Frame(messages: [message]))
        let senderKey = UsernameRules.key(message.source)
        if message.isBroadcast {
            state.recentBroadcasts.append(stored)
            deliverBroadcast(frame, from: senderKey, gatheringSince: .now(), state: state)
        } else {
            deliverDirect(frame, message: message, senderKey: senderKey, gatheringSince: .now(), state: state)
        }
    }

    /// Another server's change, as its own users' changes are applied there.
    private func applyRemote(_ operation: StoreOperation, state: inout State) {
        switch operation {
        case .user(let user):
            let key = UsernameRules.key(user.name)
            if state.users.updateValue(user.merged(into: state.users[key]), forKey: key) == nil {
                state.lookalikes[UsernameLookalikes.skeleton(user.name), default: []].append(key)
            }
        case .block(let relation):
            _ = state.blocks.insert(relation)
        case .unblock(let relation):
            _ = state.blocks.remove(relation)
        case .account(let key, let passwordHash):
            state.accounts[key] = passwordHash
            // Whoever knew the old password no longer counts as knowing it.
            loginAttempts.passwordChanged(for: key, from: nil)
        case .file(let file):
            fileShelf?.adopt(file)
        case .removeFile(let id):
            fileShelf?.forget(id)
        case .forgetUser(let key, _):
            if !state.presence.isOnline(key) { state.users[key] = nil }
        case .ban, .unban, .kick, .announce:
            applyRemoteAdministration(operation, state: &state)
        case .message, .left:
            break
        }
    }

    /// Delivers what a batch of this server's holds besides messages (which the log delivers):
    /// its replies, and, when the store refused it, an error to each sender.
    func deliverLocal(_ batch: CommitPipeline.Batch, stored: Bool) {
        state.withLockedValue { state in
            for item in batch.items {
                switch item {
                case .message(let message, _):
                    guard !stored, let sender = state.presence[UsernameRules.key(message.source)] else { continue }
                    let error = "Message not sent: the server could not store it. Please try again."
                    sender.outbox.enqueue(encode(Frame(error: error)), to: sender, gatheringSince: batch.openedAt)
                case .reply(let frame, let connection):
                    connection.outbox.enqueue(frame, to: connection, gatheringSince: batch.openedAt)
                case .store:
                    break
                }
            }
        }
    }

    /// Puts the user `key`, online here, back online in the shared store, which lost them (this
    /// server could not renew its lease for a while and the others announced its users gone).
    /// When the name has been taken elsewhere meanwhile, the user here is disconnected. Blocks.
    func reclaim(key: String) {
        guard let cluster else { return }
        guard let (user, connection) = state.withLockedValue({ state -> (KnownUser, ClientConnection)? in
            guard let connection = state.presence[key], let user = state.users[key] else { return nil }
            return (user, connection)
        }) else { return }
        do {
            if try cluster.log.claim(user, on: cluster.node) == nil {
                logger.notice("\(user.name) is online on another server now: disconnecting them here")
                connection.eventLoop.execute {
                    connection.session?.disconnect(
                        reason: "Disconnected: this server lost touch with the others for a while, and meanwhile \(user.name) logged in elsewhere. Log in again.")
                }
            }
        } catch {
            logger.error("Putting \(user.name) back online failed: \(error)")
        }
    }

    /// The shared store holds users online here who are not: their leave is written again.
    func releaseStale(keys: Set<String>) {
        guard let cluster else { return }
        let operations = state.withLockedValue { state in
            keys.compactMap { key in state.users[key].map { StoreOperation.left($0, node: cluster.node) } }
        }
        stageMaintenance(operations)
    }

    /// The keys of the users online on this server.
    var localUserKeys: Set<String> {
        state.withLockedValue { Set($0.presence.byKey.keys) }
    }
}

extension KnownUser {
    /// This record, from another server, over `older`: watermarks and sightings only move on.
    func merged(into older: KnownUser?) -> KnownUser {
        guard let older else { return self }
        var merged = self
        merged.deliveredThrough = max(deliveredThrough, older.deliveredThrough)
        merged.lastSeen = max(lastSeen, older.lastSeen)
        merged.heldSince = max(heldSince, older.heldSince)
        merged.heldSinceTime = max(heldSinceTime, older.heldSinceTime)
        merged.address = address ?? older.address
        return merged
    }
}
