import CTerminalSupport
import Foundation

/// What the terminal reports besides drawing: keys, a new size, a request to stop.
enum TerminalInput: Sendable {
    case keys([Key])
    /// SIGWINCH: the terminal changed size.
    case resized
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT arrived.
    case terminate(Int32)
    /// Standard input ended (the terminal went away).
    case endOfInput
}

/// Reads the terminal's bytes on a thread of its own (a blocking read never holds up the chat)
/// and decodes them into keys; also turns the signals the C handlers write into a pipe into
/// input. Everything goes to `deliver`, in order.
final class KeyReader: Sendable {
    private let signalDescriptor: Int32
    private let terminfoKeys: [[UInt8]: Key]
    private let deliver: @Sendable (TerminalInput) -> Void
    private let finished = DispatchSemaphore(value: 0)
    /// How long an ESC may wait for the rest of its sequence before it counts as Escape.
    static let escapeDelayMilliseconds: Int32 = 30
    /// The byte that asks the reader to stop (signals are written as their numbers, never 0).
    static let stopByte: UInt8 = 0

    init(signalDescriptor: Int32, terminfoKeys: [[UInt8]: Key], deliver: @escaping @Sendable (TerminalInput) -> Void) {
        self.signalDescriptor = signalDescriptor
        self.terminfoKeys = terminfoKeys
        self.deliver = deliver
    }

    func start() {
        let thread = Thread { [self] in
            // This thread sleeps in poll: the natural one to take the signals.
            chatterbox_signal_unblock_here()
            read()
            finished.signal()
        }
        thread.name = "chatterbox-keys"
        thread.start()
    }

    /// Stops the thread and waits (briefly) until it has.
    func stop() {
        chatterbox_signal_pipe_poke(Self.stopByte)
        _ = finished.wait(timeout: .now() + 1)
    }

    private func read() {
        var decoder = KeyDecoder(terminfoKeys: terminfoKeys)
        var descriptors = [
            pollfd(fd: 0, events: Int16(POLLIN), revents: 0),
            pollfd(fd: signalDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let timeout = decoder.hasPending ? Self.escapeDelayMilliseconds : -1
            let ready = poll(&descriptors, 2, timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                deliver(.endOfInput)
                return
            }
            if ready == 0 {
                let keys = decoder.flushPendingEscape()
                if !keys.isEmpty { deliver(.keys(keys)) }
                continue
            }
            if descriptors[1].revents != 0 {
                let count = Foundation.read(signalDescriptor, &buffer, buffer.count)
                for byte in buffer.prefix(max(count, 0)) {
                    switch Int32(byte) {
                    case Int32(Self.stopByte): return
                    case SIGWINCH: deliver(.resized)
                    default: deliver(.terminate(Int32(byte)))
                    }
                }
            }
            if descriptors[0].revents != 0 {
                let count = Foundation.read(0, &buffer, buffer.count)
                if count < 0, errno == EINTR || errno == EAGAIN { continue }
                guard count > 0 else {
                    deliver(.endOfInput)
                    return
                }
                let keys = decoder.feed(buffer.prefix(count))
                if !keys.isEmpty { deliver(.keys(keys)) }
            }
        }
    }
}
