import ChatStore
import Testing

/// The words both stores index and search: the ASCII fast path gives what the general one does.
@Suite struct SearchTextTests {
    @Test func wordsAreFoldedAndSplit() {
        #expect(SearchText.document("Hello, World-42! bob@example.com") == "hello world 42 bob example com")
        #expect(SearchText.document("Ünïcödé ÉCHO straße") == "unicode echo strasse")
        #expect(SearchText.document("私は日本語") == "私 は 日 本 語")
        #expect(SearchText.document("ｆｕｌｌ ＷＩＤＴＨ") == "full width")
        #expect(SearchText.document("  ...  ") == "")
        #expect(SearchText.document("nul \u{0} inside") == "nul inside")
    }

    @Test func theASCIIFastPathMatchesTheGeneralOne() {
        var random = SystemRandomNumberGenerator()
        let alphabet = Array("abcXYZ019 -_.,!?@#'\"\t\n")
        for _ in 0..<2_000 {
            let text = String((0..<Int.random(in: 0...40, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
            #expect(SearchText.document(text) == SearchText.words(in: text).joined(separator: " "), "\(text)")
        }
    }
}
