import ChatProtocol
import Foundation

/// The client core that every user interface runs on: connects, logs in (asking for a name
/// when it has none or the server refuses it), turns frames into events, sends what the user
/// types, and — when the connection drops — reconnects, moving on to the next of the servers
/// and addresses it knows (with capped exponential backoff between rounds that reach none),
/// logs in again under the same name, and sends the lines typed meanwhile.
///
/// Lines go in through an `AsyncStream<String>`; everything to show comes out through one
/// callback, in order. One loop owns all the state, so nothing is shared.
public struct ChatEngine: Sendable {
    /// Why the engine stopped.
    public enum Ending: Sendable, Equatable {
        /// The user quit (/Quit, end of input, or the task was cancelled).
        case quit
        /// The server closed the connection and reconnecting is off (or cannot help).
        case serverClosed(String)
        /// The input ended and the client stopped, but not everything succeeded: lines not
        /// sent, transfers failed, errors from the server, or `linger` ran out. Says what.
        case incomplete(String)
    }

    /// What to connect to and how to behave.
    public struct Configuration: Sendable {
        /// The servers to use, in order of preference: the client connects to the first that
        /// answers (each address its name resolves to, in turn) and, when the connection is
        /// lost, moves on to the next address or server, round robin. Never empty.
        public var servers: [ServerEndpoint]
        /// The first server's host.
        public var host: String {
            get { servers.first?.host ?? "" }
            set {
                if servers.isEmpty { servers.append(ServerEndpoint(host: newValue, port: 9000)) } else { servers[0].host = newValue }
            }
        }
        /// The first server's port.
        public var port: Int {
            get { servers.first?.port ?? 9000 }
            set {
                if servers.isEmpty { servers.append(ServerEndpoint(host: "", port: newValue)) } else { servers[0].port = newValue }
            }
        }
        public var security: ConnectionSecurity
        /// A name to log in with before asking.
        public var initialUsername: String?
        /// How long a server that answered the login (with extensions) by an ERROR has to
        /// accept it anyway before the client logs in again as a plain client.
        public var plainLoginDelay: Duration
        /// Whether and when to reconnect after the connection drops.
        public var reconnect: ReconnectPolicy
        /// Most lines kept while offline; more are refused with a notice.
        public var queueLimit: Int
        /// How long each step of connecting to one address may take (the name lookup, the TCP
        /// connection, the TLS handshake) before the client gives that address up.
        public var connectTimeout: Duration
        /// Lines the user interface adds to /Help (its own commands and keys).
        public var extraHelpLines: [String] = []
        /// The account password to log in with (feature `accounts`); asked for when a server
        /// says the name needs one.
        public var password: String?
        /// How long the client goes on after its input ends, to finish what it started
        /// (lines still to send at the server's rate, file transfers, answers to commands).
        public var linger: Duration = .seconds(30)
        /// How long a message sent is at least waited for to come back before the end of the
        /// input lets the client stop (a server that does not echo never sends it back). The
        /// client waits longer on a server that was slow to answer its login: ten times that
        /// round trip, within `linger`, so a busy server's "Slow down" is not missed.
        public var echoPatience: Duration = .seconds(2)
        /// How long logging in again after a lost connection keeps trying the same name when
        /// the server says it is in use: the lost connection may still hold it there (a server
        /// of a cluster that died holds its users until its lease runs out, 10 s by default).
        public var heldNamePatience: Duration = .seconds(30)
        /// Where /Get saves files when it is given no path; `nil`: `~/Downloads` when it
        /// exists, otherwise the working directory.
        public var downloadDirectory: String?
        /// Whether to offer Chatterbox's extensions (FEATURES) at login (`--no-extensions`
        /// turns it off: the login is then exactly the base protocol's).
        public var offersExtensions = true
        /// A server that closes the connection this soon after accepting a login that offered
        /// FEATURES (without answering them), or before answering it at all, is taken to
        /// choke on them: the client logs in again without, for the rest of the run.
        public var extensionFailureWindow: Duration = .seconds(2)

        public init(
            host: String,
            port: Int,
            security: ConnectionSecurity,
            initialUsername: String? = nil,
            plainLoginDelay: Duration = .seconds(2),
            reconnect: ReconnectPolicy = .never,
            queueLimit: Int = 200,
            connectTimeout: Duration = .seconds(10)
        ) {
            self.servers = [ServerEndpoint(host: host, port: port)]
            self.security = security
            self.initialUsername = initialUsername
            self.plainLoginDelay = plainLoginDelay
            self.reconnect = reconnect
            self.queueLimit = queueLimit
            self.connectTimeout = connectTimeout
        }
    }

    /// What to connect to and how to behave.
    public var configuration: Configuration

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Runs until the user quits or, without reconnection, the server goes away. Throws when
    /// the very first connection cannot be made.
    /// - Parameters:
    ///   - input: lines typed by the user; its end means quit (once queued lines are sent).
    ///   - updates: receives everything to show, in order.
    public func run(
        input: AsyncStream<String>,
        updates: @escaping @Sendable (ClientUpdate) -> Void
    ) async throws -> Ending {
        let (incoming, sink) = AsyncStream<EngineInput>.makeStream()
        let readLines = Task {
            for await line in input { sink.yield(.line(line)) }
            sink.yield(.endOfInput)
        }
        var loop = EngineLoop(configuration: configuration, sink: sink, updates: updates)
        do {
            let ending = try await loop.run(incoming)
            readLines.cancel()
            await loop.shutDown()
            return ending
        } catch {
            readLines.cancel()
            await loop.shutDown()
            throw error
        }
    }
}

/// Everything the engine's loop reacts to, from every source, in one stream.
enum EngineInput: Sendable {
    case line(String)
    case endOfInput
    /// `othersLeft`: the round has other candidates, to try if this one fails before the login.
    case connected(connection: Int, writer: FrameWriter, candidate: ServerCandidate, othersLeft: Bool)
    /// The round of attempts starts with server number `server`.
    case attemptStarted(connection: Int, server: Int)
    /// A candidate failed for `reason`; server number `next` is tried now.
    case serverSkipped(connection: Int, candidate: ServerCandidate, reason: String, next: Int)
    case frame(connection: Int, DecodedFrame)
    /// `isFatal`: trying again cannot help (the server speaks TLS to a --plaintext client).
    case closed(connection: Int, reason: String, isFatal: Bool)
    /// A whole round of attempts failed. `isFatal`: trying again cannot help (a certificate
    /// not trusted, TLS against plain).
    /// `summary`: the reason in short, when each address was said as it was skipped.
    case connectFailed(connection: Int, reason: String, summary: String?, isFatal: Bool)
    case loginGraceExpired(attempt: Int)
    case reconnectDue(connection: Int)
    case wake(Wake)

    /// Timers of the engine's own.
    enum Wake: Sendable {
        /// The pacer may let the next message go (on connection `connection`).
        case pace(connection: Int)
        /// The messages sent before a "Slow down" have had time to be confirmed.
        case dropsSettled(connection: Int)
        /// The input has ended and a quiet moment may have come.
        case settle
        /// The input ended `linger` ago.
        case linger
        /// Login number `attempt` on connection `connection` was sent `connectTimeout` ago.
        case loginUnanswered(connection: Int, attempt: Int)
        /// Time to log in again under a name that was still held (on connection `connection`).
        case retryLogin(connection: Int)
    }
}

/// Makes one round of connection attempts (see ``FailoverConnector``) and feeds what happens on
/// the connection made into the engine's stream, tagged with its number so that news from a
/// connection already given up is recognised and ignored.
enum ConnectionRunner {
    static func start(
        number: Int,
        configuration: ChatEngine.Configuration,
        round: FailoverRound,
        excluding: Set<ServerCandidate>,
        sink: AsyncStream<EngineInput>.Continuation
    ) -> Task<Void, Never> {
        Task {
            let connector = FailoverConnector(
                servers: configuration.servers, security: configuration.security,
                connectTimeout: configuration.connectTimeout, round: round, excluding: excluding
            )
            let outcome = await connector.run(
                starting: { sink.yield(.attemptStarted(connection: number, server: $0)) },
                skipped: { sink.yield(.serverSkipped(connection: number, candidate: $0.candidate, reason: $0.reason, next: $0.next)) }
            )
            guard case .connected(let connection, let candidate, let othersLeft) = outcome else {
                if case .exhausted(let reason, let summary, let isFatal) = outcome {
                    sink.yield(.connectFailed(connection: number, reason: reason, summary: summary, isFatal: isFatal))
                }
                return
            }
            let server = configuration.servers[candidate.server]
            // With several servers, the loss names the one lost.
            let which = configuration.servers.count > 1 ? server.spoken : nil
            do {
                try await connection.run { frames, writer in
                    sink.yield(.connected(connection: number, writer: writer, candidate: candidate, othersLeft: othersLeft))
                    for try await frame in frames {
                        sink.yield(.frame(connection: number, frame))
                    }
                    let reason = which.map { "\($0) closed the connection." } ?? "The server closed the connection."
                    sink.yield(.closed(connection: number, reason: reason, isFatal: false))
                }
            } catch {
                let (text, isFatal) = ConnectionFailureText.explain(error, host: server.host, security: configuration.security)
                let lost = which.map { "Connection to \($0) lost: " } ?? "Connection lost: "
                sink.yield(.closed(connection: number, reason: isFatal ? "Cannot talk to the server: \(text)" : lost + text, isFatal: isFatal))
            }
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds (NIO's `TimeAmount` unit).
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
