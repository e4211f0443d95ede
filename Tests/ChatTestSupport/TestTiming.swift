import Foundation

/// Scales the tests' bounded waits. Sanitizer runs are many times slower, so they set
/// `CHATTERBOX_TEST_TIME_SCALE` (e.g. 10); a normal run uses the waits as written.
public enum TestTiming {
    public static let scale: Int = {
        guard let text = ProcessInfo.processInfo.environment["CHATTERBOX_TEST_TIME_SCALE"], let value = Int(text), value > 0 else { return 1 }
        return value
    }()

    /// `duration` as this run should wait it.
    public static func scaled(_ duration: Duration) -> Duration {
        duration * scale
    }
}
