import ChatProtocol
import Testing

@Suite struct UsernameRulesTests {
    let rules = UsernameRules(serverName: "Chatterbox")

    @Test(arguments: ["a", "alice", "Zoë", "李雷", "user_1-2.3", String(repeating: "x", count: 32), "😀"])
    func acceptsReasonableNames(name: String) {
        #expect(rules.problem(with: name) == nil)
    }

    @Test(arguments: [
        "", String(repeating: "x", count: 33), "two words", "tab\there", "new\nline", "nul\u{0}",
        "bidi\u{202E}x", "zero\u{200B}width", "ALL", "all", "chatterbox", "CHATTERBOX", "@bob", "/cmd", "\u{7F}",
    ])
    func refusesInvalidNames(name: String) {
        #expect(rules.problem(with: name) != nil)
    }

    @Test func namesCompareCaseInsensitively() {
        #expect(UsernameRules.key("Alice") == UsernameRules.key("aLICE"))
        #expect(UsernameRules.key("Alice") != UsernameRules.key("Alicia"))
    }
}
