import ChatProtocol
import NIOCore

/// Encodes engine updates as JSON lines for scripts and bots (`--json`): one object per
/// event, pure ASCII (every control character and non-ASCII character escaped), so the text
/// is exact and nothing in it can act on a terminal.
///
/// Every object has `"event"`; the schema is in the README. Status updates are not printed:
/// `welcome`, `joined` and `left` carry presence.
public enum JSONEventEncoder {
    /// The JSON lines for `update` (a history event gives one line per message). `host` and
    /// `port` are those of the server connected to, or last connected to.
    public static func lines(for update: ClientUpdate, host: String, port: Int) -> [String] {
        objects(for: update, host: host, port: port).map(encode)
    }

    static func objects(for update: ClientUpdate, host: String, port: Int) -> [[(String, JSONValue)]] {
        switch update {
        case .event(let event):
            return objects(for: event)
        case .connection(let event):
            return [connectionObject(event, host: host, port: port)]
        case .usernameNeeded(let reason):
            // Always a text, like every other event: why, or what to do.
            return [[named("username_needed"), ("text", .string(reason ?? "Type the username to log in with."))]]
        case .secretNeeded(let prompt):
            return [[named("password_needed"), ("text", .string(prompt))]]
        case .status:
            return []
        }
    }

    static func objects(for event: ChatEvent) -> [[(String, JSONValue)]] {
        switch event {
        case .welcome(let info, let online):
            var object: [(String, JSONValue)] = [named("welcome")]
            if let info { object.append(("text", .string(info))) }
            object.append(("online", .array(online.map(JSONValue.string))))
            return [object]
        case .loginRefused(let reason):
            return [[named("username_refused"), ("text", .string(reason))]]
        case .history(let messages):
            return messages.map { message(for: $0, history: true) }
        case .earlierMessages(let messages, let more):
            return messages.map { message(for: $0, history: true) }
                + [[named("history_page"), ("count", .integer(Int64(messages.count))), ("more", .bool(more))]]
        case .searchResults(let query, let messages, let more):
            return messages.map { message(for: $0, history: true) }
                + [[named("search_results"), ("query", .string(query)), ("count", .integer(Int64(messages.count))), ("more", .bool(more))]]
        case .message(let chat):
            return [message(for: chat, history: false)]
        case .joined(let name):
            return [[named("joined"), ("user", .string(name))]]
        case .left(let name):
            return [[named("left"), ("user", .string(name))]]
        case .info(let text):
            return [[named("info"), ("text", .string(text))]]
        case .error(let text):
            return [[named("error"), ("text", .string(text))]]
        case .notice(let text):
            return [[named("notice"), ("text", .string(text))]]
        case .fileTransfer(let news):
            var object: [(String, JSONValue)] = [named(news.isFinished ? "file_done" : "file_progress"), ("direction", .string(news.direction.rawValue)), ("name", .string(news.name))]
            if let id = news.id { object.append(("id", .string(id))) }
            object.append(("bytes", .integer(news.done)))
            object.append(("size", .integer(news.total)))
            if let path = news.path { object.append(("path", .string(path))) }
            object.append(("text", .string(news.text)))
            return [object]
        case .commandResult(let command, let lines, let from, let isError):
            var object: [(String, JSONValue)] = [named("command_result"), ("command", .string(command))]
            if let from { object.append(("from", .string(from))) }
            object.append(("ok", .bool(!isError)))
            object.append(("text", .string(lines.joined(separator: "\n"))))
            return [object]
        case .protocolProblem(let text):
            return [[named("protocol_problem"), ("text", .string(text))]]
        }
    }

    static func message(for message: ChatMessage, history: Bool) -> [(String, JSONValue)] {
        var object: [(String, JSONValue)] = [
            named("message"),
            ("from", .string(message.source)),
            ("to", .string(message.destination)),
            ("time", .integer(message.timestamp)),
            ("text", .string(message.content)),
        ]
        if history { object.append(("history", .bool(true))) }
        return object
    }

    static func connectionObject(_ event: ConnectionEvent, host: String, port: Int) -> [(String, JSONValue)] {
        let text: (String, JSONValue) = ("text", .string(ConnectionEventText.describe(event, host: host, port: port)))
        switch event {
        case .reconnecting(let attempt, let server):
            return [named("reconnecting"), ("attempt", .integer(Int64(attempt))), ("server", .string(server.description)), text]
        case .serverSkipped(let server, let address, let reason, let next):
            var object: [(String, JSONValue)] = [named("server_skipped"), ("server", .string(server.description))]
            if let address { object.append(("address", .string(address))) }
            object.append(("reason", .string(reason)))
            if let next { object.append(("next", .string(next.description))) }
            object.append(text)
            return object
        case .connected(let server, let address, let security):
            let name = switch security {
            case .verifiedTLS: "tls"
            case .unverifiedTLS: "tls-unverified"
            case .plaintext: "plaintext"
            }
            return [named("connected"), ("server", .string(server.description)), ("address", .string(address)), ("security", .string(name)), text]
        case .lost(let reason, let retryIn):
            var object: [(String, JSONValue)] = [
                named("disconnected"), ("server", .string(ServerEndpoint(host: host, port: port).description)), ("reason", .string(reason)),
            ]
            if let retryIn { object.append(("retry_in", .number(Double(retryIn.nanoseconds) / 1e9))) }
            object.append(text)
            return object
        case .attemptFailed(let reason, let retryIn):
            return [named("reconnect_failed"), ("reason", .string(reason)), ("retry_in", .number(Double(retryIn.nanoseconds) / 1e9)), text]
        case .backOnline(let username, let missed, let sending, let server):
            return [
                named("reconnected"), ("user", .string(username)), ("server", .string(server.description)),
                ("missed", .integer(Int64(missed))), ("sending", .integer(Int64(sending))), text,
            ]
        case .queuedLinesSent(let sent, let notSent):
            return [named("queue_sent"), ("sent", .integer(Int64(sent))), ("not_sent", .integer(Int64(notSent))), text]
        case .queued(let waiting):
            return [named("queued"), ("waiting", .integer(Int64(waiting))), text]
        case .queueFull(let limit):
            return [named("queue_full"), ("limit", .integer(Int64(limit))), text]
        }
    }

    static func named(_ name: String) -> (String, JSONValue) {
        ("event", .string(name))
    }

    static func encode(_ members: [(String, JSONValue)]) -> String {
        var buffer = ByteBuffer()
        JSONWriter.writeValue(.object(JSONObject(members.map { JSONObject.Member(key: $0.0, value: $0.1) })), into: &buffer)
        return String(buffer: buffer)
    }
}
