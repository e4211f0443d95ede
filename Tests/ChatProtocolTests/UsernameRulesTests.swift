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

/// One spelling per name (PRECIS UsernameCaseMapped, RFC 8265) and no lookalikes (UTS #39).
@Suite struct UsernameNormalisationTests {
    let rules = UsernameRules(serverName: "Chatterbox")

    /// The key's bytes: Swift's `==` already treats NFC and NFD as equal, SQLite does not.
    private func bytes(_ name: String) -> [UInt8] { Array(UsernameRules.key(name).utf8) }

    @Test func everySpellingOfANameHasOneKey() {
        let composed = "jos\u{E9}", decomposed = "jose\u{301}"
        #expect(bytes(composed) == bytes(decomposed))
        #expect(bytes("JOS\u{C9}") == bytes(decomposed))
        #expect(bytes(composed) == Array("jos\u{E9}".utf8), "keys are NFC")
        // Fullwidth and halfwidth forms are their ordinary letters.
        #expect(bytes("\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}") == bytes("Alice"))
        #expect(bytes("\u{FF76}\u{FF9E}") == bytes("\u{30AC}"), "halfwidth ｶﾞ is ガ")
        #expect(bytes("\u{212B}ngstr\u{F6}m") == bytes("\u{E5}ngstr\u{F6}m"), "the Ångström sign is Å")
        #expect(bytes("Alice") != bytes("Alicia"))
    }

    @Test(arguments: [
        "山田たろう", "김민준", "Νίκος", "Сергей", "محمد", "नमस्ते", "Nguy\u{1EC5}n", "Nguye\u{302}\u{303}n", "สวัสดี",
        "བསྒྲུབས", "joe1", "O'Brien", "Zoë",
    ])
    func ordinaryNamesInEveryScriptAreAccepted(name: String) {
        #expect(rules.problem(with: name) == nil)
    }

    @Test(arguments: [
        "\u{3164}", "a\u{2800}b", "\u{115F}x", "x\u{FFA0}", "a\u{34F}b", "a\u{FE0F}b", "\u{301}abc",
        "a\u{300}\u{301}\u{302}\u{303}\u{304}", "a\u{301}\u{301}",
    ])
    func blankLookingCharactersAndPiledUpMarksAreRefused(name: String) {
        #expect(rules.problem(with: name) != nil)
    }

    @Test func namesThatLookLikeTheServerOrEveryoneAreRefused() {
        #expect(rules.problem(with: "\u{421}hatterbox")?.contains("looks like Chatterbox") == true, "Cyrillic С")
        #expect(rules.problem(with: "Chatterb0x")?.contains("looks like Chatterbox") == true)
        #expect(rules.problem(with: "\u{410}LL")?.contains("looks like ALL") == true, "Cyrillic А")
        #expect(rules.problem(with: "Chatterbot") == nil)
    }

    @Test func lookalikesAcrossScriptsAreToldApartFromOrdinaryOnes() {
        let cyrillicA = "\u{430}lice"
        #expect(UsernameLookalikes.skeleton(cyrillicA) == UsernameLookalikes.skeleton("alice"))
        #expect(UsernameLookalikes.scripts(of: cyrillicA) == [], "mixes Cyrillic and Latin")
        #expect(!UsernameLookalikes.mayCoexist(cyrillicA, with: "alice"))
        // All Cyrillic, looking like a Latin name: another script.
        #expect(UsernameLookalikes.skeleton("\u{430}\u{441}\u{435}") == UsernameLookalikes.skeleton("ace"))
        #expect(!UsernameLookalikes.mayCoexist("\u{430}\u{441}\u{435}", with: "ace"))
        // Lookalikes within one script are ordinary names.
        #expect(UsernameLookalikes.skeleton("joe1") == UsernameLookalikes.skeleton("joel"))
        #expect(UsernameLookalikes.mayCoexist("joe1", with: "joel"))
        // Japanese mixes Han, Hiragana and Katakana as one writing.
        #expect(UsernameLookalikes.scripts(of: "山田たろうカ")?.contains("Jpan") == true)
        #expect(UsernameLookalikes.scripts(of: "1234") == nil)
    }
}
