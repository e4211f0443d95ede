import ChatClient
import ChatProtocol
import Testing

@Suite struct ChatSessionTests {
    private func accepted(features: [String]?, users: [String] = ["alice", "bob"], history: [ChatMessage] = []) -> DecodedFrame {
        var frame = Frame(usernameAccepted: true, info: "Welcome", userList: users, messages: history)
        frame.features = features
        return DecodedFrame(frame: frame)
    }

    @Test func loginAsksForFeaturesAndRecordsWhatTheServerEnabled() {
        var session = ChatSession()
        #expect(session.loginFrame(for: "alice").features == ChatSession.requestedFeatures)
        let history = [ChatMessage(source: "bob", destination: "ALL", timestamp: 1, content: "old")]
        let events = session.receive(accepted(features: ["commands"], history: history), attemptedName: "alice")
        #expect(events == [.welcome(info: "Welcome", online: ["alice", "bob"]), .history(history)])
        #expect(session.username == "alice")
        #expect(session.serverRunsCommands)
        session.asksForFeatures = false
        #expect(session.loginFrame(for: "alice").features == nil)
    }

    @Test func refusalKeepsTheSessionLoggedOut() {
        var session = ChatSession()
        let events = session.receive(DecodedFrame(frame: Frame(usernameAccepted: false, info: "taken")), attemptedName: "bob")
        #expect(events == [.loginRefused("taken")])
        #expect(session.username == nil)
    }

    @Test func commandsGoToAServerThatRunsThem() {
        var session = ChatSession()
        _ = session.receive(accepted(features: ["commands"]), attemptedName: "alice")
        let actions = session.interpret("/Block bob", now: 5)
        #expect(actions == [.send(Frame(messages: [ChatMessage(source: "alice", destination: "ALL", timestamp: 5, content: "/Block bob")]))])
        #expect(session.interpret("/quit", now: 5) == [.quit])
    }

    /// Operator commands go to the server's pseudo-user (never to ALL, which a server that does
    /// not run them would relay); /Help lists them when the server says the user is an operator.
    @Test func operatorCommandsGoToTheServersPseudoUserAndHelpListsThemForOperators() {
        var session = ChatSession()
        var frame = accepted(features: ["commands", "operators"])
        frame.frame.extensions.append(.init(key: "SERVER_USER", value: .string("Chatterbox")))
        _ = session.receive(frame, attemptedName: "alice")
        #expect(session.isOperator)
        #expect(session.interpret("/Ban bob 2h spam", now: 5) == [.send(Frame(messages: [ChatMessage(source: "alice", destination: "Chatterbox", timestamp: 5, content: "/Ban bob 2h spam")]))])
        let help = session.interpret("/Help", now: 5)
        #expect(help.contains(.show(.notice("  /Announce <text> - tell everyone online (operators)"))))

        var user = ChatSession()
        _ = user.receive(accepted(features: ["commands"]), attemptedName: "alice")
        #expect(!user.isOperator)
        #expect(!user.interpret("/Help", now: 5).contains(.show(.notice("Operator commands:"))))
        var plain = ChatSession()
        _ = plain.receive(accepted(features: nil), attemptedName: "alice")
        #expect(plain.interpret("/Kick bob", now: 5) == [.show(.notice("This server does not run commands: /Kick, /Ban, /Unban, /Bans and /Announce are not available."))])
    }

    @Test func commandsRunLocallyAgainstAPlainServer() {
        var session = ChatSession()
        _ = session.receive(accepted(features: nil), attemptedName: "alice")
        #expect(!session.serverRunsCommands)
        #expect(session.interpret("/name", now: 1) == [.show(.notice("You are logged in as alice."))])
        guard case .show(.notice(let blocked)) = session.interpret("/Block bob", now: 1).first else {
            Issue.record("no notice")
            return
        }
        #expect(blocked.contains("Blocked bob"))
        // bob's messages are now hidden; carol's still show.
        let frame = DecodedFrame(frame: Frame(messages: [
            ChatMessage(source: "bob", destination: "ALL", timestamp: 1, content: "hidden"),
            ChatMessage(source: "carol", destination: "ALL", timestamp: 2, content: "shown"),
        ]))
        #expect(session.receive(frame) == [.message(ChatMessage(source: "carol", destination: "ALL", timestamp: 2, content: "shown"))])
        #expect(session.interpret("@bob hi", now: 1) == [.show(.notice("You have blocked bob. Use /UnBlock bob first."))])
        #expect(session.interpret("/Blocked", now: 1) == [.show(.notice("You have blocked (1): bob"))])
        #expect(session.interpret("/unblock bob", now: 1) == [.show(.notice("Unblocked bob."))])
        #expect(session.interpret("/nope", now: 1) == [.show(.notice("Unknown command /nope. Type /Help for the list of commands."))])
    }

    @Test func presenceIsTrackedForLocalDisplayUsers() {
        var session = ChatSession()
        _ = session.receive(accepted(features: nil, users: ["alice"]), attemptedName: "alice")
        _ = session.receive(DecodedFrame(frame: Frame(usersJoined: ["bob", "carol"])))
        _ = session.receive(DecodedFrame(frame: Frame(usersLeft: ["bob"])))
        #expect(session.interpret("/DisplayUsers", now: 1) == [.show(.notice("Online now (2): alice, carol"))])
        #expect(session.interpret("/DisplayAllUsers", now: 1) == [.show(.notice("Everyone seen since you connected (3): alice, bob, carol"))])
    }

    @Test func doubleSlashIsLiteralForBothKindsOfServer() {
        var modern = ChatSession()
        _ = modern.receive(accepted(features: ["commands"]), attemptedName: "alice")
        // A server that runs commands removes one slash itself.
        #expect(modern.interpret("//shrug", now: 1) == [.send(Frame(messages: [ChatMessage(source: "alice", destination: "ALL", timestamp: 1, content: "//shrug")]))])
        var plain = ChatSession()
        _ = plain.receive(accepted(features: nil), attemptedName: "alice")
        #expect(plain.interpret("//shrug", now: 1) == [.send(Frame(messages: [ChatMessage(source: "alice", destination: "ALL", timestamp: 1, content: "/shrug")]))])
    }

    @Test func malformedFramesAreReported() {
        var session = ChatSession()
        let events = session.receive(DecodedFrame(frame: Frame(), problems: ["Frame is not valid JSON"]))
        #expect(events == [.protocolProblem("Frame is not valid JSON")])
    }
}
