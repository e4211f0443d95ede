import Foundation

/// Writes straight to the standard output file descriptor.
///
/// Not `print` + `fflush`: `fflush(NULL)` takes the lock of every stdio stream, including the
/// stdin stream that the input thread holds while it waits in `readLine`, so output would
/// stall until the user typed something.
enum Console {
    static func line(_ text: String) {
        write(text + "\n")
    }

    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
