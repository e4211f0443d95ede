import ChatClient
import ChatProtocol
import Testing

@Suite struct InputParserTests {
    @Test func plainTextGoesToEveryone() {
        #expect(InputParser.parse("hello there") == .message(destination: "ALL", text: "hello there"))
        #expect(InputParser.parse("  indented") == .message(destination: "ALL", text: "  indented"))
    }

    @Test func atNameIsADirectMessage() {
        #expect(InputParser.parse("@bob hi there") == .message(destination: "bob", text: "hi there"))
        #expect(InputParser.parse("@bob   spaced") == .message(destination: "bob", text: "spaced"))
    }

    @Test func atNameNeedsText() {
        #expect(InputParser.parse("@bob") == .invalid("Type a message after @bob, for example: @bob hello"))
        #expect(InputParser.parse("@ hi") == .invalid("Usage: @username message"))
    }

    @Test func commandsAreCaseInsensitiveAndKeepTheirOperand() {
        #expect(InputParser.parse("/help") == .command(.help))
        #expect(InputParser.parse("/QUIT") == .command(.quit))
        #expect(InputParser.parse("/Block bob") == .command(.block("bob")))
        #expect(InputParser.parse("/unblock  @bob ") == .command(.unblock("@bob")))
        #expect(InputParser.parse("/displayallusers") == .command(.displayAllUsers))
        #expect(InputParser.parse("/dance") == .command(.unknown("dance")))
    }

    @Test func slashTextThatIsNotACommandIsText() {
        #expect(InputParser.parse("//not a command") == .message(destination: "ALL", text: "//not a command"))
        #expect(InputParser.parse("/ shrug") == .message(destination: "ALL", text: "/ shrug"))
        #expect(InputParser.parse("/123") == .message(destination: "ALL", text: "/123"))
    }

    @Test func blankLinesDoNothing() {
        #expect(InputParser.parse("") == .nothing)
        #expect(InputParser.parse("   ") == .nothing)
    }

    @Test func usernameOperandIsOneWordWithOptionalAt() {
        #expect(ChatCommand.username(in: "@bob") == "bob")
        #expect(ChatCommand.username(in: "bob") == "bob")
        #expect(ChatCommand.username(in: "two words") == nil)
        #expect(ChatCommand.username(in: nil) == nil)
        #expect(ChatCommand.username(in: "@") == nil)
    }
}
