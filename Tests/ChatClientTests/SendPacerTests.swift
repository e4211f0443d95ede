@testable import ChatClient
import ChatProtocol
import Testing

/// The pacer's waits: the bucket's arithmetic, and no trap however often a server says to
/// slow down (a wait computed from a rate halved many times once overflowed and crashed).
@Suite struct SendPacerTests {
    private func item(_ text: String) -> SendPacer.Item {
        SendPacer.Item(line: text, frame: Frame(messages: []), wasQueued: false)
    }

    @Test func aBurstGoesAtOnceThenOneAtTheRate() {
        let start = ContinuousClock.now
        var pacer = SendPacer(now: start)
        pacer.reset(rate: 10, burst: 4, now: start)
        for index in 0..<5 { pacer.append(item("\(index)")) }
        // Three of the burst of four go at once (a quarter is kept in hand).
        #expect((0..<3).compactMap { _ in pacer.next(now: start) }.map(\.line) == ["0", "1", "2"])
        #expect(pacer.next(now: start) == nil)
        let wait = pacer.delay(now: start)!
        // At 9 a second (a tenth kept in hand): a ninth of a second.
        #expect(wait > .milliseconds(100) && wait <= .milliseconds(112))
        #expect(pacer.next(now: start + wait)?.line == "3")
    }

    @Test func slowingDownAgainAndAgainStaysABoundedWait() {
        let start = ContinuousClock.now
        var pacer = SendPacer(now: start)
        pacer.reset(rate: 10, burst: 1, now: start)
        pacer.append(item("a"))
        pacer.append(item("b"))
        #expect(pacer.next(now: start)?.line == "a")
        // 1,000 halvings leave a rate of about 1e-300: its wait in nanoseconds overflowed.
        for _ in 0..<1_000 { pacer.slowDown() }
        let wait = pacer.delay(now: start)
        #expect(wait != nil && wait! <= .seconds(SendPacer.longestWait))
        #expect(pacer.next(now: start + .seconds(SendPacer.longestWait))?.line == "b")
    }
}
