import ChatTerminal
import Testing

@Suite struct CompletionTests {
    let vocabulary = Completion.Vocabulary(
        commands: ["Help", "Quit", "Block", "Blocked", "UnBlock", "DisplayUsers"],
        users: ["bob", "Bobby", "carol", "dave"]
    )

    private func complete(_ text: String, cursor: Int? = nil) -> Completion? {
        let characters = Array(text)
        return Completion(characters: characters, cursor: cursor ?? characters.count, vocabulary: vocabulary)
    }

    @Test func aNameAtTheStartOfTheLineGetsAColon() throws {
        let completion = try #require(complete("ca"))
        #expect(completion.result.text == "carol: ")
        #expect(completion.result.cursor == 7)
    }

    @Test func aNameInsideTheLineGetsASpace() throws {
        #expect(try #require(complete("hi da")).result.text == "hi dave ")
    }

    @Test func namesAfterAnAtSign() throws {
        #expect(try #require(complete("@ca")).result.text == "@carol ")
        #expect(try #require(complete("ping @da")).result.text == "ping @dave ")
    }

    @Test func commandsIgnoreCaseAndTabCycles() throws {
        var completion = try #require(complete("/bl"))
        #expect(completion.candidates == ["/Block ", "/Blocked "])
        #expect(completion.result.text == "/Block ")
        completion.advance()
        #expect(completion.result.text == "/Blocked ")
        completion.advance()
        #expect(completion.result.text == "/Block ")
    }

    @Test func prefixesMatchWithoutRegardToCase() throws {
        let completion = try #require(complete("BO"))
        #expect(completion.candidates == ["bob: ", "Bobby: "])
    }

    @Test func aCommandArgumentCompletesAName() throws {
        #expect(try #require(complete("/block bo")).result.text == "/block bob ")
    }

    @Test func completionInTheMiddleKeepsTheRest() throws {
        let completion = try #require(complete("@ca hello", cursor: 3))
        #expect(completion.result.text == "@carol hello")
        #expect(completion.result.cursor == 6)
    }

    @Test func nothingMatches() {
        #expect(complete("zz") == nil)
        #expect(complete("") == nil)
        #expect(complete("hello ") == nil)
        // A slash later in the line is not a command.
        #expect(complete("see /bl") == nil)
    }
}
