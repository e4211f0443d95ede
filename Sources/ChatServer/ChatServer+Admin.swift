import ChatProtocol
import ChatStore
import Foundation
import NIOCore
import Synchronization

/// Administration from the machine (`chatterbox admin`, through ``AdminSocket``) and the
/// settings that change while the server runs (SIGHUP).
extension ChatServer {
    /// The words the admin socket takes, for its help.
    static let adminUsage = [
        "Commands: kick NAME [reason] | ban NAME|ADDRESS[/PREFIX] [DURATION] [reason] | unban NAME|ADDRESS[/PREFIX]",
        "          bans | announce TEXT | who | stats | help",
        "DURATION: 90s, 30m, 12h, 7d, 4w (none: until lifted).",
    ]

    /// Runs one line from the admin socket (`kick bob spam`, `who`), for `caller` (how the log
    /// names them); what to answer.
    func administer(_ line: String, caller: String) -> AdminReply {
        let trimmed = Substring(line).drop { $0.isWhitespace }
        let word = trimmed.prefix { !$0.isWhitespace }.lowercased()
        switch word {
        case "", "help":
            return AdminReply(ok: word == "help", lines: Self.adminUsage)
        case "who":
            return AdminReply(ok: true, lines: hub.whoLines())
        case "stats":
            return AdminReply(ok: true, lines: statisticsLines)
        default:
            break
        }
        guard let command = ChatCommand.parse("/" + trimmed), command.isOperatorCommand else {
            return AdminReply(ok: false, lines: ["Unknown command \"\(word)\"."] + Self.adminUsage)
        }
        switch AdminRequest.parse(command) {
        case .failure(let usage):
            // The chat's usage lines, without the chat's slash.
            return AdminReply(ok: false, lines: [usage.text.replacingOccurrences(of: "Usage: /", with: "Usage: ")])
        case .success(let request):
            switch hub.administer(request, by: .socket(caller)) {
            case .lines(let lines): return AdminReply(ok: true, lines: lines)
            case .error(let text): return AdminReply(ok: false, lines: [text])
            }
        }
    }

    /// `stats`: the server's state in lines.
    private var statisticsLines: [String] {
        let statistics = self.statistics
        let now = configuration.clock.secondsSinceEpoch()
        let bans = hub.bans.withLockedValue { $0.active(at: now).count }
        let live = hub.liveSettings
        let uptime = statistics.uptime.map { describeDuration($0) } ?? "not listening"
        var lines = [
            "Uptime: \(uptime)",
            "Connections open: \(statistics.openConnections)",
            "Users online: \(statistics.usersOnline)",
        ]
        if hub.cluster != nil { lines.append("Users online in the cluster: \(statistics.usersOnlineInCluster)") }
        lines += [
            "Messages waiting to be stored: \(statistics.unstoredMessages)",
            "Bytes queued for slow readers: \(statistics.queuedOutboundBytes) (at most \(statistics.queuedOutboundBytesHighWater))",
            "Last sequence number delivered: \(hub.state.withLockedValue { $0.lastDelivered })",
            "Bans in force: \(bans)",
            "Operators: \(live.operators.isEmpty ? "none" : live.operators.joined(separator: ", "))",
        ]
        return lines
    }

    /// Applies `settings` from now on: the operators and the message of the day at once, the
    /// message rate to every user online (their allowance starts full), the connection limits
    /// to the connections accepted from now on (open ones stay). Returns the names of the
    /// settings that changed.
    @discardableResult
    public func reconfigure(_ settings: LiveSettings) -> [String] {
        let old = hub.live.withLockedValue { live in
            defer { live = settings }
            return live
        }
        var changed: [String] = []
        if old.operators != settings.operators { changed.append("operators") }
        if old.motd != settings.motd { changed.append("motd") }
        if old.messagesPerSecond != settings.messagesPerSecond || old.messageBurst != settings.messageBurst {
            changed.append("message rate")
        }
        // Every session takes the new rate before its next message (SessionHandler.process).
        hub.liveGeneration.add(1, ordering: .relaxed)
        if old.connections != settings.connections || old.connectionsPerAddress != settings.connectionsPerAddress {
            changed.append("connection limits")
            var total = settings.connections
            if let descriptorBudget {
                let clamped = descriptorBudget.clamp(total)
                total = clamped.limit
                // Unlimited is what benchmarks ask for: no warning, the number is for the record.
                if let lowered = clamped.lowered {
                    if settings.connections == 0 { logger.notice("\(lowered)") } else { logger.warning("\(lowered)") }
                }
            }
            connectionLimiter.reconfigure(perAddress: settings.connectionsPerAddress, total: total)
        }
        return changed
    }

    /// The settings that may change while the server runs, as they are now.
    public var liveSettings: LiveSettings { hub.liveSettings }
}

/// What the admin socket answers: whether the command did what it was asked, and what to say.
public struct AdminReply: Sendable, Equatable {
    public var ok: Bool
    public var lines: [String]

    public init(ok: Bool, lines: [String]) {
        self.ok = ok
        self.lines = lines
    }
}
